import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import fc from 'fast-check';
import { KeyValueList, type AnyValue, type Span, type TraceRequest } from '../../core/otlp.js';
import { PipelineError } from '../../core/pipeline-errors.js';
import { decodeTraceRequestJson, quoteLongIntegers } from './decode-json.js';
import { decodeTraceRequestProtobuf, MAX_ANY_VALUE_DEPTH } from './decode-protobuf.js';
import { traceRequestArbitrary } from './testing/arbitraries.js';
import { encodeTraceRequestJson } from './testing/encode-json.js';
import { encodeTraceRequestProtobuf } from './testing/encode-protobuf.js';
import { makeGenAiTraceRequest } from './testing/genai-request.js';
import { expectedKeyValues, expectedSpan, makeExoticSpans, makeSdkSpans, SDK_RESOURCE_ATTRIBUTES } from './testing/sdk-spans.js';

const allSpans = (req: TraceRequest): Span[] => req.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));

function assertInvalid(input: string | Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => decodeTraceRequestJson(input),
    (err: unknown) => {
      assert.ok(err instanceof PipelineError, `expected PipelineError, got ${String(err)}`);
      assert.equal(err.kind, 'invalid');
      assert.match(err.message, pattern);
      return true;
    },
  );
}

/** A request with one span whose JSON we then edit by hand. */
function oneSpanJson(spanFields: Record<string, unknown>, spanCount = 1): string {
  const spans = [];
  for (let i = 0; i < spanCount; i++) {
    spans.push({ traceId: '0102030405060708090a0b0c0d0e0f10', spanId: `11121314151617${(i + 16).toString(16)}`, name: 'x', ...(i === spanCount - 1 ? spanFields : {}) });
  }
  return JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] });
}

const spanOf = (json: string): Span => allSpans(decodeTraceRequestJson(json)).at(-1)!;
const valueOf = (anyValue: unknown): AnyValue => spanOf(oneSpanJson({ attributes: [{ key: 'k', value: anyValue }] })).attributes[0]!.value;

describe('decodeTraceRequestJson: official serializer round trip', () => {
  it('decodes every field of SDK-recorded spans exactly (from bytes, as HTTP delivers it)', () => {
    const spans = makeSdkSpans();
    const bytes = JsonTraceSerializer.serializeRequest(spans);
    assert.ok(bytes);
    const decoded = decodeTraceRequestJson(bytes);
    const rs = decoded.resourceSpans[0]!;
    assert.deepEqual(rs.resource, { attributes: expectedKeyValues(SDK_RESOURCE_ATTRIBUTES), droppedAttributesCount: 0 });
    assert.deepEqual(
      rs.scopeSpans.map((ss) => [ss.scope.name, ss.scope.version, ss.schemaUrl]),
      [
        ['genai-ledger-test', '1.2.3', 'https://opentelemetry.io/schemas/1.37.0'],
        ['other-scope', '', ''],
      ],
    );
    const byId = new Map(allSpans(decoded).map((s) => [s.spanId, s]));
    assert.equal(byId.size, spans.length);
    for (const source of spans) assert.deepEqual(byId.get(source.spanContext().spanId), expectedSpan(source, 'json'), source.name);
  });

  it('decodes bytes (base64), kvlist, nested arrays and int64 beyond 2^53 sent as a bare number', () => {
    const spans = makeExoticSpans();
    const bytes = JsonTraceSerializer.serializeRequest(spans)!;
    // The JS serializer writes intValue as a JSON number: 2^53 and -(2^62) arrive as bare long integers.
    assert.match(new TextDecoder().decode(bytes), /"intValue":9007199254740992/);
    const decoded = decodeTraceRequestJson(bytes);
    assert.deepEqual(decoded.resourceSpans[0]!.scopeSpans[0]!.spans, spans.map((s) => expectedSpan(s, 'json')));
  });

  it('gives the same result as the protobuf decoder for the same spans (up to the serializer printing 2^60 inexactly)', () => {
    const spans = [...makeSdkSpans(), ...makeExoticSpans()];
    const fromProtobuf = decodeTraceRequestProtobuf(ProtobufTraceSerializer.serializeRequest(spans)!);
    // The JSON serializer prints unsafe integers with JSON.stringify (2^60 → "1152921504606847000").
    const printed = (v: AnyValue): AnyValue =>
      typeof v === 'bigint' ? BigInt(String(Number(v))) : Array.isArray(v) ? v.map(printed) : v instanceof KeyValueList ? new KeyValueList(v.values.map((kv) => ({ key: kv.key, value: printed(kv.value) }))) : v;
    for (const s of allSpans(fromProtobuf)) for (const kv of s.attributes) kv.value = printed(kv.value);
    assert.deepEqual(decodeTraceRequestJson(JsonTraceSerializer.serializeRequest(spans)!), fromProtobuf);
  });
});

