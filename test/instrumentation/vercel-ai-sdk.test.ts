/**
 * The real Vercel AI SDK (`ai` 6, `@ai-sdk/openai` 3, `@ai-sdk/anthropic` 3) with telemetry on, calling a
 * local fake provider with known usage; spans go over real OTLP to a running genai-ledger.
 *
 * Each call makes a wrapper span (`ai.generateText`, `ai.streamText`, `ai.embed`) that repeats the usage of
 * its inner provider-call span (`….doGenerate`, `….doStream`, `….doEmbed`): the ledger must hold exactly one
 * row per provider call, on the inner span.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { embed, generateText, streamText } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';
import { createAnthropic } from '@ai-sdk/anthropic';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { countLedgerSpans, readLedgerRows } from '../helpers/ledger-rows.js';
import { startFakeProvider, type FakeProvider } from '../helpers/fake-provider.js';
import { startInstrumentedApp, type InstrumentedApp } from '../helpers/instrumented-app.js';
import { ANTHROPIC_USAGE, OPENAI_USAGE, pick, row, sortByModel } from '../helpers/instrumentation-expectations.js';

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

test('Vercel AI SDK 6: generate, stream and embed with OpenAI and Anthropic give one exact row per provider call', async () => {
  const openai = createOpenAI({ apiKey: 'sk-test', baseURL: fake.openAiBaseUrl });
  const anthropic = createAnthropic({ apiKey: 'sk-ant-test', baseURL: `${fake.anthropicBaseUrl}/v1` });
  // Ownership on the span itself, as apps usually do it with the AI SDK.
  const telemetry = { isEnabled: true, metadata: { teamId: 'search', sessionId: 'conv-1' } };

  await generateText({ model: openai.chat('gpt-4o-mini'), prompt: 'hi', experimental_telemetry: telemetry });
  const streamed = streamText({ model: openai.chat('gpt-4o'), prompt: 'hi', experimental_telemetry: telemetry });
  for await (const _part of streamed.textStream) void _part;
  await generateText({ model: openai.chat('o3-mini'), prompt: 'think', experimental_telemetry: telemetry });
  await generateText({ model: openai.responses('o4-mini'), prompt: 'think', experimental_telemetry: telemetry });
  await embed({ model: openai.embedding('text-embedding-3-small'), value: 'hello', experimental_telemetry: telemetry });
  await generateText({ model: anthropic('claude-sonnet-4-20250514'), prompt: 'hi', experimental_telemetry: telemetry });
  const streamedClaude = streamText({ model: anthropic('claude-3-5-haiku-20241022'), prompt: 'hi', experimental_telemetry: telemetry });
  for await (const _part of streamedClaude.textStream) void _part;
  await app.flush();

  assert.equal(fake.requests.length, 7);
  // Exactly one billed row per provider call; the wrapper spans are not calls, so not even duplicates.
  assert.deepEqual(await countLedgerSpans(ledger.dbPath), { billed: 7, duplicates: 0 });
  const rows = await readLedgerRows(ledger.dbPath);
  const owner = { team_id: 'search', cost_center: 'CC-1001', attribution_source: 'span', instrumentation_scope: 'ai' };
  assert.deepEqual(sortByModel(rows.map(pick)), [
    // claude-3-5-haiku, streamed: Anthropic's input 100 + 2000 cache reads = 2100.
    row({ ...owner, provider: 'anthropic', model: 'claude-3-5-haiku-20241022', operation: 'chat', input_tokens: '2100', cached_input_tokens: '2000', cache_write_tokens: '0', output_tokens: '50', total_tokens: '2150', request_cost_usd: '0.000440000000' }),
    // claude-sonnet-4: Anthropic's input 1500 + 1000 cache reads + 500 cache writes = 3000.
    row({ ...owner, provider: 'anthropic', model: 'claude-sonnet-4-20250514', operation: 'chat', input_tokens: '3000', cached_input_tokens: '1000', cache_write_tokens: '500', output_tokens: '200', total_tokens: '3200', request_cost_usd: '0.009675000000' }),
    row({ ...owner, provider: 'openai', model: 'gpt-4o-2024-08-06', operation: 'chat', input_tokens: '600', cached_input_tokens: '100', output_tokens: '50', reasoning_tokens: '0', total_tokens: '650', request_cost_usd: '0.001875000000' }),
    row({ ...owner, provider: 'openai', model: 'gpt-4o-mini-2024-07-18', operation: 'chat', input_tokens: '1000', cached_input_tokens: '200', output_tokens: '500', reasoning_tokens: '0', total_tokens: '1500', request_cost_usd: '0.000435000000' }),
    row({ ...owner, provider: 'openai', model: 'o3-mini-2025-01-31', operation: 'chat', input_tokens: '100', cached_input_tokens: '0', output_tokens: '1000', reasoning_tokens: '800', total_tokens: '1100', request_cost_usd: '0.004510000000' }),
    // Responses API: ai.model.provider is `openai.responses`.
    row({ ...owner, provider: 'openai', model: 'o4-mini-2025-04-16', operation: 'chat', input_tokens: '2000', cached_input_tokens: '1000', output_tokens: '300', reasoning_tokens: '200', total_tokens: '2300', request_cost_usd: '0.002695000000' }),
    row({ ...owner, provider: 'openai', model: 'text-embedding-3-small', operation: 'embeddings', input_tokens: '8', request_cost_usd: '0.000000160000' }),
  ]);
});
