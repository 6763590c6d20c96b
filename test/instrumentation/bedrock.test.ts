/**
 * The real `@aws-sdk/client-bedrock-runtime`, instrumented by the real `@opentelemetry/instrumentation-aws-sdk`
 * (this file) — Converse, ConverseStream and InvokeModel against a local fake Bedrock endpoint; spans go over real OTLP
 * to a running genai-ledger.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { AwsInstrumentation } from '@opentelemetry/instrumentation-aws-sdk';
import type * as BedrockModule from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { readLedgerRows } from '../helpers/ledger-rows.js';
import { startFakeProvider, type FakeProvider } from '../helpers/fake-provider.js';
import { startInstrumentedApp, type InstrumentedApp } from '../helpers/instrumented-app.js';
import { BEDROCK_USAGE, pick, row, sortByModel } from '../helpers/instrumentation-expectations.js';

let ledger: TestServer;
let fake: FakeProvider;
let app: InstrumentedApp;
let bedrock: typeof BedrockModule;

before(async () => {
  ledger = await startTestServer();
  fake = await startFakeProvider(BEDROCK_USAGE);
  app = startInstrumentedApp(ledger.httpUrl, { 'service.name': 'checkout-assistant', 'deployment.environment.name': 'production' });
  const instrumentation = new AwsInstrumentation({ suppressInternalInstrumentation: true });
  instrumentation.setTracerProvider(app.provider);
  instrumentation.enable();
  // The instrumentation hooks the AWS SDK's CommonJS modules: load the client after enabling it.
  bedrock = createRequire(import.meta.url)('@aws-sdk/client-bedrock-runtime') as typeof BedrockModule;
});

after(async () => {
  await app?.shutdown();
  await fake?.close();
  await ledger?.close();
});

/** The real Bedrock runtime client, pointed at the fake provider. */
function fakeBedrockClient(): InstanceType<typeof bedrock.BedrockRuntimeClient> {
  return new bedrock.BedrockRuntimeClient({
    region: 'us-east-1',
    endpoint: fake.bedrockEndpoint,
    credentials: { accessKeyId: 'AKIDFAKE', secretAccessKey: 'fake-secret' },
    maxAttempts: 1,
    // The Bedrock runtime client defaults to HTTP/2; the fake speaks HTTP/1.1.
    requestHandler: new NodeHttpHandler(),
  });
}

test('@opentelemetry/instrumentation-aws-sdk: Bedrock Converse and InvokeModel give one row each', async () => {
  const client = fakeBedrockClient();
  await client.send(
    new bedrock.ConverseCommand({
      modelId: 'anthropic.claude-3-haiku-20240307-v1:0',
      messages: [{ role: 'user', content: [{ text: 'hi' }] }],
    }),
  );
  await client.send(
    new bedrock.InvokeModelCommand({
      modelId: 'us.anthropic.claude-3-5-sonnet-20241022-v2:0',
      contentType: 'application/json',
      accept: 'application/json',
      body: JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }),
    }),
  );
  await app.flush();

  assert.equal(fake.requests.length, 2);
  const rows = await readLedgerRows(ledger.dbPath);
  const scope = '@opentelemetry/instrumentation-aws-sdk';
  // What instrumentation-aws-sdk 0.78.0 sends: Bedrock's `inputTokens` / `outputTokens` only. Converse's
  // cacheReadInputTokens (2000) and cacheWriteInputTokens (500) never reach the span, and Bedrock's
  // inputTokens excludes them, so those cache tokens are invisible to the ledger (under-billed — documented
  // in docs/instrumentation.md). InvokeModel spans carry no gen_ai.operation.name: operation stays NULL.
  assert.deepEqual(sortByModel(rows.map(pick)), [
    // claude-3-haiku on Bedrock: $0.25 input, $1.25 output: 1000 × 0.25 + 100 × 1.25 = 250 + 125 µ$
    row({ provider: 'aws.bedrock', model: 'anthropic.claude-3-haiku-20240307-v1:0', operation: 'chat', input_tokens: '1000', output_tokens: '100', total_tokens: '1100', request_cost_usd: '0.000375000000', instrumentation_scope: scope }),
    // claude-3.5-sonnet v2, US cross-region profile: $3 input, $15 output: 300 × 3 + 40 × 15 = 900 + 600 µ$
    row({ provider: 'aws.bedrock', model: 'us.anthropic.claude-3-5-sonnet-20241022-v2:0', input_tokens: '300', output_tokens: '40', total_tokens: '340', request_cost_usd: '0.001500000000', instrumentation_scope: scope }),
  ]);
});

