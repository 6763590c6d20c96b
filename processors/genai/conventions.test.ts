import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { KeyValueList, type AnyValue, type KeyValue, type Span } from '../../core/otlp.js';
import { keyValues, testSpan } from '../../core/testing/test-span.js';
import { extractGenAiCall, type ScopeInfo, type TokenUsage } from './extract-genai-call.js';
import { COUNT_FIELDS } from './attribute-keys.js';
import { decimalText } from './decimal-text.js';
import { normalizeModel, splitGatewayModel } from './model-names.js';
import { normalizeProvider } from './provider-names.js';
import { parsePythonLiteral, structuredAt, structuredValue } from './structured-value.js';

function span(attributes: Record<string, AnyValue>): Span {
  return testSpan({ attributes: keyValues(attributes) });
}

test('python repr text parses leniently; what does not parse is absent, never an error', () => {
  assert.deepEqual(parsePythonLiteral("{'team_id': 'search', 'n': 3, 'f': 2.5, 'ok': True, 'no': False, 'x': None}"), {
    team_id: 'search',
    n: 3,
    f: 2.5,
    ok: true,
    no: false,
    x: null,
  });
  assert.deepEqual(parsePythonLiteral(`{"a": ('x', [1, 2]), 'q': 'it\\'s'}`), { a: ['x', [1, 2]], q: "it's" });
  assert.deepEqual(parsePythonLiteral('{}'), {});
  assert.equal(parsePythonLiteral("{'a': datetime.datetime(2024, 1, 1)}"), undefined);
  assert.equal(parsePythonLiteral("{'a': <object at 0x7f>}"), undefined);
  assert.equal(parsePythonLiteral("{'a': 1} trailing"), undefined);
  assert.equal(parsePythonLiteral("{'a': 'unterminated}"), undefined);
});

test('structuredValue reads JSON, python repr and kvlists; plain text and other types are not structures', () => {
  assert.deepEqual(structuredValue('{"a": {"b": 1}}'), { a: { b: 1 } });
  assert.deepEqual(structuredValue("{'a': {'b': 1}}"), { a: { b: 1 } });
  assert.deepEqual(
    structuredValue(new KeyValueList([{ key: 'a', value: new KeyValueList([{ key: 'b', value: 5n }]) }])),
    { a: { b: 5 } },
  );
  assert.equal(structuredValue('search'), undefined);
  assert.equal(structuredValue(42), undefined);
  assert.equal(structuredValue(''), undefined);
  assert.equal(structuredAt({ a: { b: 1 } }, ['a', 'b']), 1);
  assert.equal(structuredAt({ a: { b: 1 } }, ['a', 'c']), undefined);
  assert.equal(structuredAt({ a: [1] }, ['a', '0']), undefined);
  assert.equal(structuredAt({ a: 1 }, ['toString']), undefined);
});

test('decimalText: plain canonical decimals, exponents expanded, junk rejected', () => {
  const table: [string, string | null][] = [
    ['0.00123', '0.00123'],
    ['4.35e-7', '0.000000435'],
    ['1E3', '1000'],
    ['1.5e2', '150'],
    ['007.500', '7.5'],
    ['0', '0'],
    ['.5', '0.5'],
    ['12.', '12'],
    ['-1', null],
    ['NaN', null],
    ['1e999', null],
    ['abc', null],
    ['', null],
  ];
  for (const [input, expected] of table) assert.equal(decimalText(input), expected, input);
});

test('normalizeProvider: LiteLLM slugs and AI SDK provider ids map to OTel names', () => {
  const table: [string, string][] = [
    ['bedrock', 'aws.bedrock'],
    ['bedrock_converse', 'aws.bedrock'],
    ['vertex_ai', 'gcp.vertex_ai'],
    ['vertex_ai_beta', 'gcp.vertex_ai'],
    ['azure', 'azure.ai.openai'],
    ['azure_ai', 'azure.ai.inference'],
    ['text-completion-openai', 'openai'],
    ['cohere_chat', 'cohere'],
    ['openai.responses', 'openai'],
    ['openai.chat', 'openai'],
    ['openai.embedding', 'openai'],
    ['anthropic.messages', 'anthropic'],
    ['amazon-bedrock', 'aws.bedrock'],
    ['google.vertex.chat', 'gcp.vertex_ai'],
    ['vertex.anthropic.messages', 'gcp.vertex_ai'],
    ['azure.chat', 'azure.ai.openai'],
    ['mistral.chat', 'mistral_ai'],
    ['xai.chat', 'x_ai'],
    ['AWS', 'aws.bedrock'],
  ];
  for (const [input, expected] of table) assert.equal(normalizeProvider(input), expected, input);
});

