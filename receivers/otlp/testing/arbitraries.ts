import fc from 'fast-check';
import { KeyValueList, type AnyValue, type Span, type TraceRequest } from '../../../core/otlp.js';

/** fast-check arbitraries for the decoded model, in canonical form (exactly what a decoder returns). */

/** fc.record, but with plain objects (fast-check builds them without a prototype). */
function record<T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> {
  return fc.record(model).map((o) => ({ ...o }) as T);
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Arbitrary AnyValue trees in the model's canonical form (what the decoder produces). */
export function anyValueArbitrary(): fc.Arbitrary<AnyValue> {
  const { value } = fc.letrec<{ value: AnyValue; kv: { key: string; value: AnyValue } }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constant(null),
      fc.string({ unit: 'grapheme', maxLength: 20 }),
      fc.boolean(),
      fc.maxSafeInteger(),
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).filter((b) => b > MAX_SAFE || b < -MAX_SAFE),
      fc.double(),
      fc.uint8Array({ maxLength: 10 }),
      fc.array(tie('value'), { maxLength: 4 }),
      fc.array(tie('kv'), { maxLength: 4 }).map((values) => new KeyValueList(values as { key: string; value: AnyValue }[])),
    ) as fc.Arbitrary<AnyValue>,
    kv: record({ key: fc.string({ maxLength: 10 }), value: tie('value') as fc.Arbitrary<AnyValue> }),
  }));
  return value;
}

const hexArbitrary = (bytes: number) =>
  fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => Buffer.from(b).toString('hex'));
const nonZeroHex = (bytes: number) => hexArbitrary(bytes).filter((h) => /[^0]/.test(h));

export function spanArbitrary(): fc.Arbitrary<Span> {
  const kvs = fc.array(record({ key: fc.string({ maxLength: 8 }), value: anyValueArbitrary() }), { maxLength: 3 });
  const u32 = fc.nat({ max: 0xffffffff });
  return record({
    traceId: nonZeroHex(16),
    spanId: nonZeroHex(8),
    traceState: fc.string({ maxLength: 10 }),
    parentSpanId: fc.oneof(fc.constant(''), nonZeroHex(8)),
    flags: u32,
    name: fc.string({ unit: 'grapheme', maxLength: 20 }),
    kind: fc.integer({ min: -2, max: 7 }),
    startTimeUnixNano: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    endTimeUnixNano: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    attributes: kvs,
    droppedAttributesCount: u32,
    events: fc.array(
      record({ timeUnixNano: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), name: fc.string({ maxLength: 8 }), attributes: kvs, droppedAttributesCount: u32 }),
      { maxLength: 2 },
    ),
    droppedEventsCount: u32,
    links: fc.array(
      record({ traceId: hexArbitrary(16), spanId: hexArbitrary(8), traceState: fc.string({ maxLength: 8 }), attributes: kvs, droppedAttributesCount: u32, flags: u32 }),
      { maxLength: 2 },
    ),
    droppedLinksCount: u32,
    status: record({ code: fc.integer({ min: -1, max: 3 }), message: fc.string({ maxLength: 10 }) }),
  });
}

/** A TraceRequest with 1-2 resources, each with 1-2 scopes of arbitrary spans. */
export function traceRequestArbitrary(): fc.Arbitrary<TraceRequest> {
  const kvs = fc.array(record({ key: fc.string({ maxLength: 8 }), value: anyValueArbitrary() }), { maxLength: 3 });
  const u32 = fc.nat({ max: 0xffffffff });
  const scopeSpans = record({
    scope: record({ name: fc.string({ maxLength: 8 }), version: fc.string({ maxLength: 8 }), attributes: kvs, droppedAttributesCount: u32 }),
    spans: fc.array(spanArbitrary(), { maxLength: 3 }),
    schemaUrl: fc.string({ maxLength: 8 }),
  });
  const resourceSpans = record({
    resource: record({ attributes: kvs, droppedAttributesCount: u32 }),
    scopeSpans: fc.array(scopeSpans, { maxLength: 2 }),
    schemaUrl: fc.string({ maxLength: 8 }),
  });
  return record({ resourceSpans: fc.array(resourceSpans, { maxLength: 2 }) });
}
