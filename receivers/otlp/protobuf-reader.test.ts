import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DecodeError } from './decode-error.js';
import { ProtobufReader } from './protobuf-reader.js';
import { ProtobufWriter } from './protobuf-writer.js';

const reader = (bytes: number[] | Uint8Array) => new ProtobufReader(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));

describe('ProtobufReader', () => {
  it('reads varints of every length, truncating uint32 and sign-extending int32', () => {
    assert.equal(reader([0x00]).uint32(), 0);
    assert.equal(reader([0x96, 0x01]).uint32(), 150);
    assert.equal(reader([0xff, 0xff, 0xff, 0xff, 0x0f]).uint32(), 0xffffffff);
    // -1 as int32 is sent as 10 bytes
    const minusOne = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    assert.equal(reader(minusOne).int32(), -1);
    const r = reader([...minusOne, 0x05]);
    assert.equal(r.uint32(), 0xffffffff);
    assert.equal(r.uint32(), 5);
  });

  it('reads int64 as number within 2^53 - 1 and bigint beyond, and uint64/bool/fixed/double', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), (v) => {
        const bytes = new ProtobufWriter().int64(v).finish();
        const got = reader(bytes).int64();
        const safe = v >= -BigInt(Number.MAX_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER);
        assert.deepEqual(got, safe ? Number(v) : v);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (v) => {
        const got = reader(new ProtobufWriter().uint64(v).finish()).uint64();
        assert.deepEqual(got, v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);
        assert.equal(reader(new ProtobufWriter().fixed64(v).finish()).fixed64(), v);
      }),
    );
    assert.equal(reader([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]).bool(), true);
    assert.equal(reader([0x00]).bool(), false);
    assert.equal(reader(new ProtobufWriter().fixed32(0xdeadbeef).finish()).fixed32(), 0xdeadbeef);
    assert.equal(reader(new ProtobufWriter().double(-1.5e-300).finish()).double(), -1.5e-300);
  });

  it('reads strings (ASCII fast path and UTF-8) and hex ids', () => {
    for (const s of ['', 'a', 'short', 'exactly-12ch', 'gen_ai.usage.input_tokens', 'größe', '日本語🚀', 'x'.repeat(1000)]) {
      const r = reader(new ProtobufWriter().string(s).finish());
      assert.equal(r.string(r.length), s);
    }
    const r = reader([0x03, 0x00, 0xab, 0xff]);
    assert.equal(r.hex(r.length), '00abff');
  });

  it('skips every wire type including nested groups, and stops at the right place', () => {
    const w = new ProtobufWriter();
    w.tag(1, 0).int64(-5n).tag(2, 1).fixed64(1n).tag(3, 2).string('abc').tag(4, 5).fixed32(9);
    w.tag(5, 3).tag(6, 3).tag(1, 0).uint32(1).tag(6, 4).tag(2, 2).string('in group').tag(5, 4);
    w.tag(15, 0).uint32(42);
    const r = reader(w.finish());
    for (let i = 0; i < 5; i++) r.skip(r.tag(), r.length);
    assert.equal(r.tag(), (15 << 3) | 0);
    assert.equal(r.uint32(), 42);
    assert.equal(r.pos, r.length);
  });

  it('throws DecodeError with the byte offset for malformed input', () => {
    const cases: [number[], RegExp, (r: ProtobufReader) => unknown][] = [
      [[0x80, 0x80], /truncated varint at byte 2/, (r) => r.uint32()],
      [[0x80], /truncated varint/, (r) => r.int64()],
      [[...new Array<number>(10).fill(0x80), 0x00], /varint longer than 10 bytes/, (r) => r.uint32()],
      [[...new Array<number>(10).fill(0x80), 0x00], /varint longer than 10 bytes/, (r) => r.int64()],
      [[1, 2, 3], /truncated fixed32 at byte 0/, (r) => r.fixed32()],
      [[1, 2, 3, 4, 5, 6, 7], /truncated fixed64/, (r) => r.fixed64()],
      [[1, 2, 3, 4, 5, 6, 7], /truncated double/, (r) => r.double()],
      [[0x05, 0x61], /length 5 exceeds the 1 bytes left/, (r) => r.string(r.length)],
      [[0x05, 0x61], /length 5 exceeds/, (r) => r.bytes(r.length)],
      [[0x02, 0x61, 0x61], /length 2 exceeds the 1 bytes left/, (r) => r.lenEnd(2)],
      [[0x80, 0x80, 0x80, 0x80, 0x10], /length prefix too large/, (r) => r.lenEnd(5)],
    ];
    for (const [bytes, pattern, read] of cases) {
      assert.throws(() => read(reader(bytes)), (e: unknown) => e instanceof DecodeError && pattern.test(e.message), String(pattern));
    }
  });
});

describe('ProtobufWriter', () => {
  it('writes nested messages whose length needs several bytes', () => {
    const w = new ProtobufWriter(8);
    const outer = w.tag(1, 2).fork();
    const inner = w.tag(2, 2).fork();
    w.tag(3, 2).string('y'.repeat(20_000));
    w.join(inner).join(outer);
    const r = reader(w.finish());
    assert.equal(r.tag(), 10);
    const end = r.lenEnd(r.length);
    assert.equal(end, r.length);
    assert.equal(r.tag(), 18);
    const innerEnd = r.lenEnd(end);
    assert.equal(r.tag(), 26);
    assert.equal(r.string(innerEnd), 'y'.repeat(20_000));
  });
});
