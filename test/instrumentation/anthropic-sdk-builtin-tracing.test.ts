/**
 * `@anthropic-ai/sdk` 1.x emits its own GenAI spans (scope `com.anthropic.sdk.typescript`) whenever a
 * tracer provider is registered — no instrumentation library needed. Its `gen_ai.usage.input_tokens` is
 * the OTel total (input + cache reads + cache writes). Real client, fake provider, real OTLP, real ledger.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
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
});

after(async () => {
  await app?.shutdown();
  await fake?.close();
  await ledger?.close();
});

test('@anthropic-ai/sdk built-in tracing: one exact row per call, streaming included', async () => {
  const client = new Anthropic({ apiKey: 'sk-ant-test', baseURL: fake.anthropicBaseUrl, maxRetries: 0 });
  await client.messages.create({ model: 'claude-sonnet-4-20250514', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
  const stream = client.messages.stream({ model: 'claude-3-5-haiku-20241022', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
  await stream.finalMessage();
  await app.flush();

  assert.equal(fake.requests.length, 2);
  const rows = await readLedgerRows(ledger.dbPath);
  const scope = 'com.anthropic.sdk.typescript';
  assert.deepEqual(sortByModel(rows.map(pick)), [
    row({ provider: 'anthropic', model: 'claude-3-5-haiku-20241022', operation: 'chat', input_tokens: '2100', cached_input_tokens: '2000', cache_write_tokens: '0', output_tokens: '50', total_tokens: '2150', request_cost_usd: '0.000440000000', instrumentation_scope: scope }),
    row({ provider: 'anthropic', model: 'claude-sonnet-4-20250514', operation: 'chat', input_tokens: '3000', cached_input_tokens: '1000', cache_write_tokens: '500', output_tokens: '200', total_tokens: '3200', request_cost_usd: '0.009675000000', instrumentation_scope: scope }),
  ]);
  // Already the OTel meaning: nothing adjusted.
  assert.deepEqual(conventions(rows), [
    ['claude-3-5-haiku-20241022', 'otel', 'otel'],
    ['claude-sonnet-4-20250514', 'otel', 'otel'],
  ]);
});
