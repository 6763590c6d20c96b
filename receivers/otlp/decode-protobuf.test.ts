import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import fc from 'fast-check';
import { KeyValueList, type AnyValue, type Span, type TraceRequest } from '../../core/otlp.js';
import { PipelineError } from '../../core/pipeline-errors.js';
import { decodeTraceRequestProtobuf, MAX_ANY_VALUE_DEPTH } from './decode-protobuf.js';
import { ProtobufWriter } from './protobuf-writer.js';
import { encodeTraceRequestProtobuf } from './testing/encode-protobuf.js';
import { anyValueArbitrary, spanArbitrary } from './testing/arbitraries.js';
import { makeGenAiTraceRequest } from './testing/genai-request.js';
import {
  expectedKeyValues,
  expectedSpan,
  makeExoticSpans,
  makeSdkSpans,
  SDK_RESOURCE_ATTRIBUTES,
} from './testing/sdk-spans.js';

const allSpans = (req: TraceRequest): Span[] => req.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));

function serialize(spans: Parameters<typeof ProtobufTraceSerializer.serializeRequest>[0]): Uint8Array {
  const bytes = ProtobufTraceSerializer.serializeRequest(spans);
  assert.ok(bytes);
  return bytes;
}

/** Asserts that decoding throws PipelineError('invalid') whose message matches `pattern`. */
function assertInvalid(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => decodeTraceRequestProtobuf(bytes),
    (err: unknown) => {
      assert.ok(err instanceof PipelineError, `expected PipelineError, got ${String(err)}`);
      assert.equal(err.kind, 'invalid');
      assert.match(err.message, pattern);
      return true;
    },
  );
}

/** A minimal valid span. */
function span(overrides: Partial<Span> = {}): Span {
  return {
    traceId: '0102030405060708090a0b0c0d0e0f10',
    spanId: '1112131415161718',
    traceState: '',
    parentSpanId: '',
    flags: 0,
    name: 's',
    kind: 0,
    startTimeUnixNano: 0n,
    endTimeUnixNano: 0n,
    attributes: [],
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { code: 0, message: '' },
    ...overrides,
  };
}

function request(spans: Span[]): TraceRequest {
  return {
    resourceSpans: [
      {
        resource: { attributes: [], droppedAttributesCount: 0 },
        scopeSpans: [{ scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 }, spans, schemaUrl: '' }],
        schemaUrl: '',
      },
    ],
  };
}

const withAttribute = (value: AnyValue): TraceRequest => request([span({ attributes: [{ key: 'k', value }] })]);

describe('decodeTraceRequestProtobuf: official serializer round trip', () => {
  it('decodes every field of SDK-recorded spans exactly', () => {
    const spans = makeSdkSpans();
    const decoded = decodeTraceRequestProtobuf(serialize(spans));

    assert.equal(decoded.resourceSpans.length, 1);
    const rs = decoded.resourceSpans[0]!;
    assert.deepEqual(rs.resource, { attributes: expectedKeyValues(SDK_RESOURCE_ATTRIBUTES), droppedAttributesCount: 0 });
    const scopes = rs.scopeSpans.map((ss) => [ss.scope.name, ss.scope.version, ss.schemaUrl]);
    assert.deepEqual(scopes, [
      ['genai-ledger-test', '1.2.3', 'https://opentelemetry.io/schemas/1.37.0'],
      ['other-scope', '', ''],
    ]);

    const byId = new Map(allSpans(decoded).map((s) => [s.spanId, s]));
    assert.equal(byId.size, spans.length);
    for (const source of spans) assert.deepEqual(byId.get(source.spanContext().spanId), expectedSpan(source), source.name);

    // The limits really produced dropped counts, events, links, trace state and remote flags.
    const chat = allSpans(decoded).find((s) => s.name === 'chat gpt-4o-mini')!;
    assert.equal(chat.droppedAttributesCount, 2);
    assert.equal(chat.droppedEventsCount, 1);
    assert.equal(chat.droppedLinksCount, 1);
    assert.equal(chat.events[0]!.droppedAttributesCount, 1);
    assert.equal(chat.links[0]!.traceState, 'k=v');
    assert.equal(chat.status.code, 2);
    assert.equal(chat.endTimeUnixNano, 1_760_000_001_999_999_999n);
    assert.deepEqual(chat.attributes.find((a) => a.key === 'test.big')?.value, 2n ** 60n);
    const root = allSpans(decoded).find((s) => s.name === 'POST /v1/chat')!;
    assert.equal(root.parentSpanId, 'b7ad6b7169203331');
    assert.equal(root.traceState, 'vendor=abc,other=x-y');
    assert.equal(root.flags, 0x301);
  });

  it('decodes bytes, kvlist, nested arrays, nulls and int64 beyond 2^53 from hand-built ReadableSpans', () => {
    const spans = makeExoticSpans();
    const decoded = decodeTraceRequestProtobuf(serialize(spans));
    const ss = decoded.resourceSpans[0]!.scopeSpans[0]!;
    assert.deepEqual(ss.scope, {
      name: 'exotic-scope',
      version: '',
      attributes: [
        { key: 'scope.attr', value: 'yes' },
        { key: 'scope.n', value: 7 },
      ],
      droppedAttributesCount: 0,
    });
    assert.deepEqual(ss.spans, spans.map((s) => expectedSpan(s)));
    const attrs = new Map(ss.spans[0]!.attributes.map((a) => [a.key, a.value]));
    assert.ok(attrs.get('map.value') instanceof KeyValueList);
    assert.ok(attrs.get('bytes.value') instanceof Uint8Array);
    assert.equal(attrs.get('int.2^53'), 2n ** 53n);
    assert.equal(attrs.get('int.-2^62'), -(2n ** 62n));
    assert.equal(attrs.get('int.max_safe'), Number.MAX_SAFE_INTEGER);
    assert.equal(ss.spans[0]!.endTimeUnixNano, 4_000_000_000_999_999_999n);
  });
});

