import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import fc from 'fast-check';
import { countSpans, type Span, type TraceRequest } from '../../core/otlp.js';
import { testSpan } from '../../core/testing/test-span.js';
import { decodeTraceRequestProtobuf } from '../../receivers/otlp/decode-protobuf.js';
import { ProtobufReader } from '../../receivers/otlp/protobuf-reader.js';
import { traceRequestArbitrary } from '../../receivers/otlp/testing/arbitraries.js';
import { makeGenAiTraceRequest } from '../../receivers/otlp/testing/genai-request.js';
import { makeExoticSpans, makeSdkSpans } from '../../receivers/otlp/testing/sdk-spans.js';
import { encodeTraceRequest } from './encode-trace-request.js';
import { enrichmentAttributes, type SpanEnrichment } from './enrichment.js';

/** The request without scopes and resources that hold no spans (the encoder leaves those out). */
function withoutEmpty(req: TraceRequest): TraceRequest {
  return {
    resourceSpans: req.resourceSpans
      .map((rs) => ({ ...rs, scopeSpans: rs.scopeSpans.filter((ss) => ss.spans.length > 0) }))
      .filter((rs) => rs.scopeSpans.length > 0),
  };
}

/** All parts decoded and put back together: resources/scopes split across parts are merged again. */
function decodeParts(parts: { bytes: Uint8Array }[]): TraceRequest {
  const out: TraceRequest = { resourceSpans: [] };
  for (const part of parts) {
    for (const rs of decodeTraceRequestProtobuf(part.bytes).resourceSpans) {
      const lastRs = out.resourceSpans.at(-1);
      if (lastRs !== undefined && sameExcept(lastRs, rs, 'scopeSpans')) {
        for (const ss of rs.scopeSpans) {
          const lastSs = lastRs.scopeSpans.at(-1);
          if (lastSs !== undefined && sameExcept(lastSs, ss, 'spans')) lastSs.spans.push(...ss.spans);
          else lastRs.scopeSpans.push(ss);
        }
      } else {
        out.resourceSpans.push(rs);
      }
    }
  }
  return out;
}

function sameExcept<T extends object>(a: T, b: T, key: keyof T): boolean {
  try {
    assert.deepEqual({ ...a, [key]: null }, { ...b, [key]: null });
    return true;
  } catch {
    return false;
  }
}

const official = (spans: Parameters<typeof ProtobufTraceSerializer.serializeRequest>[0]): Uint8Array => {
  const bytes = ProtobufTraceSerializer.serializeRequest(spans);
  assert.ok(bytes);
  return bytes;
};

describe('encodeTraceRequest: lossless against the official serializer', () => {
  for (const [name, make] of [
    ['SDK-recorded spans (events, links, trace state, dropped counts, status, remote flags)', makeSdkSpans],
    ['hand-built spans (bytes, kvlist, nested arrays, nulls, int64 beyond 2^53, scope attributes)', makeExoticSpans],
  ] as const) {
    it(`re-encodes ${name} so that they decode to exactly what the official encoding decodes to`, () => {
      const received = decodeTraceRequestProtobuf(official(make()));
      const parts = encodeTraceRequest(received);
      assert.equal(parts.length, 1);
      assert.equal(parts[0]!.spans, countSpans(received));
      assert.deepEqual(decodeTraceRequestProtobuf(parts[0]!.bytes), received);
    });
  }

  it('keeps doubles, -0, NaN, infinities, int64 extremes, empty values and strings around the 128-byte boundary', () => {
    const values = [0.5, -0, NaN, Infinity, -Infinity, 1e300, 2 ** 60 + 0.0, -(2n ** 63n), 2n ** 63n - 1n, 0, '', new Uint8Array(0), [], null, 'a'.repeat(127), 'b'.repeat(128), 'é', '日本語 🚀', `x${'y'.repeat(126)}é`];
    const req: TraceRequest = {
      resourceSpans: [
        {
          resource: { attributes: [], droppedAttributesCount: 0 },
          scopeSpans: [
            {
              scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 },
              spans: [testSpan({ attributes: values.map((value, i) => ({ key: `k${i}`, value })) })],
              schemaUrl: '',
            },
          ],
          schemaUrl: '',
        },
      ],
    };
    const decoded = decodeTraceRequestProtobuf(encodeTraceRequest(req)[0]!.bytes);
    assert.deepEqual(decoded, req);
  });
});