describe('decodeTraceRequestJson: accepted variants', () => {
  const req = makeGenAiTraceRequest(6);
  const s0 = req.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
  s0.status = { code: 2, message: 'boom' };
  s0.links.push({ traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), traceState: 'a=b', attributes: [{ key: 'n', value: 2n ** 62n }], droppedAttributesCount: 1, flags: 0x300 });
  s0.attributes.push({ key: 'kv', value: new KeyValueList([{ key: 'bytes', value: new Uint8Array([0, 255, 7]) }, { key: 'neg', value: -(2n ** 63n) }]) });
  s0.attributes.push({ key: 'special', value: [NaN, Infinity, -Infinity, -0, 0.1] });

  const variants: [string, Parameters<typeof encodeTraceRequestJson>[1]][] = [
    ['spec form (camelCase, int64 strings, enum ints)', {}],
    ['snake_case keys', { snakeCase: true }],
    ['int64 as bare numbers, beyond 2^53', { int64AsNumbers: true }],
    ['enum names', { enumNames: true }],
    ['upper-case hex ids', { upperCaseIds: true }],
    ['everything at once', { snakeCase: true, int64AsNumbers: true, enumNames: true, upperCaseIds: true }],
  ];
  for (const [title, options] of variants) {
    it(title, () => {
      assert.deepEqual(decodeTraceRequestJson(encodeTraceRequestJson(req, options)), req);
    });
  }

  it('reads int64 timestamps sent as bare numbers to the nanosecond', () => {
    assert.equal(spanOf(oneSpanJson({ startTimeUnixNano: 0 }).replace('"startTimeUnixNano":0', '"startTimeUnixNano":1760000000123456789')).startTimeUnixNano, 1_760_000_000_123_456_789n);
    assert.equal(spanOf(oneSpanJson({ end_time_unix_nano: '18446744073709551615' })).endTimeUnixNano, 2n ** 64n - 1n);
  });

  it('accepts enum names leniently and enum integers', () => {
    assert.equal(spanOf(oneSpanJson({ kind: 'SPAN_KIND_SERVER' })).kind, 2);
    assert.equal(spanOf(oneSpanJson({ kind: 'client' })).kind, 3);
    assert.equal(spanOf(oneSpanJson({ kind: 5 })).kind, 5);
    assert.deepEqual(spanOf(oneSpanJson({ status: { code: 'STATUS_CODE_ERROR', message: 'x' } })).status, { code: 2, message: 'x' });
    assert.deepEqual(spanOf(oneSpanJson({ status: { code: 1 } })).status, { code: 1, message: '' });
  });

  it('decodes AnyValue forms: base64 (standard and URL-safe), int64 strings/numbers, doubles as strings, empty', () => {
    assert.deepEqual(valueOf({ bytesValue: 'AP8H' }), new Uint8Array([0, 255, 7]));
    assert.deepEqual(valueOf({ bytesValue: '-_8' }), new Uint8Array([251, 255]));
    assert.deepEqual(valueOf({ bytes_value: '' }), new Uint8Array(0));
    assert.equal(valueOf({ intValue: '-9223372036854775808' }), -(2n ** 63n));
    assert.equal(valueOf({ intValue: '9007199254740991' }), Number.MAX_SAFE_INTEGER);
    assert.equal(valueOf({ intValue: 42 }), 42);
    // Beyond int64 (the JS JSON serializer writes large integral doubles as intValue): kept as a double.
    assert.equal(valueOf({ intValue: '9223372036854775808' }), 2 ** 63);
    assert.equal(valueOf({ intValue: 1.7976931348623157e308 }), 1.7976931348623157e308);
    assert.equal(valueOf({ doubleValue: 'NaN' }), NaN);
    assert.equal(valueOf({ doubleValue: '-Infinity' }), -Infinity);
    assert.equal(valueOf({ doubleValue: '2.5' }), 2.5);
    assert.equal(valueOf({ doubleValue: 3 }), 3);
    assert.equal(valueOf({}), null);
    assert.equal(valueOf({ stringValue: null }), null);
    assert.equal(valueOf(undefined), null);
    assert.deepEqual(valueOf({ kvlistValue: {} }), new KeyValueList([]));
    assert.deepEqual(valueOf({ arrayValue: { values: [{ boolValue: false }, {}] } }), [false, null]);
  });

  it('ignores unknown keys and treats null as unset', () => {
    const s = spanOf(oneSpanJson({ futureField: { a: [1, 2] }, traceState: null, events: null, status: null, droppedLinksCount: null }));
    assert.equal(s.traceState, '');
    assert.deepEqual(s.events, []);
    assert.deepEqual(s.status, { code: 0, message: '' });
    const top = decodeTraceRequestJson('{"resourceSpans":[{"resource":null,"scopeSpans":[{"scope":null,"spans":[]}],"extra":1}],"x":[]}');
    assert.deepEqual(top.resourceSpans[0]!.resource, { attributes: [], droppedAttributesCount: 0 });
    assert.deepEqual(decodeTraceRequestJson('{}'), { resourceSpans: [] });
    assert.deepEqual(decodeTraceRequestJson(new TextEncoder().encode('\uFEFF{"resourceSpans":[]}')), { resourceSpans: [] });
  });

  it('maps an all-zero parentSpanId and an empty one to ""', () => {
    assert.equal(spanOf(oneSpanJson({ parentSpanId: '0000000000000000' })).parentSpanId, '');
    assert.equal(spanOf(oneSpanJson({ parentSpanId: '' })).parentSpanId, '');
  });
});