describe('decodeTraceRequestProtobuf: wire format', () => {
  it('decodes an empty request (0 bytes) to zero resourceSpans', () => {
    assert.deepEqual(decodeTraceRequestProtobuf(new Uint8Array(0)), { resourceSpans: [] });
  });

  it('fills proto3 defaults for missing messages and fields', () => {
    const w = new ProtobufWriter();
    const rs = w.tag(1, 2).fork();
    const ss = w.tag(2, 2).fork();
    const sp = w.tag(2, 2).fork();
    w.tag(1, 2).bytes(new Uint8Array(16).fill(1));
    w.tag(2, 2).bytes(new Uint8Array(8).fill(2));
    w.join(sp).join(ss).join(rs);
    const decoded = decodeTraceRequestProtobuf(w.finish());
    assert.deepEqual(decoded, request([span({ traceId: '01'.repeat(16), spanId: '02'.repeat(8), name: '' })]));
  });

  it('ignores unknown fields of every wire type at every message level', () => {
    const req = makeGenAiTraceRequest(3);
    const s0 = req.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    s0.links.push({ traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), traceState: 'a=b', attributes: [{ key: 'l', value: 1 }], droppedAttributesCount: 3, flags: 0x100 });
    s0.status = { code: 2, message: 'boom' };
    s0.attributes.push({ key: 'kv', value: new KeyValueList([{ key: 'inner', value: [1, 'two', null] }]) });
    req.resourceSpans[0]!.scopeSpans[0]!.scope.attributes.push({ key: 'scope', value: true });
    const messages = new Set<string>();
    const noisy = encodeTraceRequestProtobuf(req, {
      unknownFields: (w, message) => {
        messages.add(message);
        w.tag(1000, 0).int64(-1n); // varint, 10 bytes
        w.tag(1001, 1).fixed64(0xdeadbeefn); // I64
        w.tag(1002, 2).string('unknown'); // LEN
        w.tag(1003, 3); // SGROUP with nested content and a nested group
        w.tag(1, 0).uint32(5).tag(2, 2).string('x').tag(7, 3).tag(1, 5).fixed32(1).tag(7, 4);
        w.tag(1003, 4); // EGROUP
        w.tag(1004, 5).fixed32(7); // I32
        w.tag(536870911, 0).uint32(1); // the largest field number
      },
    });
    for (const m of ['ExportTraceServiceRequest', 'ResourceSpans', 'Resource', 'ScopeSpans', 'InstrumentationScope', 'Span', 'Span.Event', 'Span.Link', 'Status', 'KeyValue', 'AnyValue', 'ArrayValue', 'KeyValueList']) {
      assert.ok(messages.has(m), `unknown fields written into ${m}`);
    }
    assert.ok(noisy.length > encodeTraceRequestProtobuf(req).length);
    assert.deepEqual(decodeTraceRequestProtobuf(noisy), req);
  });

  it('skips a known field sent with an unexpected wire type, as protobuf does', () => {
    const w = new ProtobufWriter();
    const rs = w.tag(1, 2).fork();
    const ss = w.tag(2, 2).fork();
    const sp = w.tag(2, 2).fork();
    w.tag(1, 2).bytes(new Uint8Array(16).fill(1));
    w.tag(2, 2).bytes(new Uint8Array(8).fill(2));
    w.tag(5, 0).uint32(7); // name as a varint
    w.tag(7, 0).uint32(9); // start time as a varint
    w.join(sp).join(ss).join(rs);
    const s = allSpans(decodeTraceRequestProtobuf(w.finish()))[0]!;
    assert.equal(s.name, '');
    assert.equal(s.startTimeUnixNano, 0n);
  });

  it('merges a repeated resource message and lets the last scalar win', () => {
    const w = new ProtobufWriter();
    const rs = w.tag(1, 2).fork();
    let resource = w.tag(1, 2).fork();
    const kv1 = w.tag(1, 2).fork();
    w.tag(1, 2).string('a');
    const v1 = w.tag(2, 2).fork();
    w.tag(1, 2).string('1');
    w.join(v1).join(kv1);
    w.tag(2, 0).uint32(5);
    w.join(resource);
    resource = w.tag(1, 2).fork();
    const kv2 = w.tag(1, 2).fork();
    w.tag(1, 2).string('b');
    w.join(kv2);
    w.tag(2, 0).uint32(6);
    w.join(resource);
    w.tag(3, 2).string('first').tag(3, 2).string('second');
    w.join(rs);
    const decoded = decodeTraceRequestProtobuf(w.finish());
    assert.deepEqual(decoded.resourceSpans[0]!.resource, {
      attributes: [
        { key: 'a', value: '1' },
        { key: 'b', value: null },
      ],
      droppedAttributesCount: 6,
    });
    assert.equal(decoded.resourceSpans[0]!.schemaUrl, 'second');
  });

  it('decodes int64 attribute values: number within 2^53 - 1, bigint beyond', () => {
    const cases: [AnyValue, AnyValue][] = [
      [0, 0],
      [-1, -1],
      [2 ** 32, 2 ** 32],
      [Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
      [-Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER],
      [2n ** 53n, 2n ** 53n],
      [-(2n ** 53n), -(2n ** 53n)],
      [2n ** 63n - 1n, 2n ** 63n - 1n],
      [-(2n ** 63n), -(2n ** 63n)],
      [9007199254740993n, 9007199254740993n],
      [2n ** 53n - 1n, Number.MAX_SAFE_INTEGER], // a bigint in the safe range comes back as a number
    ];
    for (const [input, expected] of cases) {
      const decoded = decodeTraceRequestProtobuf(encodeTraceRequestProtobuf(withAttribute(input)));
      assert.deepEqual(allSpans(decoded)[0]!.attributes[0]!.value, expected, String(input));
    }
  });

  it('maps an all-zero parent_span_id to "" (root span)', () => {
    const decoded = decodeTraceRequestProtobuf(encodeTraceRequestProtobuf(request([span({ parentSpanId: '0'.repeat(16) })])));
    assert.equal(allSpans(decoded)[0]!.parentSpanId, '');
  });

  it('accepts a Node Buffer and returns plain Uint8Array copies for bytes values', () => {
    const bytes = Buffer.from(encodeTraceRequestProtobuf(withAttribute(new Uint8Array([1, 2, 3]))));
    const value = allSpans(decodeTraceRequestProtobuf(bytes))[0]!.attributes[0]!.value as Uint8Array;
    assert.equal(Object.getPrototypeOf(value), Uint8Array.prototype);
    assert.deepEqual(value, new Uint8Array([1, 2, 3]));
    bytes.fill(0);
    assert.deepEqual(value, new Uint8Array([1, 2, 3]));
  });

  it('decodes invalid UTF-8 lossily instead of failing', () => {
    const w = new ProtobufWriter();
    const rs = w.tag(1, 2).fork();
    w.tag(3, 2).bytes(new Uint8Array([0x61, 0xff, 0xfe, 0x62]));
    w.join(rs);
    assert.equal(decodeTraceRequestProtobuf(w.finish()).resourceSpans[0]!.schemaUrl, 'a\uFFFD\uFFFDb');
  });
});

