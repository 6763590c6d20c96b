import assert from 'node:assert/strict';
import { SpanKind, context, trace, type Attributes } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { exportSpans, isSuccess, recordSpans } from '../../helpers/genai-traffic.js';
import { seedCallTime, type SeedGroup } from '../../../src/reports/testing/finops-month-seed.js';

/** The spans of a seed group, made by the real OpenTelemetry SDK: a SERVER span per call when the group has a route. */
export function seedSpans(group: SeedGroup, environment = 'production'): ReadableSpan[] {
  return recordSpans({ 'service.name': group.service, 'deployment.environment.name': environment }, (tracer) => {
    for (let i = 0; i < group.calls; i++) {
      const start = seedCallTime(group.month, i, group.calls);
      const attributes: Attributes = {
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.request.model': group.model,
        'gen_ai.usage.input_tokens': group.inputTokens,
        'gen_ai.usage.output_tokens': group.outputTokens,
        ...(group.apiKeyAlias === undefined ? {} : { 'metadata.user_api_key_alias': group.apiKeyAlias }),
      };
      let ctx = context.active();
      const server =
        group.route === undefined
          ? null
          : tracer.startSpan(group.route, {
              kind: SpanKind.SERVER,
              startTime: new Date(start),
              attributes: { 'http.route': group.route, 'http.request.method': 'POST' },
            });
      if (server !== null) ctx = trace.setSpan(ctx, server);
      const call = tracer.startSpan(`chat ${group.model}`, { kind: SpanKind.CLIENT, startTime: new Date(start), attributes }, ctx);
      call.end(new Date(start + 1200));
      server?.end(new Date(start + 1500));
    }
  });
}

/** Sends spans to a running genai-ledger over OTLP/HTTP protobuf, `chunk` spans per request (a trace is never split). */
export async function sendSpans(httpUrl: string, spans: ReadableSpan[], chunk = 2000): Promise<void> {
  const exporter = new OTLPTraceExporter({ url: `${httpUrl}/v1/traces`, timeoutMillis: 60_000 });
  try {
    let i = 0;
    while (i < spans.length) {
      let end = Math.min(i + chunk, spans.length);
      const traceId = (s: ReadableSpan | undefined) => s?.spanContext().traceId;
      while (end < spans.length && traceId(spans[end]) === traceId(spans[end - 1])) end++;
      const result = await exportSpans(exporter, spans.slice(i, end));
      assert.ok(isSuccess(result), `export failed: ${String(result.error)}`);
      i = end;
    }
  } finally {
    await exporter.shutdown();
  }
}

/** Sends every group of the seed. */
export async function sendSeed(httpUrl: string, groups: readonly SeedGroup[]): Promise<number> {
  let calls = 0;
  for (const group of groups) {
    await sendSpans(httpUrl, seedSpans(group));
    calls += group.calls;
  }
  return calls;
}
