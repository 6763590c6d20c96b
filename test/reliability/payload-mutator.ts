import { gzipSync } from 'node:zlib';

/**
 * Byte- and structure-level mutations of real OTLP payloads for the fuzz test. Deterministic from a seed
 * (xorshift32), so a failure names the seed and payload number that reproduce it.
 */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0 || 1;
  }
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state / 2 ** 32;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

export interface FuzzPayload {
  kind: string;
  body: Uint8Array;
  contentType: 'application/x-protobuf' | 'application/json';
  contentEncoding?: 'gzip';
}

const PROTOBUF = 'application/x-protobuf' as const;
const JSON_TYPE = 'application/json' as const;

/** Byte mutations that apply to any payload. */
function mutateBytes(rng: Rng, input: Uint8Array): { kind: string; bytes: Uint8Array } {
  const bytes = Buffer.from(input);
  switch (rng.int(7)) {
    case 0:
      return { kind: 'truncated', bytes: bytes.subarray(0, rng.int(bytes.length)) };
    case 1: {
      const flips = 1 + rng.int(8);
      for (let i = 0; i < flips; i++) bytes[rng.int(bytes.length)]! ^= 1 << rng.int(8);
      return { kind: 'bit-flipped', bytes };
    }
    case 2: {
      const at = rng.int(bytes.length);
      const noise = Buffer.from(Array.from({ length: 1 + rng.int(16) }, () => rng.int(256)));
      return { kind: 'bytes-inserted', bytes: Buffer.concat([bytes.subarray(0, at), noise, bytes.subarray(at)]) };
    }
    case 3: {
      const at = rng.int(bytes.length);
      return { kind: 'bytes-deleted', bytes: Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1 + rng.int(16))]) };
    }
    case 4: {
      const a = rng.int(bytes.length);
      const b = rng.int(bytes.length);
      return { kind: 'chunk-duplicated', bytes: Buffer.concat([bytes.subarray(0, b), bytes.subarray(Math.min(a, b), Math.max(a, b)), bytes.subarray(b)]) };
    }
    case 5: {
      // A length prefix claiming far more than there is (protobuf) / a stray byte set (JSON).
      const at = rng.int(bytes.length);
      bytes[at] = rng.pick([0xff, 0x80, 0x7f, 0x00, 0x22, 0x7b, 0x5b, 0x5c]);
      return { kind: 'byte-set', bytes };
    }
    default:
      return { kind: 'random-bytes', bytes: Buffer.from(Array.from({ length: rng.int(512) }, () => rng.int(256))) };
  }
}

const WRONG_VALUES: unknown[] = [null, true, false, 0, -1, 1.5, 1e308, -1e308, '', 'x', '-1', '1e999', '0x10', [], {}, [null], { a: 1 }, 'ZZZZ', '\u0000', 'A'.repeat(300)];

/** Replaces random nodes of a JSON document with values of the wrong type. */
function wrongTypes(rng: Rng, doc: unknown, replacements: number): unknown {
  const copy = JSON.parse(JSON.stringify(doc)) as unknown;
  for (let n = 0; n < replacements; n++) {
    // Walk down a random path, then replace the node there.
    let parent: Record<string, unknown> | unknown[] | null = null;
    let key: string | number = '';
    let node: unknown = copy;
    for (let depth = 0; depth < 12 && typeof node === 'object' && node !== null; depth++) {
      const keys: (string | number)[] = Array.isArray(node) ? node.map((_, i) => i) : Object.keys(node);
      if (keys.length === 0 || (depth > 0 && rng.next() < 0.2)) break;
      parent = node as Record<string, unknown>;
      key = rng.pick(keys);
      node = (node as Record<string | number, unknown>)[key];
    }
    if (parent !== null) (parent as Record<string | number, unknown>)[key] = structuredClone(rng.pick(WRONG_VALUES));
  }
  return copy;
}

/** `depth` nested AnyValue array_values in protobuf, built from the inside out (no recursion). */
function deepProtobufAnyValue(depth: number): Uint8Array {
  let inner: Buffer = Buffer.from([0x0a, 0x01, 0x78]); // AnyValue{string_value: "x"}
  const varint = varintOf;
  for (let i = 0; i < depth; i++) {
    const arrayValue = Buffer.concat([Buffer.from([0x0a]), varint(inner.length), inner]); // ArrayValue{values: inner}
    inner = Buffer.concat([Buffer.from([0x2a]), varint(arrayValue.length), arrayValue]); // AnyValue{array_value}
  }
  return inner;
}

