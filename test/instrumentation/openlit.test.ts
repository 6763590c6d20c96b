/**
 * The real OpenLIT TypeScript SDK (`openlit` 1.15.0) instrumenting the real `@anthropic-ai/sdk` and `openai`
 * clients, exporting with its own OTLP/HTTP exporter to a running genai-ledger, against a local fake
 * provider.
 *
 * OpenLIT sets `gen_ai.usage.input_tokens` to Anthropic's raw `input_tokens` (EXCLUSIVE of cache) and stamps
 * `telemetry.sdk.name = openlit` on its spans: the ledger must show the OTel meaning.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as AnthropicModule from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { Openlit } from 'openlit';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { readLedgerRows } from '../helpers/ledger-rows.js';
import { startFakeProvider, type FakeProvider } from '../helpers/fake-provider.js';
import { ANTHROPIC_USAGE, OPENAI_USAGE, conventions, pick, row, sortByModel } from '../helpers/instrumentation-expectations.js';

let ledger: TestServer;
let fake: FakeProvider;

before(async () => {
  ledger = await startTestServer();
  fake = await startFakeProvider({ ...OPENAI_USAGE, ...ANTHROPIC_USAGE });
  Openlit.init({
    otlpEndpoint: ledger.httpUrl,
    applicationName: 'checkout-assistant',
    environment: 'production',
    disableBatch: true,
    disableMetrics: true,
    disableEvents: true,
    captureMessageContent: false,
    // An inline price list, so OpenLIT never fetches its default one from the network.
    pricingJson: { chat: { 'claude-sonnet-4-20250514': { promptPrice: 0.003, completionPrice: 0.015, cacheReadPrice: 0.0003, cacheCreationPrice: 0.00375 } } },
    instrumentations: { anthropic: AnthropicModule, openai: OpenAI },
  });
});

after(async () => {
  await fake?.close();
  await ledger?.close();
});

/** OpenLIT exports each span as it ends, from its own provider: wait until the ledger holds `count` rows. */
async function rowsWhenCount(count: number): Promise<Record<string, string | null>[]> {
  for (let attempt = 0; ; attempt++) {
    const rows = await readLedgerRows(ledger.dbPath);
    if (rows.length >= count || attempt >= 200) return rows;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

test('OpenLIT 1.15: cache-exclusive Anthropic input is normalized; one exact row per call', async () => {
  const anthropic = new AnthropicModule.Anthropic({
    apiKey: 'sk-ant-test',
    baseURL: fake.anthropicBaseUrl,
    maxRetries: 0,
    openTelemetry: { traces: false }, // the SDK's own spans would describe the same call a second time
  });
  await anthropic.messages.create({ model: 'claude-sonnet-4-20250514', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
  const openai = new OpenAI({ apiKey: 'sk-test', baseURL: fake.openAiBaseUrl, maxRetries: 0 });
  await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });

  assert.equal(fake.requests.length, 2);
  const rows = await rowsWhenCount(2);
  assert.deepEqual(sortByModel(rows.map(pick)), [
    row({ provider: 'anthropic', model: 'claude-sonnet-4-20250514', operation: 'chat', input_tokens: '3000', cached_input_tokens: '1000', cache_write_tokens: '500', output_tokens: '200', total_tokens: '3200', request_cost_usd: '0.009675000000', instrumentation_scope: '@openlit/instrumentation-anthropic' }),
    row({ provider: 'openai', model: 'gpt-4o-mini-2024-07-18', operation: 'chat', input_tokens: '1000', cached_input_tokens: '200', output_tokens: '500', total_tokens: '1500', request_cost_usd: '0.000435000000', instrumentation_scope: '@openlit/instrumentation-openai' }),
  ]);
  assert.deepEqual(conventions(rows), [
    ['claude-sonnet-4-20250514', 'input_excludes_cache', 'openlit'],
    ['gpt-4o-mini-2024-07-18', 'otel', 'openlit'],
  ]);
});