describe('decodeTraceRequestProtobuf: malformed input', () => {
  it('rejects a trace_id of the wrong size and names the span', () => {
    const good = span();
    const req = request([good, good, span({ traceId: 'abcdef' })]);
    assertInvalid(
      encodeTraceRequestProtobuf(req),
      /^invalid protobuf: span\.trace_id must be 16 bytes, got 3 \(resource_spans\[0\]\.scope_spans\[0\]\.spans\[2\]\)$/,
    );
  });

  it('decodes missing and all-zero ids (the pipeline rejects those spans one by one)', () => {
    const firstSpan = (bytes: Uint8Array) => decodeTraceRequestProtobuf(bytes).resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    assert.equal(firstSpan(encodeTraceRequestProtobuf(request([span({ traceId: '' })]))).traceId, '');
    assert.equal(firstSpan(encodeTraceRequestProtobuf(request([span({ traceId: '0'.repeat(32) })]))).traceId, '0'.repeat(32));
    assert.equal(firstSpan(encodeTraceRequestProtobuf(request([span({ spanId: '' })]))).spanId, '');
    assert.equal(firstSpan(encodeTraceRequestProtobuf(request([span({ spanId: '0'.repeat(16) })]))).spanId, '0'.repeat(16));
  });

  it('rejects bad span, parent and link id sizes', () => {
    assertInvalid(encodeTraceRequestProtobuf(request([span({ spanId: 'ab'.repeat(16) })])), /span\.span_id must be 8 bytes, got 16/);
    assertInvalid(encodeTraceRequestProtobuf(request([span({ parentSpanId: 'ab' })])), /span\.parent_span_id must be 8 bytes, got 1/);
    const link = { traceId: 'ab'.repeat(16), spanId: 'abcd', traceState: '', attributes: [], droppedAttributesCount: 0, flags: 0 };
    assertInvalid(encodeTraceRequestProtobuf(request([span({ links: [link] })])), /link\.span_id must be 8 bytes, got 2 \(.*spans\[0\]\.links\[0\]\)/);
  });

  it('rejects a length prefix that runs past the end before allocating', () => {
    assertInvalid(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x07]), /length 2147483647 exceeds the 0 bytes left/);
    assertInvalid(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), /length prefix too large/);
    assertInvalid(new Uint8Array([0x0a, 0x05, 0x12, 0x00]), /length 5 exceeds the 2 bytes left/);
  });

  it('rejects a nested length that runs past its enclosing message', () => {
    // resource_spans { schema_url: len 10 } inside a 3-byte message
    assertInvalid(new Uint8Array([0x0a, 0x03, 0x1a, 0x0a, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61, 0x61]), /length 10 exceeds the 1 bytes left in the enclosing message.*resource_spans\[0\]/);
  });

  it('rejects truncated varints and fixed fields, overlong varints and bad wire types', () => {
    assertInvalid(new Uint8Array([0x80]), /truncated varint/);
    assertInvalid(new Uint8Array([0x08, 0xff, 0xff]), /truncated varint/);
    assertInvalid(new Uint8Array([0x08, ...new Array<number>(10).fill(0xff), 0x01]), /varint longer than 10 bytes/);
    assertInvalid(new Uint8Array([0x09, 1, 2, 3]), /truncated fixed64/);
    assertInvalid(new Uint8Array([0x0d, 1, 2]), /truncated fixed32/);
    assertInvalid(new Uint8Array([0x0e]), /invalid wire type 6 for field 1/);
    assertInvalid(new Uint8Array([0x0f]), /invalid wire type 7 for field 1/);
    assertInvalid(new Uint8Array([0x00, 0x00]), /invalid field number 0/);
    assertInvalid(new Uint8Array([0x0c]), /unexpected end-group for field 1/);
    assertInvalid(new Uint8Array([0x0b, 0x08, 0x01]), /unterminated group for field 1/);
    assertInvalid(new Uint8Array([0x0b, 0x14]), /end-group for field 2 inside group 1/);
  });

  it('rejects a field that overruns its message (a varint crossing the boundary)', () => {
    // resource_spans (len 2) { field 2 varint: 0x80 0x01 } — the varint's last byte is outside the message
    assertInvalid(new Uint8Array([0x0a, 0x02, 0x10, 0x80, 0x01]), /overruns the message end by 1 bytes.*resource_spans\[0\]/);
  });

  it('rejects deeply nested groups without overflowing the stack', () => {
    const depth = 100_000;
    const bytes = new Uint8Array(depth * 2);
    bytes.fill(0x0b, 0, depth); // start-group field 1
    bytes.fill(0x0c, depth); // end-group field 1
    assertInvalid(bytes, /groups nested deeper than 64/);
  });

  it('accepts AnyValue nesting up to the limit and rejects a deep-nesting attack cleanly', () => {
    let ok: AnyValue = 'leaf';
    for (let i = 1; i < MAX_ANY_VALUE_DEPTH; i++) ok = [ok];
    assert.deepEqual(allSpans(decodeTraceRequestProtobuf(encodeTraceRequestProtobuf(withAttribute(ok))))[0]!.attributes[0]!.value, ok);
    assertInvalid(encodeTraceRequestProtobuf(withAttribute([ok])), /AnyValue nested deeper than 64 levels \(.*attributes\[0\]\.array_value\[0\]/);

    // 50,000 levels of array_value, built from the inside out without recursion.
    let inner: Uint8Array = new Uint8Array(0); // empty AnyValue
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (let i = 0; i < 50_000; i++) {
      // AnyValue { array_value (5) { values (1) { <inner> } } }
      const valuesLen = size;
      const arrayLen = 1 + varintSize(valuesLen) + valuesLen;
      const header = [0x2a, ...varint(arrayLen), 0x0a, ...varint(valuesLen)];
      chunks.push(new Uint8Array(header));
      size += header.length;
    }
    inner = new Uint8Array(size);
    let p = 0;
    for (let i = chunks.length - 1; i >= 0; i--) {
      inner.set(chunks[i]!, p);
      p += chunks[i]!.length;
    }
    const w = new ProtobufWriter();
    const rs = w.tag(1, 2).fork();
    const ss = w.tag(2, 2).fork();
    const sp = w.tag(2, 2).fork();
    w.tag(1, 2).bytes(new Uint8Array(16).fill(1)).tag(2, 2).bytes(new Uint8Array(8).fill(2));
    const kv = w.tag(9, 2).fork();
    w.tag(1, 2).string('deep').tag(2, 2).bytes(inner);
    w.join(kv).join(sp).join(ss).join(rs);
    assertInvalid(w.finish(), /AnyValue nested deeper than 64 levels/);
  });

  it('answers every truncation of a valid request with a result or PipelineError(invalid), never anything else', () => {
    const req = makeGenAiTraceRequest(2);
    req.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes.push({ key: 'kv', value: new KeyValueList([{ key: 'a', value: [1.5, 2n ** 60n, new Uint8Array([1])] }]) });
    const bytes = encodeTraceRequestProtobuf(req);
    let rejected = 0;
    for (let n = 0; n < bytes.length; n++) {
      try {
        decodeTraceRequestProtobuf(bytes.subarray(0, n));
      } catch (err) {
        assert.ok(err instanceof PipelineError && err.kind === 'invalid', `truncated at ${n}: ${String(err)}`);
        rejected++;
      }
    }
    assert.ok(rejected >= bytes.length - 2, `${rejected} of ${bytes.length} truncations rejected`);
  });

  it('never throws anything but PipelineError(invalid) on random bytes or random mutations', () => {
    const valid = encodeTraceRequestProtobuf(makeGenAiTraceRequest(2));
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          decodeTraceRequestProtobuf(bytes);
        } catch (err) {
          return err instanceof PipelineError && err.kind === 'invalid';
        }
        return true;
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), (edits) => {
        const bytes = valid.slice();
        for (const [at, value] of edits) bytes[at] = value;
        try {
          decodeTraceRequestProtobuf(bytes);
        } catch (err) {
          return err instanceof PipelineError && err.kind === 'invalid';
        }
        return true;
      }),
      { numRuns: 1000 },
    );
  });
});

describe('decodeTraceRequestProtobuf: properties', () => {
  it('round-trips arbitrary AnyValue trees through encodeTraceRequestProtobuf', () => {
    fc.assert(
      fc.property(anyValueArbitrary(), (value) => {
        const req = withAttribute(value);
        assert.deepEqual(decodeTraceRequestProtobuf(encodeTraceRequestProtobuf(req)), req);
      }),
      { numRuns: 500 },
    );
  });

  it('round-trips arbitrary spans (ids, times, counts, strings) through encodeTraceRequestProtobuf', () => {
    fc.assert(
      fc.property(fc.array(spanArbitrary(), { maxLength: 5 }), (spans) => {
        const req = request(spans);
        assert.deepEqual(decodeTraceRequestProtobuf(encodeTraceRequestProtobuf(req)), req);
      }),
      { numRuns: 300 },
    );
  });
});

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}
const varintSize = (n: number) => varint(n).length;