test('@opentelemetry/instrumentation-aws-sdk: Bedrock ConverseStream gives one row with the usage of its metadata event', async () => {
  const client = fakeBedrockClient();
  const requestsBefore = fake.requests.length;
  const response = await client.send(
    new bedrock.ConverseStreamCommand({
      modelId: 'anthropic.claude-3-5-haiku-20241022-v1:0',
      messages: [{ role: 'user', content: [{ text: 'hi' }] }],
    }),
  );
  let text = '';
  let reportedUsage: { inputTokens?: number; outputTokens?: number } | undefined;
  for await (const event of response.stream ?? []) {
    text += event.contentBlockDelta?.delta?.text ?? '';
    reportedUsage ??= event.metadata?.usage;
  }
  // The client really decoded the event stream: the text and Bedrock's usage arrived.
  assert.equal(text, 'Hello from the fake stream.');
  assert.equal(reportedUsage?.inputTokens, 400);
  await app.flush();

  assert.equal(fake.requests.length - requestsBefore, 1);
  const rows = (await readLedgerRows(ledger.dbPath)).filter((r) => r['model'] === 'anthropic.claude-3-5-haiku-20241022-v1:0');
  // As for Converse, only inputTokens / outputTokens reach the span: the 1000 cache reads (which Bedrock's
  // inputTokens excludes) are not billed. claude-3.5-haiku on Bedrock: $0.80 input, $4 output:
  // 400 × 0.80 + 60 × 4 = 320 + 240 µ$ = $0.00056.
  assert.deepEqual(rows.map(pick), [
    row({ provider: 'aws.bedrock', model: 'anthropic.claude-3-5-haiku-20241022-v1:0', operation: 'chat', input_tokens: '400', output_tokens: '60', total_tokens: '460', request_cost_usd: '0.000560000000', instrumentation_scope: '@opentelemetry/instrumentation-aws-sdk' }),
  ]);
});

test('@opentelemetry/instrumentation-aws-sdk: Bedrock InvokeModelWithResponseStream (Anthropic body) gives one row, with the output count the span reports', async () => {
  const client = fakeBedrockClient();
  const requestsBefore = fake.requests.length;
  const response = await client.send(
    new bedrock.InvokeModelWithResponseStreamCommand({
      modelId: 'anthropic.claude-3-sonnet-20240229-v1:0',
      contentType: 'application/json',
      accept: 'application/json',
      body: JSON.stringify({ anthropic_version: 'bedrock-2023-05-31', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] }),
    }),
  );
  const events: { type?: string; usage?: { output_tokens?: number } }[] = [];
  for await (const event of response.body ?? []) {
    if (event.chunk?.bytes) events.push(JSON.parse(Buffer.from(event.chunk.bytes).toString('utf8')) as (typeof events)[number]);
  }
  // The client really decoded the stream: all six Anthropic events, the final output count among them.
  assert.equal(events.length, 6);
  assert.equal(events.find((e) => e.type === 'message_delta')?.usage?.output_tokens, 90);
  await app.flush();

  assert.equal(fake.requests.length - requestsBefore, 1);
  const rows = (await readLedgerRows(ledger.dbPath)).filter((r) => r['model'] === 'anthropic.claude-3-sonnet-20240229-v1:0');
  // instrumentation-aws-sdk 0.78.0 reads usage only from `message_start`, whose output_tokens is Anthropic's
  // provisional 1, and ignores message_delta's final 90 and Bedrock's invocation metrics: its span says
  // output 1, and the ledger records what the span says (under-billed by 89 output tokens here; documented
  // in docs/instrumentation.md). No operation name on InvokeModel spans. 700 × 3 + 1 × 15 = 2115 µ$.
  assert.deepEqual(rows.map(pick), [
    row({ provider: 'aws.bedrock', model: 'anthropic.claude-3-sonnet-20240229-v1:0', input_tokens: '700', output_tokens: '1', total_tokens: '701', request_cost_usd: '0.002115000000', instrumentation_scope: '@opentelemetry/instrumentation-aws-sdk' }),
  ]);
});
