import { gzipSync } from 'node:zlib';
import { SpanKind, context, trace, type Attributes } from '@opentelemetry/api';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { recordSpans } from '../helpers/genai-traffic.js';

/**
 * OTLP trace files as the OpenTelemetry Collector's file exporter writes them, made from spans recorded by the
 * real OpenTelemetry JS SDK and serialized by its own OTLP serializers (@opentelemetry/otlp-transformer):
 * JSON lines (`format: json`), 4-byte big-endian length-delimited protobuf (`format: proto`), one pretty
 * OTLP/JSON document, and gzip of the JSON lines.
 *
 * What the spans hold (June 2025):
 * - checkout-assistant (no team anywhere): 3 gpt-4o-mini calls under `POST /chat`, 1 under `POST /summarize`;
 * - search-api (resource `team.id` search): 2 gpt-4o calls under `GET /search`, 1 of them with an agent span
 *   around it that repeats its usage (counted once);
 * - support-bot: 1 claude-3-5-haiku call whose team comes from its ancestor's `app.team_id`, and that ancestor
 *   is written on a later line than the call;
 * - 1 call to an unknown model (`acme-llm-9000`, unpriced) and 1 call without token counts.
 */
const JUNE = Date.parse('2025-06-15T10:00:00Z');

function chat(provider: string, model: string, usage: { input?: number; output?: number } | null): Attributes {
  return {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': provider,
    'gen_ai.request.model': model,
    ...(usage?.input === undefined ? {} : { 'gen_ai.usage.input_tokens': usage.input }),
    ...(usage?.output === undefined ? {} : { 'gen_ai.usage.output_tokens': usage.output }),
  };
}

type Tracer = Parameters<Parameters<typeof recordSpans>[1]>[0];

function request(tracer: Tracer, route: string, at: number, calls: Attributes[], serverAttributes: Attributes = {}): void {
  const start = new Date(at);
  const server = tracer.startSpan(route, { kind: SpanKind.SERVER, startTime: start, attributes: { 'http.route': route.split(' ')[1]!, ...serverAttributes } });
  const ctx = trace.setSpan(context.active(), server);
  for (const attributes of calls) {
    const name = `chat ${String(attributes['gen_ai.request.model'])}`;
    tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes, startTime: start }, ctx).end(new Date(at + 800));
  }
  server.end(new Date(at + 1000));
}

export interface OtlpFixtureSpans {
  /** Requests in the order they are written as lines / frames. */
  batches: ReadableSpan[][];
}

export function fixtureSpans(): OtlpFixtureSpans {
  const checkout = recordSpans({ 'service.name': 'checkout-assistant', 'deployment.environment.name': 'production' }, (tracer) => {
    for (let i = 0; i < 3; i++) request(tracer, 'POST /chat', JUNE + i * 60_000, [chat('openai', 'gpt-4o-mini', { input: 1000, output: 200 })]);
    request(tracer, 'POST /summarize', JUNE + 300_000, [chat('openai', 'gpt-4o-mini', { input: 5000, output: 500 })]);
    request(tracer, 'POST /chat', JUNE + 400_000, [chat('openai', 'acme-llm-9000', { input: 10, output: 10 })]);
    request(tracer, 'POST /chat', JUNE + 500_000, [chat('openai', 'gpt-4o-mini', null)]);
  });
  const search = recordSpans({ 'service.name': 'search-api', 'team.id': 'search', 'deployment.environment.name': 'production' }, (tracer) => {
    request(tracer, 'GET /search', JUNE + 600_000, [chat('openai', 'gpt-4o', { input: 3000, output: 300 })]);
    // An agent span around a chat call, repeating its usage: billed once, on the inner call.
    const start = new Date(JUNE + 700_000);
    const server = tracer.startSpan('GET /search', { kind: SpanKind.SERVER, startTime: start, attributes: { 'http.route': '/search' } });
    const agent = tracer.startSpan(
      'invoke_agent researcher',
      { kind: SpanKind.INTERNAL, startTime: start, attributes: { ...chat('openai', 'gpt-4o', { input: 4000, output: 400 }), 'gen_ai.operation.name': 'invoke_agent' } },
      trace.setSpan(context.active(), server),
    );
    tracer.startSpan('chat gpt-4o', { kind: SpanKind.CLIENT, startTime: start, attributes: chat('openai', 'gpt-4o', { input: 4000, output: 400 }) }, trace.setSpan(context.active(), agent)).end(new Date(JUNE + 700_500));
    agent.end(new Date(JUNE + 700_600));
    server.end(new Date(JUNE + 700_900));
  });
  const support = recordSpans({ 'service.name': 'support-bot' }, (tracer) =>
    request(tracer, 'POST /answer', JUNE + 800_000, [chat('anthropic', 'claude-3-5-haiku-20241022', { input: 20_000, output: 1_000 })], { 'app.team_id': 'support-bot' }),
  );
  const supportCall = support.filter((s) => s.kind === SpanKind.CLIENT);
  const supportServer = support.filter((s) => s.kind !== SpanKind.CLIENT);
  return { batches: [checkout, [...search, ...supportCall], supportServer] };
}

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString('utf8');

export function jsonLines(spans: OtlpFixtureSpans): Buffer {
  return Buffer.from(spans.batches.map((b) => `${text(JsonTraceSerializer.serializeRequest(b)!)}\n`).join(''));
}

export function protoLengthDelimited(spans: OtlpFixtureSpans): Buffer {
  const frames = spans.batches.map((b) => {
    const body = ProtobufTraceSerializer.serializeRequest(b)!;
    const frame = Buffer.alloc(4 + body.length);
    frame.writeUInt32BE(body.length, 0);
    Buffer.from(body).copy(frame, 4);
    return frame;
  });
  return Buffer.concat(frames);
}

export function jsonDocument(spans: OtlpFixtureSpans): Buffer {
  const all = spans.batches.flat();
  return Buffer.from(JSON.stringify(JSON.parse(text(JsonTraceSerializer.serializeRequest(all)!)), null, 2));
}

export function gzipped(bytes: Buffer): Buffer {
  return gzipSync(bytes);
}
