/**
 * Ownership carried in OpenTelemetry baggage: the real OTel SDK with the real `BaggageSpanProcessor`
 * (`@opentelemetry/baggage-span-processor`), which copies baggage entries onto spans as attributes, and the
 * real `openai` client instrumented by `@opentelemetry/instrumentation-openai` calling a fake provider.
 * The ledger must attribute the call with the baggage's team_id / project_id, whether the GenAI span carries
 * them itself or only the app's request span above it does.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { ALLOW_ALL_BAGGAGE_KEYS, BaggageSpanProcessor } from '@opentelemetry/baggage-span-processor';
import { OpenAIInstrumentation } from '@opentelemetry/instrumentation-openai';
import type OpenAIType from 'openai';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { readLedgerRows } from '../helpers/ledger-rows.js';
import { startFakeProvider, type FakeProvider } from '../helpers/fake-provider.js';
import { startInstrumentedApp, type InstrumentedApp } from '../helpers/instrumented-app.js';
import { OPENAI_USAGE } from '../helpers/instrumentation-expectations.js';

let ledger: TestServer;
let fake: FakeProvider;
let app: InstrumentedApp;
let client: OpenAIType;

before(async () => {
  ledger = await startTestServer();
  fake = await startFakeProvider(OPENAI_USAGE);
  // `service.name` unmapped: any team must come from the spans.
  app = startInstrumentedApp(ledger.httpUrl, { 'service.name': 'baggage-demo' }, [
    new BaggageSpanProcessor(ALLOW_ALL_BAGGAGE_KEYS) as unknown as SpanProcessor,
  ]);
  const instrumentation = new OpenAIInstrumentation();
  instrumentation.setTracerProvider(app.provider);
  instrumentation.setMeterProvider(metrics.getMeterProvider());
  instrumentation.enable();
  const OpenAI = createRequire(import.meta.url)('openai') as typeof OpenAIType;
  client = new OpenAI({ apiKey: 'sk-test', baseURL: fake.openAiBaseUrl, maxRetries: 0 });
});

after(async () => {
  await app?.shutdown();
  await fake?.close();
  await ledger?.close();
});

const chat = () => client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });

test('baggage team_id / project_id copied onto the GenAI span attribute the call (source span)', async () => {
  const baggage = propagation.createBaggage({ team_id: { value: 'search' }, project_id: { value: 'ranking' } });
  await context.with(propagation.setBaggage(context.active(), baggage), chat);
  await app.flush();
  const rows = await readLedgerRows(ledger.dbPath, `project_id = 'ranking'`);
  assert.equal(rows.length, 1);
  assert.deepEqual(
    { team_id: rows[0]!['team_id'], cost_center: rows[0]!['cost_center'], source: rows[0]!['attribution_source'], status: rows[0]!['attribution_status'] },
    { team_id: 'search', cost_center: 'CC-1001', source: 'span', status: 'attributed' },
  );
});

test('baggage only on the request span (cleared for the call): the call takes it from its ancestor', async () => {
  const baggage = propagation.createBaggage({ team_id: { value: 'growth' }, project_id: { value: 'checkout' } });
  const tracer = trace.getTracer('baggage-demo-app');
  await context.with(propagation.setBaggage(context.active(), baggage), () =>
    tracer.startActiveSpan('POST /checkout', async (span) => {
      // The LLM call runs with the baggage removed, so only the request span carries the team.
      await context.with(propagation.deleteBaggage(context.active()), chat);
      span.end();
    }),
  );
  await app.flush();
  const rows = await readLedgerRows(ledger.dbPath, `project_id = 'checkout'`);
  assert.equal(rows.length, 1);
  assert.deepEqual(
    { team_id: rows[0]!['team_id'], cost_center: rows[0]!['cost_center'], source: rows[0]!['attribution_source'], status: rows[0]!['attribution_status'], late: rows[0]!['attribution_updated_at'] !== null },
    // SimpleSpanProcessor exports the call (child) before the request span (parent): attributed late.
    { team_id: 'growth', cost_center: 'CC-1003', source: 'ancestor', status: 'attributed', late: true },
  );
});
