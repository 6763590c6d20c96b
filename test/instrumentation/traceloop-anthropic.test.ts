/**
 * The real `@anthropic-ai/sdk` instrumented by the real `@traceloop/instrumentation-anthropic`, calling a
 * local fake provider (`@anthropic-ai/sdk` 0.137.0); spans go over real OTLP to a running genai-ledger.
 *
 * `@traceloop/instrumentation-anthropic` 0.27.0 sets `gen_ai.usage.input_tokens` to Anthropic's raw
 * `usage.input_tokens`, which EXCLUDES cache reads and writes. The ledger must still show the OTel
 * meaning (input including cache). The SDK's own built-in spans are switched off here (they would describe
 * the same call a second time; see anthropic-sdk-builtin-tracing.test.ts for them alone).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
// `@traceloop/instrumentation-anthropic` 0.27.0 patches `Anthropic.Completions`, which `@anthropic-ai/sdk`
// 1.x no longer has (patching throws): it is tested with the last 0.x SDK, installed as `anthropic-sdk-0`.
import * as AnthropicModule from 'anthropic-sdk-0';
import { AnthropicInstrumentation } from '@traceloop/instrumentation-anthropic';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { readLedgerRows } from '../helpers/ledger-rows.js';
import { startFakeProvider, type FakeProvider } from '../helpers/fake-provider.js';
import { startInstrumentedApp, type InstrumentedApp } from '../helpers/instrumented-app.js';
import { ANTHROPIC_USAGE, conventions, pick, row, sortByModel } from '../helpers/instrumentation-expectations.js';

let ledger: TestServer;
let fake: FakeProvider;
let app: InstrumentedApp;

before(async () => {
  ledger = await startTestServer();
  fake = await startFakeProvider(ANTHROPIC_USAGE);
  app = startInstrumentedApp(ledger.httpUrl, { 'service.name': 'checkout-assistant', 'deployment.environment.name': 'production' });
  const instrumentation = new AnthropicInstrumentation({ traceContent: false });
  instrumentation.setTracerProvider(app.provider);
  // ESM import: the require hook never sees it, so patch the module explicitly.
  instrumentation.manuallyInstrument(AnthropicModule as unknown as Parameters<typeof instrumentation.manuallyInstrument>[0]);
});

after(async () => {
  await app?.shutdown();
  await fake?.close();
  await ledger?.close();
});

test('@traceloop/instrumentation-anthropic 0.27: cache-exclusive input is normalized; one exact row per call', async () => {
  const client = new AnthropicModule.Anthropic({
    apiKey: 'sk-ant-test',
    baseURL: fake.anthropicBaseUrl,
    maxRetries: 0,
    openTelemetry: { traces: false },
  });
  await client.messages.create({ model: 'claude-sonnet-4-20250514', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
  const stream = await client.messages.create({
    model: 'claude-3-5-haiku-20241022',
    max_tokens: 100,
    messages: [{ role: 'user', content: 'hi' }],
    stream: true,
  });
  for await (const _event of stream) void _event;
  await app.flush();

  assert.equal(fake.requests.length, 2);
  const rows = await readLedgerRows(ledger.dbPath);
  const scope = '@traceloop/instrumentation-anthropic';
  assert.deepEqual(sortByModel(rows.map(pick)), [
    // streamed: 100 + 2000 cache reads = 2100 (a cache-read count of 2000 > 100 would be caught anyway).
    row({ provider: 'anthropic', model: 'claude-3-5-haiku-20241022', operation: 'chat', input_tokens: '2100', cached_input_tokens: '2000', cache_write_tokens: '0', output_tokens: '50', total_tokens: '2150', request_cost_usd: '0.000440000000', instrumentation_scope: scope }),
    // 1500 + 1000 + 500 = 3000: here the parts (1500) do NOT exceed the reported whole (1500), so only the
    // per-source convention (scope + version) gets this right.
    row({ provider: 'anthropic', model: 'claude-sonnet-4-20250514', operation: 'chat', input_tokens: '3000', cached_input_tokens: '1000', cache_write_tokens: '500', output_tokens: '200', total_tokens: '3200', request_cost_usd: '0.009675000000', instrumentation_scope: scope }),
  ]);
  assert.deepEqual(conventions(rows), [
    ['claude-3-5-haiku-20241022', 'input_excludes_cache', 'openllmetry'],
    ['claude-sonnet-4-20250514', 'input_excludes_cache', 'openllmetry'],
  ]);
});
