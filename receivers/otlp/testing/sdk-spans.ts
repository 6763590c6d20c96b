import { context, SpanKind as ApiSpanKind, SpanStatusCode, trace, TraceFlags, type Attributes, type HrTime } from '@opentelemetry/api';
import { TraceState } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { KeyValueList, type AnyValue, type KeyValue, type Span } from '../../../core/otlp.js';

/**
 * Spans made by the real OpenTelemetry JS SDK (and some hand-built ReadableSpans for values the SDK
 * refuses to record), plus the model values a correct decoder must produce from their OTLP encoding.
 * The official serializers (@opentelemetry/otlp-transformer) turn them into protobuf and JSON.
 */

export const SDK_RESOURCE_ATTRIBUTES = {
  'service.name': 'checkout-assistant',
  'service.namespace': 'shop',
  'deployment.environment.name': 'production',
  'team.id': 'payments',
  'host.cpu.count': 8,
};

/** Spans recorded through the SDK's TracerProvider: every field the SDK can set, including dropped counts. */
export function makeSdkSpans(): ReadableSpan[] {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({
    resource: resourceFromAttributes(SDK_RESOURCE_ATTRIBUTES),
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
    spanLimits: { attributeCountLimit: 14, eventCountLimit: 3, linkCountLimit: 2, attributePerEventCountLimit: 2 },
  });
  const tracer = provider.getTracer('genai-ledger-test', '1.2.3', { schemaUrl: 'https://opentelemetry.io/schemas/1.37.0' });
  const otherTracer = provider.getTracer('other-scope');

  // A remote parent with trace state, as if propagated from an incoming request.
  const remoteParent = trace.setSpanContext(context.active(), {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
    traceState: new TraceState('vendor=abc,other=x-y'),
  });

  const root = tracer.startSpan('POST /v1/chat', { kind: ApiSpanKind.SERVER, startTime: [1_760_000_000, 123_456_789] }, remoteParent);
  root.setAttributes({
    'http.request.method': 'POST',
    'http.response.status_code': 200,
    'app.team_id': 'payments',
    'feature.enabled': true,
  });
  const rootCtx = trace.setSpan(context.active(), root);

  const linked = {
    traceId: 'ffeeddccbbaa99887766554433221100',
    spanId: '0123456789abcdef',
    traceFlags: TraceFlags.NONE,
    isRemote: true,
    traceState: new TraceState('k=v'),
  };
  const chat = tracer.startSpan(
    'chat gpt-4o-mini',
    {
      kind: ApiSpanKind.CLIENT,
      startTime: [1_760_000_000, 200_000_001],
      attributes: {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': 'gpt-4o-mini',
        'gen_ai.usage.input_tokens': 1234,
        'gen_ai.usage.output_tokens': 56,
        'gen_ai.request.temperature': 0.25,
        'gen_ai.response.finish_reasons': ['stop', 'length'],
        'gen_ai.request.stop_sequences': [],
        'test.int_array': [1, -2, 3_000_000_000],
        'test.double_array': [1.5, -0.25],
        'test.bool_array': [true, false],
        'test.negative': -42,
        'test.big': 2 ** 60,
        'test.unicode': 'größe — 日本語 🚀',
        'test.dropped.1': 'x',
        'test.dropped.2': 'y',
      },
      links: [
        { context: linked, attributes: { 'link.reason': 'retry', 'link.n': 2 } },
        { context: { ...linked, spanId: '1111111111111111', isRemote: false, traceFlags: TraceFlags.SAMPLED } },
        { context: { ...linked, spanId: '2222222222222222' } },
      ],
    },
    rootCtx,
  );
  // eventCountLimit 3: the SDK drops the oldest event.
  chat.addEvent('dropped', {}, [1_760_000_000, 250_000_000]);
  chat.addEvent('gen_ai.content.prompt', { 'gen_ai.prompt': 'hi', a: 1, b: 2 }, [1_760_000_000, 300_000_000]);
  chat.addEvent('gen_ai.content.completion', undefined, [1_760_000_000, 400_000_000]);
  chat.addEvent('e3', { 'e.list': ['x', 'y'] }, [1_760_000_000, 500_000_000]);
  chat.setStatus({ code: SpanStatusCode.ERROR, message: 'rate limited: 429' });
  chat.end([1_760_000_001, 999_999_999]);

  const internal = otherTracer.startSpan('tokenize', { kind: ApiSpanKind.INTERNAL, startTime: [1_760_000_000, 5] }, rootCtx);
  internal.setStatus({ code: SpanStatusCode.OK });
  internal.end([1_760_000_000, 6]);

  for (const kind of [ApiSpanKind.PRODUCER, ApiSpanKind.CONSUMER]) {
    tracer.startSpan(`kind ${kind}`, { kind, startTime: [1, 0] }).end([2, 1]);
  }

  root.end([1_760_000_002, 0]);
  return exporter.getFinishedSpans();
}

/**
 * ReadableSpans built by hand, for what the SDK API does not allow but the serializers encode: bytes,
 * maps (kvlist), nested arrays, nulls inside arrays, integers beyond 2^53, scope attributes, huge
 * dropped counts, a zero parent.
 */