describe('encodeTraceRequest: properties', () => {
  it('decode(encode(x)) equals x for arbitrary requests (empty scopes/resources left out)', () => {
    fc.assert(
      fc.property(traceRequestArbitrary(), (req) => {
        const parts = encodeTraceRequest(req);
        assert.ok(parts.length <= 1);
        assert.deepEqual(parts.length === 0 ? { resourceSpans: [] } : decodeTraceRequestProtobuf(parts[0]!.bytes), withoutEmpty(req));
      }),
      { numRuns: 300 },
    );
  });

  it('splitting at any size limit loses, doubles and reorders nothing, and only a lone span exceeds the limit', () => {
    fc.assert(
      fc.property(traceRequestArbitrary(), fc.integer({ min: 1, max: 3000 }), (req, limit) => {
        const parts = encodeTraceRequest(req, { maxRequestBytes: limit });
        for (const part of parts) {
          assert.ok(part.spans > 0);
          assert.equal(countSpans(decodeTraceRequestProtobuf(part.bytes)), part.spans);
          if (part.spans > 1) assert.ok(part.bytes.length <= limit, `${part.bytes.length} > ${limit} with ${part.spans} spans`);
        }
        assert.deepEqual(decodeParts(parts), mergeAdjacent(withoutEmpty(req)));
      }),
      { numRuns: 300 },
    );
  });

  it('splits a large GenAI request into parts under the limit', () => {
    const req = makeGenAiTraceRequest(2000);
    const whole = encodeTraceRequest(req)[0]!.bytes.length;
    const parts = encodeTraceRequest(req, { maxRequestBytes: 64 * 1024 });
    assert.ok(parts.length >= Math.ceil(whole / (64 * 1024)));
    assert.ok(parts.every((p) => p.bytes.length <= 64 * 1024));
    assert.equal(parts.reduce((n, p) => n + p.spans, 0), 2000);
    assert.deepEqual(decodeParts(parts), req);
  });
});

/** What decodeParts gives for a request that was never split: adjacent equal resources/scopes merged. */
function mergeAdjacent(req: TraceRequest): TraceRequest {
  return decodeParts(req.resourceSpans.length === 0 ? [] : [{ bytes: encodeTraceRequest(req)[0]!.bytes }]);
}

