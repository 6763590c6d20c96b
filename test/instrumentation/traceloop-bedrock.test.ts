/**
 * The real `@aws-sdk/client-bedrock-runtime`, instrumented by the real `@traceloop/instrumentation-bedrock`,
 * against a local fake Bedrock endpoint; spans go over real OTLP to a running genai-ledger.
 *
 * Traceloop 0.27.0 splits the model id into vendor and model and reports only the model part
 * (`us.anthropic.claude-3-5-sonnet-20241022-v2:0` → `claude-3-5-sonnet-20241022-v2:0`): the ledger restores
 * the Bedrock vendor prefix in `model` (the region prefix is lost upstream) and keeps what was sent in
 * `request_model`.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as bedrock from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { BedrockInstrumentation } from '@traceloop/instrumentation-bedrock';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { readLedgerRows } from '../helpers/ledger-rows.js';
import { startFakeProvider, type FakeProvider } from '../helpers/fake-provider.js';
import { startInstrumentedApp, type InstrumentedApp } from '../helpers/instrumented-app.js';
import { BEDROCK_USAGE, pick, row } from '../helpers/instrumentation-expectations.js';

let ledger: TestServer;
let fake: FakeProvider;
let app: InstrumentedApp;

before(async () => {
  ledger = await startTestServer();
  fake = await startFakeProvider(BEDROCK_USAGE);
  app = startInstrumentedApp(ledger.httpUrl, { 'service.name': 'checkout-assistant', 'deployment.environment.name': 'production' });
  const instrumentation = new BedrockInstrumentation({ traceContent: false });
  instrumentation.setTracerProvider(app.provider);
  instrumentation.manuallyInstrument(bedrock as unknown as Parameters<typeof instrumentation.manuallyInstrument>[0]);
});

after(async () => {
  await app?.shutdown();
  await fake?.close();
  await ledger?.close();
});

test('@traceloop/instrumentation-bedrock 0.27: InvokeModel with a cross-region Anthropic id gives one exact row', async () => {
  const client = new bedrock.BedrockRuntimeClient({
    region: 'us-east-1',
    endpoint: fake.bedrockEndpoint,
    credentials: { accessKeyId: 'AKIDFAKE', secretAccessKey: 'fake-secret' },
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler(),
  });
  await client.send(
    new bedrock.InvokeModelCommand({
      modelId: 'us.anthropic.claude-3-5-sonnet-20241022-v2:0',
      contentType: 'application/json',
      accept: 'application/json',
      body: JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }),
    }),
  );
  await app.flush();

  assert.equal(fake.requests.length, 1);
  const rows = await readLedgerRows(ledger.dbPath);
  assert.equal(rows.length, 1);
  assert.equal(rows[0]?.['request_model'], 'claude-3-5-sonnet-20241022-v2:0');
  // 300 × 3 + 40 × 15 = 900 + 600 µ$ (Bedrock's regional list price for claude-3.5-sonnet v2).
  assert.deepEqual(rows.map(pick), [
    row({ provider: 'aws.bedrock', model: 'anthropic.claude-3-5-sonnet-20241022-v2:0', operation: 'chat', input_tokens: '300', output_tokens: '40', total_tokens: '340', request_cost_usd: '0.001500000000', instrumentation_scope: '@traceloop/instrumentation-bedrock' }),
  ]);
});