export function makeExoticSpans(): ReadableSpan[] {
  const resource = resourceFromAttributes({ 'service.name': 'exotic' });
  const scope = { name: 'exotic-scope', version: '', attributes: { 'scope.attr': 'yes', 'scope.n': 7 } };
  const base = (spanId: string, attributes: Record<string, unknown>, extra: Partial<ReadableSpan> = {}): ReadableSpan => ({
    name: `exotic ${spanId}`,
    kind: ApiSpanKind.CLIENT,
    spanContext: () => ({ traceId: '5b8efff798038103d269b633813fc60c', spanId, traceFlags: TraceFlags.SAMPLED }),
    parentSpanContext: undefined,
    startTime: [1_700_000_000, 1],
    endTime: [4_000_000_000, 999_999_999],
    status: { code: SpanStatusCode.UNSET },
    attributes: attributes as Attributes,
    links: [],
    events: [],
    duration: [0, 0],
    ended: true,
    resource,
    instrumentationScope: scope,
    droppedAttributesCount: 4_000_000_000,
    droppedEventsCount: 1,
    droppedLinksCount: 2,
    ...extra,
  });
  return [
    base('eee0000000000001', {
      'bytes.value': new Uint8Array([0, 1, 2, 250, 255]),
      'bytes.empty': new Uint8Array(0),
      'map.value': { provider: 'openai', usage: { input: 10, output: 2.5 }, tags: ['a', 'b'] },
      'map.empty': {},
      'nested.arrays': [['a', 'b'], [1, [2, [true]]], []],
      'array.with.null': ['a', null, 'c'],
      'int.max_safe': Number.MAX_SAFE_INTEGER,
      'int.min_safe': -Number.MAX_SAFE_INTEGER,
      'int.2^53': 2 ** 53,
      'int.-2^62': -(2 ** 62),
      'double.tiny': 5e-324,
      'double.huge': 1.7976931348623157e308,
      'empty.string': '',
    }),
    base('eee0000000000002', { x: 'y' }, { parentSpanContext: { traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee0000000000001', traceFlags: 0, isRemote: false } }),
  ];
}

/** OTLP nanoseconds of an HrTime. */
export const hrToNanos = (t: HrTime): bigint => BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);

/**
 * How the serializers map an attribute value to an OTLP AnyValue, as our model represents it.
 * `encoding` matters for integral numbers beyond 2^53: protobuf carries their exact value, while the
 * JSON serializer prints them with JSON.stringify's shortest form (2^60 → 1152921504606847000), and a
 * decoder can only read the digits it is given.
 */
export function expectedAnyValue(value: unknown, encoding: Encoding = 'protobuf'): AnyValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= -(2 ** 63) && value < 2 ** 63) {
      if (Number.isSafeInteger(value)) return value;
      return encoding === 'protobuf' ? BigInt(value) : BigInt(String(value));
    }
    return value;
  }
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (Array.isArray(value)) return value.map((v) => expectedAnyValue(v, encoding));
  if (typeof value === 'object') return new KeyValueList(expectedKeyValues(value as Record<string, unknown>, encoding));
  throw new Error(`unexpected attribute value ${String(value)}`);
}

export type Encoding = 'protobuf' | 'json';

export function expectedKeyValues(attributes: Record<string, unknown> | undefined, encoding: Encoding = 'protobuf'): KeyValue[] {
  if (attributes === undefined) return [];
  return Object.keys(attributes).map((key) => ({ key, value: expectedAnyValue(attributes[key], encoding) }));
}

const flagsOf = (traceFlags: number, isRemote: boolean | undefined) => (traceFlags & 0xff) | 0x100 | (isRemote ? 0x200 : 0);

/** The decoded Span that the OTLP encoding of `span` must produce. */
export function expectedSpan(span: ReadableSpan, encoding: Encoding = 'protobuf'): Span {
  const ctx = span.spanContext();
  return {
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    traceState: ctx.traceState?.serialize() ?? '',
    parentSpanId: span.parentSpanContext?.spanId ?? '',
    flags: flagsOf(ctx.traceFlags, span.parentSpanContext?.isRemote),
    name: span.name,
    kind: span.kind + 1,
    startTimeUnixNano: hrToNanos(span.startTime),
    endTimeUnixNano: hrToNanos(span.endTime),
    attributes: expectedKeyValues(span.attributes, encoding),
    droppedAttributesCount: span.droppedAttributesCount,
    events: span.events.map((e) => ({
      timeUnixNano: hrToNanos(e.time),
      name: e.name,
      attributes: expectedKeyValues(e.attributes, encoding),
      droppedAttributesCount: e.droppedAttributesCount ?? 0,
    })),
    droppedEventsCount: span.droppedEventsCount,
    links: span.links.map((l) => ({
      traceId: l.context.traceId,
      spanId: l.context.spanId,
      traceState: l.context.traceState?.serialize() ?? '',
      attributes: expectedKeyValues(l.attributes, encoding),
      droppedAttributesCount: l.droppedAttributesCount ?? 0,
      flags: flagsOf(l.context.traceFlags, l.context.isRemote),
    })),
    droppedLinksCount: span.droppedLinksCount,
    status: { code: span.status.code, message: span.status.message ?? '' },
  };
}
