/**
 * PostgreSQL protocol v3 framing and message encoding (https://www.postgresql.org/docs/current/protocol-message-formats.html),
 * server side. Written here rather than taken from pg-gateway 0.2.4, whose connection buffers a whole
 * message of any declared length before looking at it (a 100 MB query text, or a 2 GB length before
 * authentication, would be held in memory), has no SCRAM-SHA-256, and answers a CancelRequest or a
 * GSSENCRequest as a malformed startup packet.
 */

/** Protocol codes sent in place of a startup packet's version. */
export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;
export const PROTOCOL_3_0 = 196608;

export type Framed =
  /** A whole message; `type` is 0 for the untyped startup-phase packets (startup, SSL, cancel). */
  | { kind: 'message'; type: number; body: Buffer }
  /** A message longer than the limit: its bytes are being discarded as they arrive, never held. */
  | { kind: 'oversized'; type: number; length: number };

/**
 * Splits a byte stream into messages. Holds at most one message of up to `limit` bytes (plus what arrived
 * after it); a longer message is reported as `oversized` as soon as its header is read, and its remaining
 * bytes are skipped as they arrive, so a client announcing or sending a huge message costs no memory.
 */
export class MessageFramer {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes of an oversized message still to discard. */
  private skipping = 0;

  constructor(
    /** Largest message accepted, header included. */
    public limit: number,
    /** Before the startup packet, messages have no type byte. */
    public typed = false,
  ) {}

  /** Bytes held, waiting to form a message. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): void {
    if (this.skipping > 0) {
      const skip = Math.min(this.skipping, chunk.length);
      this.skipping -= skip;
      chunk = chunk.subarray(skip);
    }
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** The next complete message, or null until more bytes arrive. */
  next(): Framed | null {
    const headerLength = this.typed ? 5 : 4;
    if (this.skipping > 0 || this.buffered < headerLength) return null;
    const header = this.peek(headerLength);
    const type = this.typed ? header[0]! : 0;
    const length = header.readUInt32BE(this.typed ? 1 : 0);
    // The length counts itself; a length under 4 cannot be a message.
    if (length < 4) return { kind: 'oversized', type, length: -1 };
    const total = length + (this.typed ? 1 : 0);
    if (total > this.limit) {
      const held = Math.min(this.buffered, total);
      this.consume(held);
      this.skipping = total - held;
      return { kind: 'oversized', type, length: total };
    }
    if (this.buffered < total) return null;
    const message = this.take(total);
    return { kind: 'message', type, body: message.subarray(headerLength) };
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length >= n) return this.chunks[0]!;
    this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!;
  }

  private take(n: number): Buffer {
    const first = this.peek(n);
    const out = first.subarray(0, n);
    this.consume(n);
    return out;
  }

  private consume(n: number): void {
    this.buffered -= n;
    while (n > 0) {
      const c = this.chunks[0]!;
      if (c.length <= n) {
        n -= c.length;
        this.chunks.shift();
      } else {
        this.chunks[0] = c.subarray(n);
        n = 0;
      }
    }
  }
}

/** Reads the fields of one message body; a read past its end is a protocol violation. */
export class MessageReader {
  private offset = 0;
  constructor(private readonly body: Buffer) {}

  get remaining(): number {
    return this.body.length - this.offset;
  }

  int16(): number {
    this.need(2);
    const v = this.body.readInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.body.readInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  byte(): number {
    this.need(1);
    return this.body[this.offset++]!;
  }

  bytes(n: number): Buffer {
    if (n < 0) throw new ProtocolViolation('negative length');
    this.need(n);
    const v = this.body.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }

  cstring(): string {
    const end = this.body.indexOf(0, this.offset);
    if (end < 0) throw new ProtocolViolation('unterminated string');
    const v = this.body.toString('utf8', this.offset, end);
    this.offset = end + 1;
    return v;
  }

  private need(n: number): void {
    if (this.offset + n > this.body.length) throw new ProtocolViolation('message shorter than its fields');
  }
}

export class ProtocolViolation extends Error {
  override name = 'ProtocolViolation';
}

/** Builds backend messages into one growing buffer; `take()` hands them out for a single socket write. */
export class MessageWriter {
  private buf = Buffer.allocUnsafe(16 * 1024);
  private length = 0;
  private start = -1;

  get size(): number {
    return this.length;
  }

  /** Starts a message of `type` (one ASCII letter); close it with `end()`. */
  begin(type: string): this {
    this.ensure(5);
    this.buf[this.length] = type.charCodeAt(0);
    this.start = this.length + 1;
    this.length += 5;
    return this;
  }

  end(): this {
    this.buf.writeUInt32BE(this.length - this.start, this.start);
    this.start = -1;
    return this;
  }

  int8(v: number): this {
    this.ensure(1);
    this.buf[this.length++] = v & 0xff;
    return this;
  }

  int16(v: number): this {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.length);
    this.length += 2;
    return this;
  }

  int32(v: number): this {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.length);
    this.length += 4;
    return this;
  }

  cstring(s: string): this {
    const n = Buffer.byteLength(s);
    this.ensure(n + 1);
    this.buf.write(s, this.length, 'utf8');
    this.length += n;
    this.buf[this.length++] = 0;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
    return this;
  }

  /** A length-prefixed field: -1 for NULL, else the UTF-8 bytes of `s`. */
  textField(s: string | null): this {
    if (s === null) return this.int32(-1);
    const n = Buffer.byteLength(s);
    this.ensure(n + 4);
    this.buf.writeInt32BE(n, this.length);
    this.buf.write(s, this.length + 4, 'utf8');
    this.length += n + 4;
    return this;
  }

  binaryField(b: Uint8Array | null): this {
    if (b === null) return this.int32(-1);
    this.int32(b.length);
    return this.bytes(b);
  }

  /** The bytes written so far (a copy-free view valid until the next write), and a fresh start. */
  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.length));
    this.length = 0;
    if (this.buf.length > 1024 * 1024) this.buf = Buffer.allocUnsafe(16 * 1024);
    return out;
  }

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
}

/** ErrorResponse / NoticeResponse field codes (protocol-error-fields). */
export interface ErrorFields {
  severity: 'ERROR' | 'FATAL' | 'NOTICE' | 'WARNING';
  code: string;
  message: string;
  detail?: string;
  hint?: string;
  position?: number;
}

export function writeError(w: MessageWriter, f: ErrorFields, type: 'E' | 'N' = 'E'): void {
  w.begin(type).int8('S'.charCodeAt(0)).cstring(f.severity).int8('V'.charCodeAt(0)).cstring(f.severity);
  w.int8('C'.charCodeAt(0)).cstring(f.code).int8('M'.charCodeAt(0)).cstring(f.message);
  if (f.detail !== undefined) w.int8('D'.charCodeAt(0)).cstring(f.detail);
  if (f.hint !== undefined) w.int8('H'.charCodeAt(0)).cstring(f.hint);
  if (f.position !== undefined) w.int8('P'.charCodeAt(0)).cstring(String(f.position));
  w.int8(0).end();
}

/** One column of a RowDescription. */
export interface FieldDescription {
  name: string;
  typeOid: number;
  typeSize: number;
  typeModifier: number;
  /** 0 text, 1 binary. */
  format: number;
}

export function writeRowDescription(w: MessageWriter, fields: readonly FieldDescription[]): void {
  w.begin('T').int16(fields.length);
  for (const f of fields) {
    w.cstring(f.name).int32(0).int16(0).int32(f.typeOid).int16(f.typeSize).int32(f.typeModifier).int16(f.format);
  }
  w.end();
}
