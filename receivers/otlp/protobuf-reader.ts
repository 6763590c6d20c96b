import { DecodeError } from './decode-error.js';
import { internedKey } from './key-interner.js';

/**
 * A small protobuf wire-format reader (https://protobuf.dev/programming-guides/encoding/), written for
 * the hot path of the OTLP receivers: one cursor over one buffer, no closures, no per-field allocation
 * beyond the decoded values themselves.
 *
 * Safety rules, so that hostile input can only ever produce a DecodeError:
 * - every read is bounds-checked; a length prefix is checked against the enclosing message's end
 *   *before* anything is sliced or allocated, so memory use is bounded by the input size;
 * - every loop advances the cursor, so decoding always terminates;
 * - group nesting (deprecated wire types 3/4, skipped as unknown fields) is limited to
 *   MAX_GROUP_DEPTH, so recursion depth is bounded.
 *
 * Message decoders follow one pattern: `while (r.pos < end) { const tag = r.tag(); switch (tag) {…}
 * default: r.skip(tag, end) }` then `r.expectEnd(end)`. Switching on the whole tag (field number and
 * wire type) means a known field arriving with an unexpected wire type is skipped as unknown, which is
 * what the reference protobuf implementations do.
 */

export const WireType = { VARINT: 0, I64: 1, LEN: 2, SGROUP: 3, EGROUP: 4, I32: 5 } as const;

/** Groups nested deeper than this are rejected rather than skipped. */
export const MAX_GROUP_DEPTH = 64;

/** `tag` for a field number and wire type, as it appears on the wire (when it fits in one varint). */
export const tagOf = (fieldNumber: number, wireType: number): number => ((fieldNumber << 3) | wireType) >>> 0;

const TWO_32 = 4294967296;
/** Largest high word for which `hi * 2^32 + lo` is still a safe integer (<= 2^53 - 1). */
const MAX_SAFE_HI = 0x1fffff;

/** Two lowercase hex digits for every byte value. */
const HEX_PAIRS: string[] = [];
for (let i = 0; i < 256; i++) HEX_PAIRS.push(i.toString(16).padStart(2, '0'));

interface NodeBufferLike {
  utf8Slice?(start: number, end: number): string;
  toString(encoding: 'utf8', start: number, end: number): string;
}

const textDecoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
const NodeBuffer: { from(ab: ArrayBufferLike, offset: number, length: number): NodeBufferLike } | undefined = (
  globalThis as { Buffer?: { from(ab: ArrayBufferLike, offset: number, length: number): NodeBufferLike } }
).Buffer;

export class ProtobufReader {
  readonly buf: Uint8Array;
  readonly view: DataView;
  /** Read position. */
  pos = 0;
  /** A zero-copy Node Buffer over `buf` for its native UTF-8 decoder (measurably faster than TextDecoder). */
  private readonly nodeBuf: NodeBufferLike | undefined;
  private readonly hasUtf8Slice: boolean;
  /** Scratch for 64-bit varints: low and high 32 bits of the last one read (unsigned). */
  private lo = 0;
  private hi = 0;

