import { connect, type Socket } from 'node:net';
import { MessageFramer, MessageReader, MessageWriter } from '../../src/sql-endpoint/pg-wire.js';

/** A backend message as received: its type letter and body. */
export interface Received {
  type: string;
  body: Buffer;
}

/**
 * A PostgreSQL client at the message level, for what drivers do not expose: Describe without Execute,
 * Execute with a row limit across commits, hand-made oversized messages.
 */
export class RawPgClient {
  private readonly framer = new MessageFramer(64 * 1024 * 1024, true);
  private readonly inbox: Received[] = [];
  private waiter: (() => void) | null = null;
  private ended = false;
  pid = 0;
  secretKey = 0;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.framer.push(chunk);
      for (let m = this.framer.next(); m !== null; m = this.framer.next()) {
        if (m.kind === 'message') this.inbox.push({ type: String.fromCharCode(m.type), body: m.body });
      }
      this.waiter?.();
    });
    socket.on('close', () => {
      this.ended = true;
      this.waiter?.();
    });
    socket.on('error', () => undefined);
  }

  /** Connects and completes the startup (no password), up to the first ReadyForQuery. */
  static async connect(port: number, params: Record<string, string> = { user: 'raw', database: 'ledger' }): Promise<RawPgClient> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const client = new RawPgClient(socket);
    const body = new MessageWriter();
    body.int32(196608);
    for (const [k, v] of Object.entries(params)) body.cstring(k).cstring(v);
    body.int8(0);
    const b = body.take();
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length + 4);
    socket.write(Buffer.concat([len, b]));
    for (const m of await client.until('Z')) {
      if (m.type === 'K') {
        const r = new MessageReader(m.body);
        client.pid = r.int32();
        client.secretKey = r.int32();
      }
      if (m.type === 'E') throw new Error(`startup failed: ${errorFields(m.body).M}`);
    }
    return client;
  }

  /** Sends messages built with `build` (one write). */
  send(build: (w: MessageWriter) => void): void {
    const w = new MessageWriter();
    build(w);
    this.socket.write(w.take());
  }

  /** Messages received until (and including) one of type `type`. */
  async until(type: string): Promise<Received[]> {
    const out: Received[] = [];
    for (;;) {
      while (this.inbox.length > 0) {
        const m = this.inbox.shift()!;
        out.push(m);
        if (m.type === type) return out;
      }
      if (this.ended) throw new Error(`connection closed before '${type}'; got ${out.map((m) => m.type).join('')}`);
      await new Promise<void>((resolve) => (this.waiter = resolve));
      this.waiter = null;
    }
  }

  query(sql: string): Promise<Received[]> {
    this.send((w) => w.begin('Q').cstring(sql).end());
    return this.until('Z');
  }

  close(): void {
    this.send((w) => w.begin('X').end());
    this.socket.end();
  }
}

/** The fields of an ErrorResponse/NoticeResponse body by code letter (C = SQLSTATE, M = message). */
export function errorFields(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  const r = new MessageReader(body);
  for (let code = r.byte(); code !== 0; code = r.byte()) out[String.fromCharCode(code)] = r.cstring();
  return out;
}

/** Column names and type OIDs of a RowDescription body. */
export function rowDescription(body: Buffer): { name: string; oid: number }[] {
  const r = new MessageReader(body);
  return Array.from({ length: r.int16() }, () => {
    const name = r.cstring();
    r.int32();
    r.int16();
    const oid = r.int32();
    r.int16();
    r.int32();
    r.int16();
    return { name, oid };
  });
}

/** Text values of a DataRow body (null for NULL). */
export function dataRow(body: Buffer): (string | null)[] {
  const r = new MessageReader(body);
  return Array.from({ length: r.int16() }, () => {
    const n = r.int32();
    return n < 0 ? null : r.bytes(n).toString('utf8');
  });
}
