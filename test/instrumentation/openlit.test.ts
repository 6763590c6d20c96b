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

test('OpenLIT 1.15: streamed Anthropic and OpenAI calls give one exact row each', async () => {
  const rowsBefore = (await readLedgerRows(ledger.dbPath)).length;
  const requestsBefore = fake.requests.length;
  const anthropic = new AnthropicModule.Anthropic({
    apiKey: 'sk-ant-test',
    baseURL: fake.anthropicBaseUrl,
    maxRetries: 0,
    openTelemetry: { traces: false },
  });
  const anthropicStream = await anthropic.messages.create({
    model: 'claude-3-5-haiku-20241022',
    max_tokens: 100,
    messages: [{ role: 'user', content: 'hi' }],
    stream: true,
  });
  for await (const _event of anthropicStream) void _event;
  const openai = new OpenAI({ apiKey: 'sk-test', baseURL: fake.openAiBaseUrl, maxRetries: 0 });
  const openaiStream = await openai.chat.completions.create({
    model: 'gpt-4o',
    messages: [{ role: 'user', content: 'hi' }],
    stream: true,
    stream_options: { include_usage: true },
  });
  for await (const _chunk of openaiStream) void _chunk;
  assert.equal(fake.requests.length - requestsBefore, 2);
  assert.ok(fake.requests.slice(requestsBefore).every((r) => r.stream));

  const rows = (await rowsWhenCount(rowsBefore + 2)).filter((r) => r['model'] === 'claude-3-5-haiku-20241022' || r['model'] === 'gpt-4o-2024-08-06');
  assert.deepEqual(sortByModel(rows.map(pick)), [
    // claude-3-5-haiku streamed: 100 uncached + 2000 cache reads = 2100 input (normalized from OpenLIT's
    // cache-exclusive count). The provider's output is 50, but OpenLIT 1.15 ADDS the provisional
    // output_tokens of `message_start` (1, as Anthropic sends) to the cumulative count of `message_delta`,
    // so its span says 51: the ledger records what the span says (+1 token, +$0.000004; documented in
    // docs/instrumentation.md). With no cache writes OpenLIT sets no cache-creation attribute: NULL.
    // 100 × 0.80 + 2000 × 0.08 + 51 × 4 = 80 + 160 + 204 µ$ = $0.000444.
    row({ provider: 'anthropic', model: 'claude-3-5-haiku-20241022', operation: 'chat', input_tokens: '2100', cached_input_tokens: '2000', output_tokens: '51', total_tokens: '2151', request_cost_usd: '0.000444000000', instrumentation_scope: '@openlit/instrumentation-anthropic' }),
    // gpt-4o streamed (usage from the include_usage chunk): 500 × 2.50 + 100 × 1.25 + 50 × 10 = $0.001875.
    row({ provider: 'openai', model: 'gpt-4o-2024-08-06', operation: 'chat', input_tokens: '600', cached_input_tokens: '100', output_tokens: '50', total_tokens: '650', request_cost_usd: '0.001875000000', instrumentation_scope: '@openlit/instrumentation-openai' }),
  ]);
});