describe('decodeTraceRequestJson: rejected input names the path', () => {
  it('rejects malformed JSON and non-object roots', () => {
    assertInvalid('{"resourceSpans": [', /^invalid OTLP\/JSON: .*JSON/);
    assertInvalid('', /^invalid OTLP\/JSON/);
    assertInvalid('[]', /^invalid OTLP\/JSON: expected a JSON object at the top level$/);
    assertInvalid('null', /expected a JSON object/);
  });

  it('names the field and the span for wrong types', () => {
    assertInvalid(oneSpanJson({ startTimeUnixNano: 1.5 }, 4), /^invalid OTLP\/JSON: resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[3\]\.startTimeUnixNano: expected integer string, got number 1\.5$/);
    assertInvalid(oneSpanJson({ startTimeUnixNano: 'soon' }), /spans\[0\]\.startTimeUnixNano: expected integer string, got string "soon"/);
    assertInvalid(oneSpanJson({ startTimeUnixNano: '-1' }), /startTimeUnixNano: expected integer string/);
    assertInvalid(oneSpanJson({ endTimeUnixNano: '18446744073709551616' }), /endTimeUnixNano: expected integer string/);
    assertInvalid(oneSpanJson({ name: 5 }), /spans\[0\]\.name: expected string, got number 5/);
    assertInvalid(oneSpanJson({ kind: 'SPAN_KIND_SIDEWAYS' }), /spans\[0\]\.kind: expected SPAN_KIND_\* name or integer/);
    assertInvalid(oneSpanJson({ droppedAttributesCount: -1 }), /droppedAttributesCount: expected unsigned 32-bit integer/);
    assertInvalid(oneSpanJson({ attributes: {} }), /spans\[0\]\.attributes: expected array, got object/);
    assertInvalid(oneSpanJson({ attributes: [{ key: 'a', value: { intValue: '1.5' } }] }), /spans\[0\]\.attributes\[0\]\.value\.intValue: expected 64-bit integer string/);

    assertInvalid(oneSpanJson({ attributes: [{ key: 'a', value: 'bare' }] }), /attributes\[0\]\.value: expected an AnyValue object, got string "bare"/);
    assertInvalid(oneSpanJson({ attributes: [{ key: 'a', value: { bytesValue: 'not base64!' } }] }), /value\.bytesValue: expected base64 string/);
    assertInvalid(oneSpanJson({ attributes: [{ key: 'a', value: { boolValue: 'true' } }] }), /value\.boolValue: expected boolean/);
    assertInvalid(
      oneSpanJson({ attributes: [{ key: 'a', value: { arrayValue: { values: [{}, { kvlistValue: { values: [{ key: 1 }] } }] } } }] }),
      /attributes\[0\]\.value\.arrayValue\.values\[1\]\.kvlistValue\.values\[0\]\.key: expected string, got number 1/,
    );
    assertInvalid(oneSpanJson({ events: [{ timeUnixNano: true }] }), /spans\[0\]\.events\[0\]\.timeUnixNano: expected integer string, got boolean true/);
    assertInvalid(oneSpanJson({ status: { code: 'MAYBE' } }), /spans\[0\]\.status\.code: expected STATUS_CODE_\* name/);
  });

  it('decodes missing and all-zero ids (the pipeline rejects those spans one by one)', () => {
    const firstSpan = (json: string) => decodeTraceRequestJson(json).resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    assert.equal(firstSpan(oneSpanJson({ traceId: '' })).traceId, '');
    assert.equal(firstSpan(oneSpanJson({ traceId: '0'.repeat(32) })).traceId, '0'.repeat(32));
    assert.equal(firstSpan(oneSpanJson({ spanId: undefined })).spanId, '');
    assert.equal(firstSpan(oneSpanJson({ spanId: '0'.repeat(16) })).spanId, '0'.repeat(16));
  });

  it('validates ids like the protobuf decoder', () => {
    assertInvalid(oneSpanJson({ traceId: 'abc' }), /spans\[0\]\.traceId: expected 32 hex characters/);
    assertInvalid(oneSpanJson({ traceId: 'AQIDBAUGBwgJCgsMDQ4PEA==' }), /spans\[0\]\.traceId: expected 32 hex characters, got "AQIDBAUGBwgJCgsMDQ4PEA=="/);
    assertInvalid(oneSpanJson({ parentSpanId: 'abcd' }), /parentSpanId: expected 16 hex characters \(8 bytes\), got 4/);
    assertInvalid(oneSpanJson({ links: [{ traceId: 'ab'.repeat(16), spanId: 'zz'.repeat(8) }] }), /spans\[0\]\.links\[0\]\.spanId: expected 16 hex characters/);
    assertInvalid(oneSpanJson({ traceId: 5 }), /traceId: expected hex string, got number 5/);
  });

  it('rejects a deep-nesting attack cleanly and accepts nesting up to the limit', () => {
    let ok: unknown = { stringValue: 'leaf' };
    for (let i = 1; i < MAX_ANY_VALUE_DEPTH; i++) ok = { arrayValue: { values: [ok] } };
    assert.ok(Array.isArray(valueOf(ok)));
    assertInvalid(oneSpanJson({ attributes: [{ key: 'a', value: { arrayValue: { values: [ok] } } }] }), /AnyValue nested deeper than 64 levels/);
    const depth = 200_000;
    const attack = oneSpanJson({ attributes: [{ key: 'a', value: 'HOLE' }] }).replace('"HOLE"', '{"arrayValue":{"values":['.repeat(depth) + ']}}'.repeat(depth));
    assertInvalid(attack, /AnyValue nested deeper than 64 levels|invalid OTLP\/JSON/);
  });
});

