import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { spanIdKey, spliceSpanAttributes } from './splice-attributes.js';
import { encodeSpanAttributes } from './encode-trace-request.js';
import type { TypedAttribute } from './enrichment.js';
import { traceRequestArbitrary } from '../../receivers/otlp/testing/arbitraries.js';
import { encodeTraceRequestProtobuf } from '../../receivers/otlp/testing/encode-protobuf.js';
import { decodeTraceRequestProtobuf } from '../../receivers/otlp/decode-protobuf.js';
import type { AnyValue, TraceRequest } from '../../core/otlp.js';

const attribute: fc.Arbitrary<TypedAttribute> = fc.oneof(
  fc.record({ key: fc.string({ maxLength: 12 }), type: fc.constant('string' as const), value: fc.string({ maxLength: 300 }) }),
  fc.record({ key: fc.string({ maxLength: 12 }), type: fc.constant('bool' as const), value: fc.boolean() }),
  fc.record({ key: fc.string({ maxLength: 12 }), type: fc.constant('double' as const), value: fc.double({ noNaN: true }) }),
);

const asAnyValue = (a: TypedAttribute): AnyValue => a.value;

test('property: splicing attributes into the bytes = appending them to the decoded spans', () => {
  fc.assert(
    fc.property(traceRequestArbitrary(), fc.array(fc.array(attribute, { maxLength: 4 }), { maxLength: 12 }), (request, extras) => {
      const raw = encodeTraceRequestProtobuf(request);
      // Give the i-th span the i-th attribute list (spans beyond the lists get nothing).
      const spans = request.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
      const plan = new Map<string, TypedAttribute[]>();
      spans.forEach((s, i) => {
        const extra = extras[i];
        if (extra !== undefined && extra.length > 0 && !plan.has(`${s.traceId}/${s.spanId}`)) plan.set(`${s.traceId}/${s.spanId}`, extra);
      });
      const spliced = spliceSpanAttributes(raw, {
        keys: new Set([...plan.keys()].map((k) => spanIdKey(k.split('/')[1]!))),
        extra: (traceId, spanId) => {
          const extra = plan.get(`${traceId}/${spanId}`);
          return extra === undefined ? null : encodeSpanAttributes(extra);
        },
      });
      if (plan.size === 0) assert.equal(spliced, raw, 'nothing to add: the same bytes');
      const expected: TraceRequest = decodeTraceRequestProtobuf(raw);
      for (const rs of expected.resourceSpans) {
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) {
            const extra = plan.get(`${s.traceId}/${s.spanId}`);
            if (extra !== undefined) s.attributes.push(...extra.map((a) => ({ key: a.key, value: asAnyValue(a) })));
          }
        }
      }
      assert.deepEqual(decodeTraceRequestProtobuf(spliced), expected);
    }),
    { numRuns: 300 },
  );
});

test('a request that is not well-formed protobuf is refused, never half-spliced', () => {
  const raw = encodeTraceRequestProtobuf({
    resourceSpans: [{ resource: { attributes: [], droppedAttributesCount: 0 }, schemaUrl: '', scopeSpans: [] }],
  });
  assert.throws(() => spliceSpanAttributes(raw.subarray(0, raw.length - 1), { keys: new Set([0]), extra: () => null }));
});
