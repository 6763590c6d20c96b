import { connect, type Socket } from 'node:net';
import { MessageFramer, MessageReader, MessageWriter } from './pg-wire.js';
import { SCRAM_MECHANISM, ScramClientExchange } from './scram.js';
import { SqlError } from './sql-error.js';

/**
 * A minimal PostgreSQL client (simple query protocol, text results, SCRAM-SHA-256) for the CLI to query a
 * running server's SQL endpoint; node-postgres is only a development dependency.
 */

export interface TextResult {
  columns: string[];
  /** Type OID per column. */
  types: number[];
  rows: (string | null)[][];
}

export interface PgClientOptions {
  host: string;
  port: number;
  user: string;
  database: string;
  password?: string;
  /** Give up connecting after this long (the server is probably not there). */
  connectTimeoutMs?: number;
}

/** Raised when nothing answers the PostgreSQL protocol at the address. */
export class EndpointUnreachable extends Error {
  override name = 'EndpointUnreachable';
}

/** Connects, runs `sql` (one or more statements), returns the last result that had columns, closes. */
export async function queryEndpoint(options: PgClientOptions, sql: string): Promise<TextResult> {
  const socket = await open(options);
  const conversation = new Conversation(socket);
  try {
    await conversation.startup(options);
    conversation.write((w) => w.begin('Q').cstring(sql).end());
    return await conversation.results();
  } finally {
    conversation.write((w) => w.begin('X').end());
    socket.end();
  }
}

function open(options: PgClientOptions): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(options.port, options.host);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new EndpointUnreachable(`no answer from ${options.host}:${options.port}`));
    }, options.connectTimeoutMs ?? 2000);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(new EndpointUnreachable(`cannot connect to ${options.host}:${options.port}: ${err.message}`));
    });
  });
}

class Conversation {
  private readonly framer = new MessageFramer(64 * 1024 * 1024, true);
  private readonly inbox: { type: string; body: Buffer }[] = [];
  private wake: (() => void) | null = null;
  private error: Error | null = null;

  constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.framer.push(chunk);
      for (let m = this.framer.next(); m !== null; m = this.framer.next()) {
        if (m.kind === 'message') this.inbox.push({ type: String.fromCharCode(m.type), body: m.body });
        else this.error = new Error('oversized message from the server');
      }
      this.wake?.();
    });
    const closed = (err?: Error) => {
      this.error ??= new EndpointUnreachable(err ? err.message : 'the server closed the connection');
      this.wake?.();
    };
    socket.on('close', () => closed());
    socket.on('error', closed);
  }

  write(build: (w: MessageWriter) => void): void {
    const w = new MessageWriter();
    build(w);
    if (!this.socket.destroyed) this.socket.write(w.take());
  }

  private async next(): Promise<{ type: string; body: Buffer }> {
    for (;;) {
      const m = this.inbox.shift();
      if (m !== undefined) return m;
      if (this.error !== null) throw this.error;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
  }

  async startup(options: PgClientOptions): Promise<void> {
    const body = new MessageWriter().int32(196608).cstring('user').cstring(options.user).cstring('database').cstring(options.database);
    body.cstring('application_name').cstring('genai-ledger query').int8(0);
    const bytes = body.take();
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length + 4);
    this.socket.write(Buffer.concat([length, bytes]));
    let scram: ScramClientExchange | null = null;
    for (;;) {
      const m = await this.next();
      if (m.type === 'E') throw backendError(m.body);
      if (m.type === 'Z') return;
      if (m.type !== 'R') continue;
      const r = new MessageReader(m.body);
      const code = r.int32();
      if (code === 0) continue;
      if (code === 10) {
        if (options.password === undefined) {
          throw new Error('the SQL endpoint asks for a password: set GENAI_LEDGER_SQL_PASSWORD (or PGPASSWORD)');
        }
        scram = new ScramClientExchange(options.password);
        const first = Buffer.from(scram.first());
        this.write((w) => w.begin('p').cstring(SCRAM_MECHANISM).int32(first.length).bytes(first).end());
      } else if (code === 11 && scram !== null) {
        const final = scram.final(r.bytes(r.remaining).toString('utf8'));
        this.write((w) => w.begin('p').bytes(Buffer.from(final)).end());
      } else if (code === 12 && scram !== null) {
        scram.verify(r.bytes(r.remaining).toString('utf8'));
      } else {
        throw new Error(`unsupported authentication request ${code}`);
      }
    }
  }

  async results(): Promise<TextResult> {
    let current: TextResult | null = null;
    let last: TextResult = { columns: [], types: [], rows: [] };
    let error: Error | null = null;
    for (;;) {
      const m = await this.next();
      switch (m.type) {
        case 'T': {
          const r = new MessageReader(m.body);
          current = { columns: [], types: [], rows: [] };
          for (let i = r.int16(); i > 0; i--) {
            current.columns.push(r.cstring());
            r.int32();
            r.int16();
            current.types.push(r.int32());
            r.int16();
            r.int32();
            r.int16();
          }
          break;
        }
        case 'D': {
          const r = new MessageReader(m.body);
          const row: (string | null)[] = [];
          for (let i = r.int16(); i > 0; i--) {
            const n = r.int32();
            row.push(n < 0 ? null : r.bytes(n).toString('utf8'));
          }
          current?.rows.push(row);
          break;
        }
        case 'C':
          if (current !== null) last = current;
          current = null;
          break;
        case 'E':
          error = backendError(m.body);
          break;
        case 'Z':
          if (error !== null) throw error;
          return last;
        default:
          break;
      }
    }
  }
}

function backendError(body: Buffer): SqlError {
  const fields: Record<string, string> = {};
  const r = new MessageReader(body);
  for (let code = r.byte(); code !== 0; code = r.byte()) fields[String.fromCharCode(code)] = r.cstring();
  return new SqlError(fields.C ?? 'XX000', fields.M ?? 'error', fields.H === undefined ? {} : { hint: fields.H });
}