test('normalizeModel repairs mangled ids, keeps Bedrock region prefixes and ARNs, and is idempotent', () => {
  const table: [string | null, string, string][] = [
    ['aws.bedrock', 'claude-3-haiku-20240307-v1:0', 'anthropic.claude-3-haiku-20240307-v1:0'],
    ['aws.bedrock', 'llama3-70b-instruct-v1:0', 'meta.llama3-70b-instruct-v1:0'],
    ['aws.bedrock', 'nova-pro-v1:0', 'amazon.nova-pro-v1:0'],
    ['aws.bedrock', 'us.anthropic.claude-3-5-sonnet-20241022-v2:0', 'us.anthropic.claude-3-5-sonnet-20241022-v2:0'],
    ['aws.bedrock', 'global.anthropic.claude-sonnet-4-20250514-v1:0', 'global.anthropic.claude-sonnet-4-20250514-v1:0'],
    [
      'aws.bedrock',
      'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20241022-v2:0',
      'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20241022-v2:0',
    ],
    ['aws.bedrock', 'bedrock/us.anthropic.claude-3-5-sonnet-20241022-v2:0', 'us.anthropic.claude-3-5-sonnet-20241022-v2:0'],
    ['anthropic', 'anthropic/claude-3-5-haiku-20241022', 'claude-3-5-haiku-20241022'],
    [null, 'openai/gpt-4o-mini', 'gpt-4o-mini'],
    ['together_ai', 'meta-llama/Llama-3-70b-chat-hf', 'meta-llama/Llama-3-70b-chat-hf'],
    ['openai', 'claude-like-but-openai', 'claude-like-but-openai'],
  ];
  for (const [provider, input, expected] of table) {
    const once = normalizeModel(provider, input);
    assert.equal(once, expected, input);
    assert.equal(normalizeModel(provider, once), once, `idempotent: ${input}`);
  }
  assert.deepEqual(splitGatewayModel('vertex_ai/gemini-1.5-pro'), { provider: 'gcp.vertex_ai', model: 'gemini-1.5-pro' });
  assert.equal(splitGatewayModel('meta-llama/Llama-3'), null);
});

test('a gateway model prefix supplies the provider when no provider attribute was sent', () => {
  const call = extractGenAiCall(
    span({ 'gen_ai.request.model': 'anthropic/claude-3-5-haiku-20241022', 'gen_ai.usage.input_tokens': 5, 'gen_ai.usage.output_tokens': 1 }),
  );
  assert.equal(call?.provider, 'anthropic');
  assert.equal(call?.model, 'claude-3-5-haiku-20241022');
  assert.equal(call?.requestModel, 'anthropic/claude-3-5-haiku-20241022');
});

test('a malformed nested blob costs nothing but its own fields', () => {
  const call = extractGenAiCall(
    span({
      'llm.model_name': 'gpt-4o',
      metadata: '{"team_id": "growth", ',
      'llm.token_count.prompt': 10,
      'llm.token_count.completion': 2,
      'langfuse.observation.usage_details': 'not json',
    }),
  );
  assert.equal(call?.ownership.teamId, null);
  assert.equal(call?.inputTokens, 10);
  assert.equal(call?.tokenSource, 'openinference');
});

// ---- property: whatever library and convention produced a span, the normalized call re-read as plain
// OTel attributes is unchanged (normalizing twice changes nothing). ----

/** Count keys split into flat attribute keys and nested (`attr#path`) ones. */
const countKeys = Object.values(COUNT_FIELDS).flat();

