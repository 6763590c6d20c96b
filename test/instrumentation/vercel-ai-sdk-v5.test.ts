/**
 * The real Vercel AI SDK 5 (`ai` 5.0.277 with `@ai-sdk/anthropic` 2.0.112 and `@ai-sdk/openai` 2.0.131,
 * installed under the aliases `ai-5`, `ai-sdk-anthropic-2`, `ai-sdk-openai-2`) with telemetry on, against a
 * local fake provider; spans go over real OTLP to a running genai-ledger.
 *
 * AI SDK 5's Anthropic provider reports input EXCLUSIVE of cache (Anthropic's raw `input_tokens`). On the
 * `doGenerate` span only `ai.usage.promptTokens` / `completionTokens` are set; the cache counts are only inside
 * the `ai.response.providerMetadata` JSON string (Anthropic's raw usage). `doStream` spans also carry
 * `ai.usage.cachedInputTokens`. The ledger must still show the OTel meaning.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateText, streamText } from 'ai-5';
import { createAnthropic } from 'ai-sdk-anthropic-2';
import { createOpenAI } from 'ai-sdk-openai-2';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { countLedgerSpans, readLedgerRows } from '../helpers/ledger-rows.js';
import { startFakeProvider, type FakeProvider } from '../helpers/fake-provider.js';
import { startInstrumentedApp, type InstrumentedApp } from '../helpers/instrumented-app.js';
import { ANTHROPIC_USAGE, OPENAI_USAGE, conventions, pick, row, sortByModel } from '../helpers/instrumentation-expectations.js';

let ledger: TestServer;
let fake: FakeProvider;
let app: InstrumentedApp;

before(async () => {
  ledger = await startTestServer();
  fake = await startFakeProvider({ ...OPENAI_USAGE, ...ANTHROPIC_USAGE });
  app = startInstrumentedApp(ledger.httpUrl, { 'service.name': 'checkout-assistant', 'deployment.environment.name': 'production' });
});

after(async () => {
  await app?.shutdown();
  await fake?.close();
  await ledger?.close();
});

test('Vercel AI SDK 5: cache-exclusive Anthropic input is normalized; one exact row per provider call', async () => {
  const anthropic = createAnthropic({ apiKey: 'sk-ant-test', baseURL: `${fake.anthropicBaseUrl}/v1` });
  const openai = createOpenAI({ apiKey: 'sk-test', baseURL: fake.openAiBaseUrl });
  const telemetry = { isEnabled: true, metadata: { team_id: 'search' } };

  await generateText({ model: anthropic('claude-sonnet-4-20250514'), prompt: 'hi', experimental_telemetry: telemetry });
  const streamed = streamText({ model: anthropic('claude-3-5-haiku-20241022'), prompt: 'hi', experimental_telemetry: telemetry });
  for await (const _part of streamed.textStream) void _part;
  await generateText({ model: openai.chat('gpt-4o-mini'), prompt: 'hi', experimental_telemetry: telemetry });
  await app.flush();

  assert.equal(fake.requests.length, 3);
  // Exactly one billed row per provider call; the wrapper spans are not calls, so not even duplicates.
  assert.deepEqual(await countLedgerSpans(ledger.dbPath), { billed: 3, duplicates: 0 });
  const rows = await readLedgerRows(ledger.dbPath);
  const owner = { team_id: 'search', cost_center: 'CC-1001', attribution_source: 'span', instrumentation_scope: 'ai' };
  assert.deepEqual(sortByModel(rows.map(pick)), [
    // 100 + 2000 cache reads. The stream's provider metadata reports no cache writes (0 → still 0).
    row({ ...owner, provider: 'anthropic', model: 'claude-3-5-haiku-20241022', operation: 'chat', input_tokens: '2100', cached_input_tokens: '2000', cache_write_tokens: '0', output_tokens: '50', total_tokens: '2150', request_cost_usd: '0.000440000000' }),
    // 1500 + 1000 cache reads + 500 cache writes (from ai.response.providerMetadata): parts (1500) do not
    // exceed the reported whole (1500), so only the AI SDK v5 source convention gets this right.
    row({ ...owner, provider: 'anthropic', model: 'claude-sonnet-4-20250514', operation: 'chat', input_tokens: '3000', cached_input_tokens: '1000', cache_write_tokens: '500', output_tokens: '200', total_tokens: '3200', request_cost_usd: '0.009675000000' }),
    // OpenAI through AI SDK 5: the doGenerate span carries no cached count (neither in ai.usage.* nor in the
    // provider metadata); only the ai.generateText wrapper has ai.usage.cachedInputTokens. The cached part
    // is billed at the uncached rate (1000 × 0.15 + 500 × 0.60 = $0.00045; true $0.000435). Merging the
    // wrapper's detail into the inner row is for the counted-once stage, not this reader.
    row({ ...owner, provider: 'openai', model: 'gpt-4o-mini-2024-07-18', operation: 'chat', input_tokens: '1000', output_tokens: '500', total_tokens: '1500', request_cost_usd: '0.000450000000' }),
  ]);
  assert.deepEqual(conventions(rows), [
    ['claude-3-5-haiku-20241022', 'input_excludes_cache', 'ai_sdk'],
    ['claude-sonnet-4-20250514', 'input_excludes_cache', 'ai_sdk'],
    ['gpt-4o-mini-2024-07-18', 'otel', 'ai_sdk'],
  ]);
});