/** A span attribute holding `value` (raw AnyValue bytes), wrapped up to a whole request. */
function protobufRequestWithAttributeValue(anyValue: Uint8Array): Uint8Array {
  const varint = varintOf;
  const field = (tag: number, body: Uint8Array) => Buffer.concat([Buffer.from([tag]), varint(body.length), body]);
  const keyValue = Buffer.concat([field(0x0a, Buffer.from('deep')), field(0x12, anyValue)]);
  const span = Buffer.concat([field(0x0a, Buffer.alloc(16, 1)), field(0x12, Buffer.alloc(8, 2)), field(0x2a, Buffer.from('s')), field(0x4a, keyValue)]);
  return field(0x0a, field(0x12, field(0x12, span)));
}

/** One hostile payload derived from the valid seeds. */
export function fuzzPayload(rng: Rng, seeds: { protobuf: Uint8Array[]; json: string[] }): FuzzPayload {
  const choice = rng.int(100);
  if (choice < 35) {
    const { kind, bytes } = mutateBytes(rng, rng.pick(seeds.protobuf));
    return { kind: `protobuf/${kind}`, body: bytes, contentType: PROTOBUF };
  }
  if (choice < 55) {
    const { kind, bytes } = mutateBytes(rng, Buffer.from(rng.pick(seeds.json)));
    return { kind: `json/${kind}`, body: bytes, contentType: JSON_TYPE };
  }
  if (choice < 75) {
    const doc = JSON.parse(rng.pick(seeds.json)) as unknown;
    return { kind: 'json/wrong-types', body: Buffer.from(JSON.stringify(wrongTypes(rng, doc, 1 + rng.int(4)))), contentType: JSON_TYPE };
  }
  if (choice < 88) {
    // gzip: a mutated body compressed, or a valid body whose compressed bytes are damaged.
    const json = rng.next() < 0.5;
    const plain = json ? Buffer.from(rng.pick(seeds.json)) : rng.pick(seeds.protobuf);
    const contentType = json ? JSON_TYPE : PROTOBUF;
    if (rng.next() < 0.5) {
      return { kind: 'gzip/of-mutated', body: gzipSync(mutateBytes(rng, plain).bytes), contentType, contentEncoding: 'gzip' };
    }
    const { kind, bytes } = mutateBytes(rng, gzipSync(plain));
    return { kind: `gzip/${kind}`, body: bytes, contentType, contentEncoding: 'gzip' };
  }
  if (choice < 92) {
    const depth = rng.pick([100, 1000, 20_000]);
    return rng.next() < 0.5
      ? { kind: 'protobuf/deep-nesting', body: protobufRequestWithAttributeValue(deepProtobufAnyValue(depth)), contentType: PROTOBUF }
      : {
          kind: 'json/deep-nesting',
          body: Buffer.from(`{"resourceSpans":${'['.repeat(depth)}${']'.repeat(depth)}}`),
          contentType: JSON_TYPE,
        };
  }
  if (choice < 98) {
    // Huge attribute values: a 256 KiB string (accepted and truncated) or a body past the size limit (413).
    const size = rng.pick([256 * 1024, 3 * 1024 * 1024]);
    return { kind: `protobuf/huge-attribute-${size}`, body: hugeAttributeRequest(size), contentType: PROTOBUF };
  }
  // A gzip bomb: small on the wire, far beyond the limit once inflated.
  GZIP_BOMB ??= gzipSync(Buffer.alloc(8 * 1024 * 1024, 0x0a));
  return { kind: 'gzip/bomb', body: GZIP_BOMB, contentType: PROTOBUF, contentEncoding: 'gzip' };
}

let GZIP_BOMB: Uint8Array | undefined;
const HUGE = new Map<number, Uint8Array>();
function hugeAttributeRequest(size: number): Uint8Array {
  let body = HUGE.get(size);
  if (body === undefined) {
    body = protobufRequestWithAttributeValue(Buffer.concat([Buffer.from([0x0a]), varintOf(size), Buffer.alloc(size, 0x41)]));
    HUGE.set(size, body);
  }
  return body;
}

function varintOf(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}