describe('encodeTraceRequest: enrichment and filtering', () => {
  const enrichment: SpanEnrichment = {
    costUsd: 2,
    teamId: 'payments',
    costCenter: 'CC-100',
    projectId: null,
    attributionStatus: 'attributed',
    billed: false,
    priceSnapshot: 'genai-prices@0.1.8+sha256:abcd',
  };
  const genai = testSpan({ spanId: '00000000000000a1', attributes: [{ key: 'gen_ai.operation.name', value: 'chat' }] });
  const plain = testSpan({ spanId: '00000000000000b2', attributes: [{ key: 'http.route', value: '/x' }] });
  const req = (resources: Span[][]): TraceRequest => ({
    resourceSpans: resources.map((spans, i) => ({
      resource: { attributes: [{ key: 'service.name', value: `svc-${i}` }], droppedAttributesCount: 0 },
      scopeSpans: [{ scope: { name: 's', version: '', attributes: [], droppedAttributesCount: 0 }, spans, schemaUrl: '' }],
      schemaUrl: '',
    })),
  });
  const enrich = (span: Span) => (span.spanId === genai.spanId ? enrichmentAttributes(enrichment) : null);

  it('appends the contract attributes after the span’s own, leaving out null fields, on GenAI spans only', () => {
    const [part] = encodeTraceRequest(req([[plain, genai]]), { extraAttributes: enrich });
    const spans = decodeTraceRequestProtobuf(part!.bytes).resourceSpans[0]!.scopeSpans[0]!.spans;
    assert.deepEqual(spans[0], plain);
    assert.deepEqual(spans[1]!.attributes, [
      { key: 'gen_ai.operation.name', value: 'chat' },
      { key: 'genai_ledger.cost_usd', value: 2 },
      { key: 'genai_ledger.team_id', value: 'payments' },
      { key: 'genai_ledger.cost_center', value: 'CC-100' },
      { key: 'genai_ledger.attribution_status', value: 'attributed' },
      { key: 'genai_ledger.billed', value: false },
      { key: 'genai_ledger.price_snapshot', value: 'genai-prices@0.1.8+sha256:abcd' },
    ]);
    assert.deepEqual({ ...spans[1], attributes: [] }, { ...genai, attributes: [] });
  });

  it('sends cost_usd as an OTLP double even when the amount is a whole number', () => {
    const [part] = encodeTraceRequest(req([[genai]]), { extraAttributes: enrich });
    assert.deepEqual(anyValueFieldsOf(part!.bytes, 'genai_ledger.cost_usd'), [4]); // double_value
    assert.deepEqual(anyValueFieldsOf(part!.bytes, 'genai_ledger.billed'), [2]); // bool_value
  });

  it('with onlyExtended forwards GenAI spans only and leaves out resources and scopes left empty', () => {
    const parts = encodeTraceRequest(req([[plain], [plain, genai], []]), { extraAttributes: enrich, onlyExtended: true });
    assert.equal(parts.length, 1);
    assert.equal(parts[0]!.spans, 1);
    const decoded = decodeTraceRequestProtobuf(parts[0]!.bytes);
    assert.equal(decoded.resourceSpans.length, 1);
    assert.deepEqual(decoded.resourceSpans[0]!.resource.attributes, [{ key: 'service.name', value: 'svc-1' }]);
    assert.deepEqual(decoded.resourceSpans[0]!.scopeSpans[0]!.spans.map((s) => s.spanId), [genai.spanId]);
    assert.deepEqual(encodeTraceRequest(req([[plain]]), { extraAttributes: enrich, onlyExtended: true }), []);
  });
});

/**
 * The AnyValue field numbers used for attribute `key` on any span, read from the wire (the model cannot
 * tell an integral double from an int).
 */
function anyValueFieldsOf(bytes: Uint8Array, key: string): number[] {
  const found: number[] = [];
  const messages = (r: ProtobufReader, end: number, onField: (field: number, r: ProtobufReader, end: number) => boolean) => {
    while (r.pos < end) {
      const tag = r.tag();
      if ((tag & 7) === 2 && onField(tag >>> 3, r, end)) continue;
      r.skip(tag, end);
    }
  };
  const r = new ProtobufReader(bytes);
  const into = (want: number, next: (end: number) => void) => (field: number, rr: ProtobufReader, end: number) => {
    if (field !== want) return false;
    const e = rr.lenEnd(end);
    next(e);
    rr.pos = e;
    return true;
  };
  messages(r, bytes.length, into(1, (e1) => messages(r, e1, into(2, (e2) => messages(r, e2, into(2, (e3) => messages(r, e3, into(9, (e4) => {
    let k = '';
    messages(r, e4, (field, rr, end) => {
      if (field === 1) {
        k = rr.string(end);
        return true;
      }
      if (field === 2 && k === key) {
        const e5 = rr.lenEnd(end);
        while (rr.pos < e5) {
          const tag = rr.tag();
          found.push(tag >>> 3);
          rr.skip(tag, e5);
        }
        return true;
      }
      return false;
    });
  }))))))));
  return found;
}
