import { parseArgs } from 'node:util';
import { SpanKind, SpanStatusCode, context, trace, type Attributes } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { CliUsageError } from './cli-usage-error.js';

/**
 * `genai-ledger demo`: realistic multi-team GenAI traffic sent through the real OpenTelemetry JS SDK
 * to a running genai-ledger, so a new user sees a chargeback table within a minute. Each app emits an
 * HTTP server span with a GenAI client span under it, the way instrumented apps do. One service is
 * missing from the mapping table and one model has no public price, so the exceptions queue has
 * something in it too.
 */
interface DemoApp {
  service: string;
  environment: string;
  route: string;
  /** Team set on the GenAI span itself (as an app that copies baggage onto spans would). */
  spanTeam?: string;
  calls: DemoCall[];
}
interface DemoCall {
  provider: string;
  operation: 'chat' | 'embeddings';
  model: string;
  input: [number, number];
  output: [number, number];
  cachedShare?: number;
  reasoningShare?: number;
}

const APPS: DemoApp[] = [
  {
    service: 'checkout-assistant', environment: 'production', route: 'POST /v1/assist',
    calls: [{ provider: 'openai', operation: 'chat', model: 'gpt-4o-mini', input: [800, 4000], output: [100, 600], cachedShare: 0.3 }],
  },
  {
    service: 'support-bot', environment: 'production', route: 'POST /v1/tickets/reply',
    calls: [
      { provider: 'anthropic', operation: 'chat', model: 'claude-sonnet-4-20250514', input: [2000, 12000], output: [200, 1500], cachedShare: 0.6 },
      { provider: 'openai', operation: 'embeddings', model: 'text-embedding-3-small', input: [200, 2000], output: [0, 0] },
    ],
  },
  {
    service: 'search-api', environment: 'production', route: 'GET /v1/search', spanTeam: 'search',
    calls: [
      { provider: 'openai', operation: 'embeddings', model: 'text-embedding-3-small', input: [20, 200], output: [0, 0] },
      { provider: 'openai', operation: 'chat', model: 'gpt-4.1', input: [1500, 6000], output: [150, 800] },
    ],
  },
  {
    service: 'ml-batch-eval', environment: 'staging', route: 'job eval-nightly',
    calls: [{ provider: 'gcp.gemini', operation: 'chat', model: 'gemini-2.5-pro', input: [5000, 40000], output: [500, 4000], reasoningShare: 0.4 }],
  },
  {
    service: 'finance-reports', environment: 'production', route: 'POST /v1/summaries',
    calls: [{ provider: 'openai', operation: 'chat', model: 'acme-finetuned-7b', input: [1000, 3000], output: [200, 900] }],
  },
  {
    service: 'legacy-etl', environment: 'production', route: 'job enrich',
    calls: [{ provider: 'openai', operation: 'chat', model: 'gpt-4o-mini', input: [300, 1200], output: [50, 300] }],
  },
];

export async function runDemo(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      options: { endpoint: { type: 'string', default: 'http://127.0.0.1:4318' }, calls: { type: 'string', default: '300' } },
    }));
  } catch (err) {
    throw new CliUsageError((err as Error).message);
  }
  const calls = Number(values.calls);
  if (!Number.isInteger(calls) || calls <= 0) throw new CliUsageError(`--calls must be a positive integer, got "${values.calls}"`);
  const url = `${values.endpoint.replace(/\/+$/, '')}/v1/traces`;

  const random = seededRandom(42);
  const providers = APPS.map((app) => {
    const exporter = new OTLPTraceExporter({ url });
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': app.service, 'deployment.environment.name': app.environment }),
      spanProcessors: [new BatchSpanProcessor({ exporter, maxExportBatchSize: 256, scheduledDelayMillis: 200 })],
    });
    return { app, provider, tracer: provider.getTracer('genai-ledger-demo', '1.0.0') };
  });

  let sent = 0;
  for (let i = 0; i < calls; i++) {
    const { app, tracer } = providers[i % providers.length]!;
    const call = app.calls[Math.floor(random() * app.calls.length)]!;
    const server = tracer.startSpan(app.route, { kind: SpanKind.SERVER, attributes: { 'http.route': app.route } });
    const ctx = trace.setSpan(context.active(), server);
    const input = between(random, call.input);
    const output = between(random, call.output);
    const attributes: Attributes = {
      'gen_ai.operation.name': call.operation,
      'gen_ai.provider.name': call.provider,
      'gen_ai.request.model': call.model,
      'gen_ai.response.model': call.model,
      'gen_ai.response.id': `demo-${i}`,
      'gen_ai.usage.input_tokens': input,
    };
    if (call.operation === 'chat') attributes['gen_ai.usage.output_tokens'] = output;
    if (call.cachedShare !== undefined) attributes['gen_ai.usage.cache_read.input_tokens'] = Math.floor(input * call.cachedShare);
    if (call.reasoningShare !== undefined) attributes['gen_ai.usage.reasoning.output_tokens'] = Math.floor(output * call.reasoningShare);
    if (app.spanTeam !== undefined) attributes['team_id'] = app.spanTeam;
    const llm = tracer.startSpan(`${call.operation} ${call.model}`, { kind: SpanKind.CLIENT, attributes }, ctx);
    llm.setStatus({ code: SpanStatusCode.OK });
    llm.end();
    server.end();
    sent++;
  }

  const results = await Promise.allSettled(providers.map(({ provider }) => provider.forceFlush()));
  await Promise.allSettled(providers.map(({ provider }) => provider.shutdown()));
  const failed = results.filter((r) => r.status === 'rejected');
  if (failed.length > 0) {
    throw new Error(`could not export to ${url}: ${String((failed[0] as PromiseRejectedResult).reason)} (is \`genai-ledger serve\` running?)`);
  }
  console.log(`genai-ledger demo: sent ${sent} GenAI calls from ${APPS.length} services to ${url}`);
  console.log('See the chargeback while the server runs (through its SQL port):');
  console.log('  npx genai-ledger query "SELECT * FROM genai_chargeback_monthly"');
  console.log('  psql -h 127.0.0.1 -p 5433 -c "SELECT * FROM genai_chargeback_monthly"');
  return 0;
}

function between(random: () => number, [lo, hi]: [number, number]): number {
  return lo + Math.floor(random() * (hi - lo + 1));
}

/** Deterministic traffic, so two demo runs produce the same table. */
function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
