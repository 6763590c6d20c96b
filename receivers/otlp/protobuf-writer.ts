/**
 * A small protobuf wire-format writer: the counterpart of ProtobufReader, used for the (small) OTLP
 * responses and by the test/benchmark encoder. Nested messages are written with `fork()` / `join()`:
 * the body is written after a 5-byte gap for its length, then moved down if the length needs fewer bytes.
 */

const textEncoder = new TextEncoder();
const TWO_32 = 4294967296;

export class ProtobufWriter {
  private buf: Uint8Array;
  private view: DataView;
  pos = 0;

  constructor(initialCapacity = 256) {
    this.buf = new Uint8Array(initialCapacity);
    this.view = new DataView(this.buf.buffer);
  }

  private ensure(extra: number): void {
    const need = this.pos + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  tag(fieldNumber: number, wireType: number): this {
    return this.uint32(((fieldNumber << 3) | wireType) >>> 0);
  }

  /** An unsigned varint of a value in [0, 2^32). */
  uint32(value: number): this {
    this.ensure(5);
    let v = value >>> 0;
    while (v > 0x7f) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.pos++] = v;
    return this;
  }

  /** An int32 varint: negative values are sign-extended to 10 bytes, as protobuf requires. */
  int32(value: number): this {
    return value >= 0 ? this.uint32(value) : this.varint64(BigInt.asUintN(64, BigInt(value | 0)));
  }

  /** An int64 varint (two's complement for negatives). `value` must be an integer within int64. */
  int64(value: number | bigint): this {
    if (typeof value === 'number' && value >= 0 && value < TWO_32) return this.uint32(value);
    return this.varint64(BigInt.asUintN(64, BigInt(value)));
  }

  /** A uint64 varint. */
  uint64(value: number | bigint): this {
    if (typeof value === 'number' && value >= 0 && value < TWO_32) return this.uint32(value);
    return this.varint64(BigInt.asUintN(64, BigInt(value)));
  }

  private varint64(value: bigint): this {
    this.ensure(10);
    let v = value;
    while (v > 0x7fn) {
      this.buf[this.pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.pos++] = Number(v);
    return this;
  }

  bool(value: boolean): this {
    return this.uint32(value ? 1 : 0);
  }

  fixed32(value: number): this {
    this.ensure(4);
    this.view.setUint32(this.pos, value >>> 0, true);
    this.pos += 4;
    return this;
  }

  fixed64(value: bigint): this {
    this.ensure(8);
    this.view.setBigUint64(this.pos, BigInt.asUintN(64, value), true);
    this.pos += 8;
    return this;
  }

  double(value: number): this {
    this.ensure(8);
    this.view.setFloat64(this.pos, value, true);
    this.pos += 8;
    return this;
  }

  bytes(value: Uint8Array): this {
    this.uint32(value.length);
    this.ensure(value.length);
    this.buf.set(value, this.pos);
    this.pos += value.length;
    return this;
  }

  string(value: string): this {
    // Worst case 3 bytes per UTF-16 unit; encode in place after a 5-byte gap for the length.
    this.ensure(5 + value.length * 3);
    const start = this.fork();
    const { written } = textEncoder.encodeInto(value, this.buf.subarray(this.pos));
    this.pos += written;
    return this.join(start);
  }

  /** Starts a length-delimited value (after its tag); returns the marker to pass to join(). */
  fork(): number {
    this.ensure(5);
    this.pos += 5;
    return this.pos;
  }

  /** Ends the length-delimited value started by fork(): writes its length and closes the gap. */
  join(bodyStart: number): this {
    const len = this.pos - bodyStart;
    let lenSize = 1;
    for (let v = len >>> 7; v > 0; v >>>= 7) lenSize++;
    const lenStart = bodyStart - 5;
    const target = lenStart + lenSize;
    if (target !== bodyStart) this.buf.copyWithin(target, bodyStart, this.pos);
    let p = lenStart;
    let v = len;
    while (v > 0x7f) {
      this.buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[p] = v;
    this.pos = target + len;
    return this;
  }

  /** The bytes written so far (a copy trimmed to size). */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}