describe('quoteLongIntegers', () => {
  it('quotes only integer literals of 16+ digits outside strings', () => {
    assert.equal(quoteLongIntegers('{"a":1234567890123456,"b":-12345678901234567,"c":123456789012345}'), '{"a":"1234567890123456","b":"-12345678901234567","c":123456789012345}');
    assert.equal(quoteLongIntegers('{"s":"x\\"1234567890123456\\\\","t":[1234567890123456.5,1e30]}'), '{"s":"x\\"1234567890123456\\\\","t":[1234567890123456.5,1e30]}');
    assert.equal(quoteLongIntegers('[12345678901234567890]'), '["12345678901234567890"]');
    assert.equal(quoteLongIntegers('"unterminated 12345678901234567'), '"unterminated 12345678901234567');
  });
});

describe('decodeTraceRequestJson: properties', () => {
  it('decodes arbitrary requests identically in every JSON variant and equal to protobuf', () => {
    fc.assert(
      fc.property(
        traceRequestArbitrary(),
        fc.record({ snakeCase: fc.boolean(), int64AsNumbers: fc.boolean(), enumNames: fc.boolean(), upperCaseIds: fc.boolean() }),
        (req, options) => {
          assert.deepEqual(decodeTraceRequestJson(encodeTraceRequestJson(req, { ...options })), req);
          assert.deepEqual(decodeTraceRequestProtobuf(encodeTraceRequestProtobuf(req)), req);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('never throws anything but PipelineError(invalid) on arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.json({ depthSize: 'medium' }), (text) => {
        try {
          decodeTraceRequestJson(text);
        } catch (err) {
          return err instanceof PipelineError && err.kind === 'invalid';
        }
        return true;
      }),
      { numRuns: 1000 },
    );
  });
});
