/**
 * The main path, end to end: real OpenTelemetry JS exporters (OTLP/HTTP JSON, OTLP/HTTP protobuf,
 * OTLP/gRPC) send GenAI spans over real sockets to a running genai-ledger; then the DuckDB file is read
 * and every contract column of every row is checked.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { OTLPTraceExporter as HttpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as HttpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { startTestServer, type TestServer } from './helpers/test-server.js';
import { describeSpan, emitGenAiCall, exportSpans, isSuccess, recordSpans } from './helpers/genai-traffic.js';
import { readLedgerRows } from './helpers/ledger-rows.js';

interface ExpectedRow {
  resource: Record<string, string>;
  attributes: Record<string, string | number>;
  row: Record<string, string | null>;
}

/** Known calls with hand-computed rows. Prices: @pydantic/genai-prices 0.1.8 list prices. */
const CALLS: ExpectedRow[] = [
  {
    // gpt-4o-mini: $0.15/M input, $0.075/M cached input, $0.60/M output (OpenAI pricing page).
    // 800 × 0.15 + 200 × 0.075 + 500 × 0.60 = 120 + 15 + 300 µ$ = $0.000435
    resource: { 'service.name': 'checkout-assistant', 'deployment.environment.name': 'production' },
    attributes: {
      'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': 'gpt-4o-mini-2024-07-18', 'gen_ai.usage.input_tokens': 1000,
      'gen_ai.usage.cache_read.input_tokens': 200, 'gen_ai.usage.output_tokens': 500,
    },
    row: {
      provider: 'openai', model: 'gpt-4o-mini-2024-07-18', operation: 'chat', team_id: 'growth', cost_center: 'CC-1003',
      project_id: 'checkout', service: 'checkout-assistant', environment: 'production', input_tokens: '1000',
      cached_input_tokens: '200', cache_write_tokens: null, output_tokens: '500', reasoning_tokens: null,
      request_cost_usd: '0.000435000000', attribution_status: 'attributed', exceptions: '[]',
    },
  },
  {
    // claude-sonnet-4: $3/M input, $3.75/M 5-min cache write, $0.30/M cache read, $15/M output (Anthropic pricing).
    // uncached 1500 × 3 + 1000 × 0.30 + 500 × 3.75 + 200 × 15 = 4500 + 300 + 1875 + 3000 µ$ = $0.009675
    resource: { 'service.name': 'search-api', 'deployment.environment': 'staging' },
    attributes: {
      'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'anthropic', 'gen_ai.request.model': 'claude-sonnet-4-20250514',
      'gen_ai.usage.input_tokens': 3000, 'gen_ai.usage.cache_read.input_tokens': 1000,
      'gen_ai.usage.cache_creation.input_tokens': 500, 'gen_ai.usage.output_tokens': 200, team_id: 'search',
    },
    row: {
      provider: 'anthropic', model: 'claude-sonnet-4-20250514', operation: 'chat', team_id: 'search', cost_center: 'CC-1001',
      project_id: null, service: 'search-api', environment: 'staging', input_tokens: '3000', cached_input_tokens: '1000',
      cache_write_tokens: '500', output_tokens: '200', reasoning_tokens: null, request_cost_usd: '0.009675000000',
      attribution_status: 'attributed', exceptions: '[]',
    },
  },
  {
    // Deprecated prompt/completion token names, legacy gen_ai.system, no owner anywhere.
    // gpt-4o-mini: 100 × 0.15 + 50 × 0.60 = 15 + 30 µ$ = $0.000045
    resource: { 'service.name': 'unmapped-service' },
    attributes: {
      'gen_ai.system': 'openai', 'gen_ai.request.model': 'gpt-4o-mini', 'gen_ai.usage.prompt_tokens': 100,
      'gen_ai.usage.completion_tokens': 50,
    },
    row: {
      provider: 'openai', model: 'gpt-4o-mini', operation: null, team_id: null, cost_center: null, project_id: null,
      service: 'unmapped-service', environment: null, input_tokens: '100', cached_input_tokens: null,
      cache_write_tokens: null, output_tokens: '50', reasoning_tokens: null, request_cost_usd: '0.000045000000',
      attribution_status: 'missing_team', exceptions: '["missing_team"]',
    },
  },
  {
    // A team FinOps has not mapped, and a model with no public price: both exceptions, NULL cost.
    resource: { 'service.name': 'finance-reports', 'team.id': 'ghost-team' },
    attributes: {
      'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'acme-finetuned-7b',
      'gen_ai.usage.input_tokens': 700, 'gen_ai.usage.output_tokens': 70,
    },
    row: {
      provider: 'openai', model: 'acme-finetuned-7b', operation: 'chat', team_id: 'ghost-team', cost_center: null,
      project_id: null, service: 'finance-reports', environment: null, input_tokens: '700', cached_input_tokens: null,
      cache_write_tokens: null, output_tokens: '70', reasoning_tokens: null, request_cost_usd: null,
      attribution_status: 'missing_cost_center', exceptions: '["missing_cost_center","unpriced_model"]',
    },
  },
  {
    // o-series style reasoning; a model but no usage on another span is a missing_tokens exception.
    resource: { 'service.name': 'support-bot' },
    attributes: {
      'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o-mini',
    },
    row: {
      provider: 'openai', model: 'gpt-4o-mini', operation: 'chat', team_id: 'support-bot', cost_center: 'CC-1002',
      project_id: 'tickets', service: 'support-bot', environment: null, input_tokens: null, cached_input_tokens: null,
      cache_write_tokens: null, output_tokens: null, reasoning_tokens: null, request_cost_usd: null,
      attribution_status: 'missing_tokens', exceptions: '["missing_tokens"]',
    },
  },
];