  constructor(buf: Uint8Array) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.nodeBuf = NodeBuffer?.from(buf.buffer, buf.byteOffset, buf.byteLength);
    this.hasUtf8Slice = typeof this.nodeBuf?.utf8Slice === 'function';
  }

  get length(): number {
    return this.buf.length;
  }

  fail(reason: string): never {
    throw new DecodeError(`${reason} at byte ${this.pos}`);
  }

  /** Reads a field tag; rejects field number 0 and the wire types that do not exist (6, 7). */
  tag(): number {
    const tag = this.uint32();
    if (tag >>> 3 === 0) this.fail(`invalid field number 0 (tag ${tag})`);
    return tag;
  }

  /**
   * A varint truncated to its low 32 bits, unsigned (uint32, enum, lengths, tags). Up to 10 bytes are
   * consumed, as a negative int32 is sent sign-extended to 64 bits.
   */
  uint32(): number {
    const b = this.buf;
    let p = this.pos;
    if (p + 10 > b.length) return this.uint32Checked();
    let c = b[p++]!;
    let v = c & 0x7f;
    if (c < 0x80) {
      this.pos = p;
      return v;
    }
    c = b[p++]!;
    v |= (c & 0x7f) << 7;
    if (c < 0x80) {
      this.pos = p;
      return v;
    }
    c = b[p++]!;
    v |= (c & 0x7f) << 14;
    if (c < 0x80) {
      this.pos = p;
      return v;
    }
    c = b[p++]!;
    v |= (c & 0x7f) << 21;
    if (c < 0x80) {
      this.pos = p;
      return v;
    }
    c = b[p++]!;
    v |= (c & 0x0f) << 28;
    if (c < 0x80) {
      this.pos = p;
      return v >>> 0;
    }
    // Bytes 6..10 only carry high bits we drop; they must still terminate.
    for (let i = 0; i < 5; i++) {
      if (b[p++]! < 0x80) {
        this.pos = p;
        return v >>> 0;
      }
    }
    return this.fail('varint longer than 10 bytes');
  }

  /** uint32() near the end of the buffer, checking every byte. */
  private uint32Checked(): number {
    const b = this.buf;
    let v = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= b.length) return this.fail('truncated varint');
      const c = b[this.pos++]!;
      if (i < 5) v |= (c & 0x7f) << (7 * i);
      if (c < 0x80) return v >>> 0;
    }
    return this.fail('varint longer than 10 bytes');
  }

  /** An int32 (two's complement in the low 32 bits). */
  int32(): number {
    return this.uint32() | 0;
  }

  /** Reads a 64-bit varint into this.lo / this.hi. */
  private varint64(): void {
    const b = this.buf;
    const n = b.length;
    let p = this.pos;
    let lo = 0;
    let hi = 0;
    let c = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (p >= n) this.truncated(p);
      c = b[p++]!;
      lo |= (c & 0x7f) << shift;
      if (c < 0x80) return this.set64(p, lo, 0);
    }
    if (p >= n) this.truncated(p);
    c = b[p++]!;
    lo |= (c & 0x0f) << 28;
    hi = (c & 0x7f) >> 4;
    if (c < 0x80) return this.set64(p, lo, hi);
    for (let shift = 3; shift < 32; shift += 7) {
      if (p >= n) this.truncated(p);
      c = b[p++]!;
      hi |= (c & 0x7f) << shift;
      if (c < 0x80) return this.set64(p, lo, hi);
    }
    this.pos = p;
    this.fail('varint longer than 10 bytes');
  }

  private set64(p: number, lo: number, hi: number): void {
    this.pos = p;
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
  }

  private truncated(p: number): never {
    this.pos = p;
    return this.fail('truncated varint');
  }

  /** A signed int64 varint: a number when |v| <= 2^53 - 1, else a bigint. */
  int64(): number | bigint {
    this.varint64();
    const lo = this.lo;
    const hi = this.hi;
    if (hi <= MAX_SAFE_HI) return hi * TWO_32 + lo;
    if (hi >= 0x80000000) {
      // Negative: magnitude is the two's complement.
      let mlo = (~lo + 1) >>> 0;
      let mhi = ~hi >>> 0;
      if (mlo === 0) mhi = (mhi + 1) >>> 0;
      if (mhi <= MAX_SAFE_HI) return -(mhi * TWO_32 + mlo);
    }
    return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
  }

  /** An unsigned uint64 varint: a number when v <= 2^53 - 1, else a bigint. */
  uint64(): number | bigint {
    this.varint64();
    if (this.hi <= MAX_SAFE_HI) return this.hi * TWO_32 + this.lo;
    return (BigInt(this.hi) << 32n) | BigInt(this.lo);
  }

  /** A bool varint (any non-zero value is true, as in the reference implementations). */
  bool(): boolean {
    this.varint64();
    return (this.lo | this.hi) !== 0;
  }

  fixed32(): number {
    const p = this.pos;
    if (p + 4 > this.buf.length) this.fail('truncated fixed32');
    this.pos = p + 4;
    return this.view.getUint32(p, true);
  }

  fixed64(): bigint {
    const p = this.pos;
    if (p + 8 > this.buf.length) this.fail('truncated fixed64');
    this.pos = p + 8;
    return this.view.getBigUint64(p, true);
  }

  double(): number {
    const p = this.pos;
    if (p + 8 > this.buf.length) this.fail('truncated double');
    this.pos = p + 8;
    return this.view.getFloat64(p, true);
  }

  /**
   * Reads a length prefix and returns where the length-delimited value ends, after checking that it
   * lies within `limit` (the enclosing message's end). Nothing is allocated before this check.
   */
  lenEnd(limit: number): number {
    const start = this.pos;
    // Fast path: most lengths fit in one byte.
    const first = start < this.buf.length ? this.buf[start]! : 0x80;
    if (first < 0x80 && start + 1 + first <= limit) {
      this.pos = start + 1;
      return start + 1 + first;
    }
    const len = this.uint32Length();
    const end = this.pos + len;
    if (end > limit) {
      const left = limit - this.pos;
      this.pos = start;
      this.fail(`length ${len} exceeds the ${left} bytes left in the enclosing message`);
    }
    return end;
  }

  /** A length prefix: a varint that must fit in 31 bits (anything larger cannot be in a JS buffer). */
  private uint32Length(): number {
    const start = this.pos;
    this.varint64();
    if (this.hi !== 0 || this.lo > 0x7fffffff) {
      this.pos = start;
      this.fail('length prefix too large');
    }
    return this.lo;
  }

  /** A length-delimited UTF-8 string; invalid sequences become U+FFFD (lossy, never an error). */
  string(limit: number): string {
    const end = this.lenEnd(limit);
    const start = this.pos;
    this.pos = end;
    return this.utf8(start, end);
  }

  /** A length-delimited string that is likely to repeat (an attribute key): shared via key-interner.ts. */
  key(limit: number): string {
    const end = this.lenEnd(limit);
    const start = this.pos;
    this.pos = end;
    // Keys of up to 8 bytes are built in JS by utf8() about as cheaply as they are looked up.
    return (end - start > 8 ? internedKey(this.buf, start, end) : undefined) ?? this.utf8(start, end);
  }

  /** UTF-8 text of buf[start, end). */
  utf8(start: number, end: number): string {
    const n = end - start;
    if (n === 0) return '';
    const b = this.buf;
    if (n <= 8) {
      // Short ASCII (most attribute keys and enum-like values): cheaper than a native call.
      let s = '';
      for (let i = start; i < end; i++) {
        const c = b[i]!;
        if (c >= 0x80) return this.utf8Slow(start, end);
        s += String.fromCharCode(c);
      }
      return s;
    }
    return this.utf8Slow(start, end);
  }

  private utf8Slow(start: number, end: number): string {
    if (this.hasUtf8Slice) return this.nodeBuf!.utf8Slice!(start, end);
    if (this.nodeBuf !== undefined) return this.nodeBuf.toString('utf8', start, end);
    return textDecoder.decode(this.buf.subarray(start, end));
  }

  /** A length-delimited bytes value, copied (so it does not pin the whole request buffer). */
  bytes(limit: number): Uint8Array {
    const end = this.lenEnd(limit);
    // Not buf.slice(): on a Node Buffer that returns a view, not a copy.
    const out = new Uint8Array(end - this.pos);
    out.set(this.buf.subarray(this.pos, end));
    this.pos = end;
    return out;
  }

  /**
   * Reads a length-delimited id and returns it as lowercase hex, or '' when empty. The caller checks the
   * length (it knows which field this is); this only reads.
   */
  hex(limit: number): string {
    const end = this.lenEnd(limit);
    const b = this.buf;
    let s = '';
    for (let i = this.pos; i < end; i++) s += HEX_PAIRS[b[i]!]!;
    this.pos = end;
    return s;
  }

  /** Skips the value of an unknown field with the given tag. */
  skip(tag: number, limit: number, depth = 0): void {
    switch (tag & 7) {
      case WireType.VARINT: {
        const b = this.buf;
        for (let i = 0; i < 10; i++) {
          if (this.pos >= b.length) this.fail('truncated varint');
          if (b[this.pos++]! < 0x80) return;
        }
        this.fail('varint longer than 10 bytes');
        return;
      }
      case WireType.I64:
        if (this.pos + 8 > limit) this.fail('truncated fixed64');
        this.pos += 8;
        return;
      case WireType.LEN:
        this.pos = this.lenEnd(limit);
        return;
      case WireType.SGROUP:
        this.skipGroup(tag >>> 3, limit, depth + 1);
        return;
      case WireType.EGROUP:
        this.fail(`unexpected end-group for field ${tag >>> 3}`);
        return;
      case WireType.I32:
        if (this.pos + 4 > limit) this.fail('truncated fixed32');
        this.pos += 4;
        return;
      default:
        this.fail(`invalid wire type ${tag & 7} for field ${tag >>> 3}`);
    }
  }

  /** Skips a (deprecated) group up to and including its matching end-group tag. */
  private skipGroup(fieldNumber: number, limit: number, depth: number): void {
    if (depth > MAX_GROUP_DEPTH) this.fail(`groups nested deeper than ${MAX_GROUP_DEPTH}`);
    for (;;) {
      if (this.pos >= limit) this.fail(`unterminated group for field ${fieldNumber}`);
      const tag = this.tag();
      if ((tag & 7) === WireType.EGROUP) {
        if (tag >>> 3 !== fieldNumber) this.fail(`end-group for field ${tag >>> 3} inside group ${fieldNumber}`);
        return;
      }
      this.skip(tag, limit, depth);
    }
  }

  /** After a message's fields: the last field must end exactly at the message boundary. */
  expectEnd(end: number): void {
    if (this.pos !== end) {
      const overrun = this.pos - end;
      this.pos = end;
      this.fail(`last field overruns the message end by ${overrun} bytes`);
    }
  }
}
