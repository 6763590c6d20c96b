/**
 * `@anthropic-ai/sdk` 1.x emits its own GenAI spans (scope `com.anthropic.sdk.typescript`) whenever a
 * tracer provider is registered — no instrumentation library needed. Its `gen_ai.usage.input_tokens` is
 * the OTel total (input + cache reads + cache writes). Real client, fake provider, real OTLP, real ledger.
 *
 * With an instrumentation library on top (`@traceloop/instrumentation-anthropic`, whose `input_tokens`
 * EXCLUDES the cache) every call is traced twice; it must still be billed once, with the right counts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
// `@traceloop/instrumentation-anthropic` 0.27 patches the last 0.x SDK only (see traceloop-anthropic.test.ts).
import * as AnthropicModule from 'anthropic-sdk-0';
import { AnthropicInstrumentation } from '@traceloop/instrumentation-anthropic';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { countLedgerSpans, readLedgerRows } from '../helpers/ledger-rows.js';
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

test('built-in tracing plus @traceloop/instrumentation-anthropic: each call traced twice, billed once, counts right', async () => {
  const instrumentation = new AnthropicInstrumentation({ traceContent: false });
  instrumentation.setTracerProvider(app.provider);
  instrumentation.manuallyInstrument(AnthropicModule as unknown as Parameters<typeof instrumentation.manuallyInstrument>[0]);
  const before = fake.requests.length;
  // Built-in tracing stays ON (the default whenever a tracer provider is registered).
  const client = new AnthropicModule.Anthropic({ apiKey: 'sk-ant-test', baseURL: fake.anthropicBaseUrl, maxRetries: 0 });
  await client.messages.create({ model: 'claude-sonnet-4-20250514', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
  await client.messages.create({ model: 'claude-3-5-haiku-20241022', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
  await app.flush();
  assert.equal(fake.requests.length - before, 2);

  const scopes = "('com.anthropic.sdk.typescript', '@traceloop/instrumentation-anthropic')";
  const all = await countLedgerSpans(ledger.dbPath, `trace_id IN (SELECT trace_id FROM genai_all_spans WHERE instrumentation_scope = '@traceloop/instrumentation-anthropic')`);
  assert.deepEqual(all, { billed: 2, duplicates: 2 }, 'two spans per call, one billed');
  // The billed rows carry the OTel counts whichever of the two spans was billed (Traceloop's cache-exclusive
  // input is normalized by its source convention).
  const rows = await readLedgerRows(ledger.dbPath, `trace_id IN (SELECT trace_id FROM genai_all_spans WHERE instrumentation_scope = '@traceloop/instrumentation-anthropic') AND instrumentation_scope IN ${scopes}`);
  assert.deepEqual(sortByModel(rows.map(pick)).map(({ instrumentation_scope: _s, ...rest }) => rest), [
    row({ provider: 'anthropic', model: 'claude-3-5-haiku-20241022', operation: 'chat', input_tokens: '2100', cached_input_tokens: '2000', cache_write_tokens: '0', output_tokens: '50', total_tokens: '2150', request_cost_usd: '0.000440000000' }),
    row({ provider: 'anthropic', model: 'claude-sonnet-4-20250514', operation: 'chat', input_tokens: '3000', cached_input_tokens: '1000', cache_write_tokens: '500', output_tokens: '200', total_tokens: '3200', request_cost_usd: '0.009675000000' }),
  ].map(({ instrumentation_scope: _s, ...rest }) => rest));
});