/** Records one set of spans (fresh trace ids) for all CALLS; returns them grouped per resource. */
function recordCalls(): { spans: ReadableSpan[]; llmSpans: ReadableSpan[] } {
  const spans: ReadableSpan[] = [];
  for (const call of CALLS) spans.push(...recordSpans(call.resource, (tracer) => emitGenAiCall(tracer, call.attributes)));
  const llmSpans = spans.filter((s) => s.name !== 'POST /chat');
  return { spans, llmSpans };
}

const EXPORTERS: [string, (url: string) => SpanExporter][] = [
  ['OTLP/HTTP JSON', (url) => new HttpJsonExporter({ url: `${url}/v1/traces` })],
  ['OTLP/HTTP protobuf', (url) => new HttpProtoExporter({ url: `${url}/v1/traces` })],
  ['OTLP/HTTP protobuf + gzip', (url) => new HttpProtoExporter({ url: `${url}/v1/traces`, compression: CompressionAlgorithm.GZIP })],
  ['OTLP/gRPC', (url) => new GrpcExporter({ url })],
  ['OTLP/gRPC + gzip', (url) => new GrpcExporter({ url, compression: CompressionAlgorithm.GZIP })],
];

describe('real OpenTelemetry exporters → genai-ledger → DuckDB', () => {
  let server: TestServer;
  const sent: { exporter: string; llmSpans: ReadableSpan[]; spans: ReadableSpan[] }[] = [];

  before(async () => {
    server = await startTestServer();
    for (const [name, make] of EXPORTERS) {
      const exporter = make(name.startsWith('OTLP/gRPC') ? server.grpcUrl : server.httpUrl);
      const { spans, llmSpans } = recordCalls();
      const result = await exportSpans(exporter, spans);
      assert.ok(isSuccess(result), `${name} export failed: ${String(result.error)}`);
      // A retried export (same trace and span ids) must not be counted twice.
      assert.ok(isSuccess(await exportSpans(exporter, spans)), `${name} re-export failed`);
      await exporter.shutdown();
      sent.push({ exporter: name, llmSpans, spans });
    }
    await server.server.shutdown();
  });

  after(async () => server.close());

  test('exactly one row per LLM call; HTTP server spans are not in the ledger', async () => {
    const rows = await readLedgerRows(server.dbPath);
    assert.equal(rows.length, EXPORTERS.length * CALLS.length);
    const ids = new Set(rows.map((r) => `${r.trace_id}/${r.span_id}`));
    for (const { llmSpans, spans } of sent) {
      for (const span of llmSpans) assert.ok(ids.has(`${span.spanContext().traceId}/${span.spanContext().spanId}`));
      for (const span of spans.filter((s) => s.name === 'POST /chat')) {
        assert.ok(!ids.has(`${span.spanContext().traceId}/${span.spanContext().spanId}`));
      }
    }
  });

  for (const [index, [exporterName]] of EXPORTERS.entries()) {
    test(`${exporterName}: every contract column of every row`, async () => {
      const { llmSpans } = sent[index]!;
      for (const [i, call] of CALLS.entries()) {
        const span = describeSpan(llmSpans[i]!);
        const [row] = await readLedgerRows(server.dbPath, `trace_id = '${span.traceId}' AND span_id = '${span.spanId}'`);
        assert.ok(row, `no row for call ${i}`);
        assert.equal(row.timestamp_us, String(span.startUs), `call ${i}: timestamp`);
        assert.equal(row.parent_span_id, span.parentSpanId, `call ${i}: parent_span_id`);
        for (const [column, expected] of Object.entries(call.row)) {
          assert.equal(row[column], expected, `call ${i}: ${column}`);
        }
        if (call.row.request_cost_usd === null) assert.equal(row.unit_price_snapshot, null);
        else assert.match(row.unit_price_snapshot ?? '', /^genai-prices@0\.1\.8\+/);
      }
    });
  }
});