interface Source {
  scope: ScopeInfo;
  extra: Record<string, AnyValue>;
}
const sources: Source[] = [
  { scope: { name: '', version: '' }, extra: {} },
  { scope: { name: '@traceloop/instrumentation-anthropic', version: '0.27.0' }, extra: {} },
  { scope: { name: '@traceloop/instrumentation-anthropic', version: '0.40.0' }, extra: {} },
  { scope: { name: 'openlit.otel.tracing', version: '1.0.0' }, extra: { 'telemetry.sdk.name': 'openlit' } },
  { scope: { name: 'litellm', version: '' }, extra: {} },
  { scope: { name: 'ai', version: '' }, extra: { 'ai.operationId': 'ai.generateText.doGenerate' } },
  { scope: { name: 'langfuse-sdk', version: '4.2.0' }, extra: { 'langfuse.observation.type': 'generation' } },
];

test('property: normalized calls satisfy the invariants for every source, and re-reading them changes nothing', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...sources),
      fc.constantFrom('anthropic', 'openai', 'aws.bedrock'),
      fc.constantFrom('claude-sonnet-4-20250514', 'gpt-4o', 'claude-3-haiku-20240307-v1:0', 'anthropic/claude-3-5-haiku'),
      fc.array(fc.tuple(fc.constantFrom(...countKeys), fc.nat({ max: 1_000_000 })), { maxLength: 10 }),
      fc.boolean(),
      (source, provider, model, usage, pythonRepr) => {
        const attributes: Record<string, AnyValue> = { 'gen_ai.system': provider, 'gen_ai.request.model': model, ...source.extra };
        const nested = new Map<string, Record<string, unknown>>();
        for (const [key, value] of usage) {
          const hash = key.indexOf('#');
          if (hash === -1) {
            attributes[key] ??= value;
            continue;
          }
          const root = nested.get(key.slice(0, hash)) ?? {};
          nested.set(key.slice(0, hash), root);
          let node = root;
          const path = key.slice(hash + 1).split('.');
          for (const step of path.slice(0, -1)) node = (node[step] ??= {}) as Record<string, unknown>;
          node[path.at(-1)!] ??= value;
        }
        for (const [key, value] of nested) {
          const json = JSON.stringify(value);
          attributes[key] = pythonRepr ? json.replaceAll('"', "'") : json;
        }
        const call = extractGenAiCall(span(attributes), source.scope);
        assert.notEqual(call, null);
        if (call === null) return;
        const cache = (call.cachedInputTokens ?? 0) + (call.cacheWriteTokens ?? 0);
        if (call.inputTokens !== null) assert.ok(call.inputTokens >= cache, 'input >= cache');
        if (cache > 0) assert.notEqual(call.inputTokens, null);
        if (call.outputTokens !== null) assert.ok(call.outputTokens >= (call.reasoningTokens ?? 0), 'output >= reasoning');
        if (call.inputTokens !== null && call.outputTokens !== null) {
          assert.equal(call.totalTokens, call.inputTokens + call.outputTokens);
        }
        if (call.model !== null) assert.equal(normalizeModel(call.provider, call.model), call.model);

        const again: KeyValue[] = [
          { key: 'gen_ai.provider.name', value: call.provider ?? 'x' },
          { key: 'gen_ai.request.model', value: call.model ?? 'x' },
        ];
        const otel: [string, number | null][] = [
          ['gen_ai.usage.input_tokens', call.inputTokens],
          ['gen_ai.usage.cache_read.input_tokens', call.cachedInputTokens],
          ['gen_ai.usage.cache_creation.input_tokens', call.cacheWriteTokens],
          ['gen_ai.usage.output_tokens', call.outputTokens],
          ['gen_ai.usage.reasoning.output_tokens', call.reasoningTokens],
          ['gen_ai.usage.total_tokens', call.totalTokens],
        ];
        for (const [key, value] of otel) if (value !== null) again.push({ key, value });
        const reread = extractGenAiCall({ ...span({}), attributes: again });
        assert.equal(reread?.tokenConvention, 'otel');
        assert.equal(reread?.model, call.model);
        for (const field of Object.keys(COUNT_FIELDS)) {
          const f = field as keyof TokenUsage;
          assert.equal(reread?.[f], call[f], field);
        }
      },
    ),
    { numRuns: 1500 },
  );
});
