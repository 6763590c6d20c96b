/**
 * The real `openai` 4.x client (Elastic's instrumentation supports `openai >=4.19 <5` only; installed here
 * as the `openai-4` alias of openai@4.104.0) instrumented by `@elastic/opentelemetry-instrumentation-openai`
 * 0.5.1, calling the local fake provider with known usage; spans go over real OTLP to a running genai-ledger.
 *
 * The instrumentation patches `openai` when it is required; the alias has another package name, so the
 * test applies the instrumentation's own module patch to the loaded module, as its require hook would.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { OpenAIInstrumentation } from '@elastic/opentelemetry-instrumentation-openai';
import { startTestServer } from '../helpers/test-server.js';
import { readLedgerRows } from '../helpers/ledger-rows.js';
import { startFakeProvider, type FakeProvider } from '../helpers/fake-provider.js';
import { startInstrumentedApp } from '../helpers/instrumented-app.js';
import { OPENAI_USAGE, pick, row, sortByModel } from '../helpers/instrumentation-expectations.js';

interface OpenAiClient {
  chat: { completions: { create(body: object): Promise<AsyncIterable<unknown> & object> } };
  embeddings: { create(body: object): Promise<unknown> };
}
interface OpenAiModule {
  OpenAI: new (options: { apiKey: string; baseURL: string; maxRetries: number }) => OpenAiClient;
}
interface ModuleDefinition {
  name: string;
  patch?: (exports: unknown, version?: string) => unknown;
  unpatch?: (exports: unknown, version?: string) => void;
}

let fake: FakeProvider;

before(async () => {
  fake = await startFakeProvider(OPENAI_USAGE);
});

after(async () => {
  await fake?.close();
});

test('@elastic/opentelemetry-instrumentation-openai 0.5.1 (openai 4.104): chat, streaming, reasoning and embeddings give one exact row each', async () => {
  const ledger = await startTestServer();
  const app = startInstrumentedApp(ledger.httpUrl, { 'service.name': 'checkout-assistant', 'deployment.environment.name': 'production' });
  const instrumentation = new OpenAIInstrumentation({ enabled: false });
  instrumentation.setTracerProvider(app.provider);
  instrumentation.enable();
  const openai = createRequire(import.meta.url)('openai-4') as OpenAiModule;
  const definition = (instrumentation as unknown as { getModuleDefinitions(): ModuleDefinition[] })
    .getModuleDefinitions()
    .find((d) => d.name === 'openai');
  assert.ok(definition?.patch, 'the instrumentation defines a patch for the openai module');
  definition.patch(openai, '4.104.0');
  try {
    const callsBefore = fake.requests.length;
    const client = new openai.OpenAI({ apiKey: 'sk-test', baseURL: fake.openAiBaseUrl, maxRetries: 0 });
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    for await (const _chunk of stream) void _chunk;
    await client.chat.completions.create({ model: 'o3-mini', messages: [{ role: 'user', content: 'think' }] });
    await client.embeddings.create({ model: 'text-embedding-3-small', input: 'hello' });
    await app.flush();
    assert.equal(fake.requests.length - callsBefore, 4, 'provider calls made');

    const ledgerRows = await readLedgerRows(ledger.dbPath);
    const rows = sortByModel(ledgerRows.map(pick));
    const scope = '@elastic/opentelemetry-instrumentation-openai';
    // What Elastic 0.5.1 sends (documented in docs/instrumentation.md): current GenAI semconv names with
    // `gen_ai.system = openai`, input/output totals only — no cached or reasoning counts — so cached input is
    // billed at the uncached rate (gpt-4o-mini: 1000 × 0.15 + 500 × 0.60 = $0.00045, true cost $0.000435;
    // gpt-4o: 600 × 2.50 + 50 × 10 = $0.002, true cost $0.001875). Streaming usage is read from the
    // include_usage chunk. Reasoning tokens are inside output_tokens, so o3-mini's cost is exact. Embeddings
    // carry input tokens only (total stays NULL, as for @opentelemetry/instrumentation-openai).
    assert.deepEqual(rows, [
      row({ provider: 'openai', model: 'gpt-4o-2024-08-06', operation: 'chat', input_tokens: '600', output_tokens: '50', total_tokens: '650', request_cost_usd: '0.002000000000', instrumentation_scope: scope }),
      row({ provider: 'openai', model: 'gpt-4o-mini-2024-07-18', operation: 'chat', input_tokens: '1000', output_tokens: '500', total_tokens: '1500', request_cost_usd: '0.000450000000', instrumentation_scope: scope }),
      row({ provider: 'openai', model: 'o3-mini-2025-01-31', operation: 'chat', input_tokens: '100', output_tokens: '1000', total_tokens: '1100', request_cost_usd: '0.004510000000', instrumentation_scope: scope }),
      row({ provider: 'openai', model: 'text-embedding-3-small', operation: 'embeddings', input_tokens: '8', request_cost_usd: '0.000000160000', instrumentation_scope: scope }),
    ]);
  } finally {
    definition.unpatch?.(openai, '4.104.0');
    instrumentation.disable();
    await app.shutdown();
    await ledger.close();
  }
});
