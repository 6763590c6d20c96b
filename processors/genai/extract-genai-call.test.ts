import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { KeyValueList, type AnyValue, type KeyValue, type Span } from '../../core/otlp.js';
import { testSpan } from '../../core/testing/test-span.js';
import { extractGenAiCall, type TokenUsage } from './extract-genai-call.js';
import { INVALID_TOKEN_COUNT, MAX_TOKENS_PER_CLASS, normalizeTokenUsage, parseTokenCount, readTokenCount } from './normalize-tokens.js';
import { normalizeOperation, normalizeProvider } from './provider-names.js';
import { COUNT_FIELDS, DETECTION_KEYS, DETECTION_PREFIXES, TEXT_FIELDS } from './attribute-keys.js';

// Tests run from dist/; the golden files live beside the sources.
const TESTDATA = path.resolve(fileURLToPath(import.meta.url), '../../../../processors/genai/testdata');
const UPDATE_GOLDEN = process.env['UPDATE_GOLDEN'] === '1';

/**
 * Golden input format: `{ "name": "...", "scope": {"name": "...", "version": "..."}?, "attributes": { "key": value } }`.
 * JSON values map to AnyValue
 * directly; `{"$bigint": "123"}` is a bigint, any other object a KeyValueList.
 */
function toAnyValue(json: unknown): AnyValue {
  if (json === null || typeof json === 'string' || typeof json === 'number' || typeof json === 'boolean') return json;
  if (Array.isArray(json)) return json.map(toAnyValue);
  if (typeof json === 'object') {
    const record = json as Record<string, unknown>;
    if (typeof record['$bigint'] === 'string') return BigInt(record['$bigint']);
    return new KeyValueList(Object.entries(record).map(([key, value]) => ({ key, value: toAnyValue(value) })));
  }
  throw new Error(`unsupported JSON value ${String(json)}`);
}

function makeSpan(name: string, attributes: KeyValue[]): Span {
  return testSpan({ name, attributes });
}

function spanFromJson(json: { name?: string; attributes?: Record<string, unknown> }): Span {
  const attributes = Object.entries(json.attributes ?? {}).map(([key, value]) => ({ key, value: toAnyValue(value) }));
  return makeSpan(json.name ?? 'span', attributes);
}

const cases = readdirSync(TESTDATA, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

test('golden cases exist', () => {
  assert.ok(cases.length >= 12, `expected at least 12 golden cases in ${TESTDATA}, found ${cases.length}`);
});

for (const name of cases) {
  test(`golden: ${name}`, () => {
    const dir = path.join(TESTDATA, name);
    const input = JSON.parse(readFileSync(path.join(dir, 'input.json'), 'utf8'));
    const actual = extractGenAiCall(spanFromJson(input), input.scope ?? undefined);
    const expectedFile = path.join(dir, 'expected.json');
    if (UPDATE_GOLDEN || !existsSync(expectedFile)) {
      if (!UPDATE_GOLDEN) assert.fail(`${expectedFile} is missing; run with UPDATE_GOLDEN=1 to create it`);
      writeFileSync(expectedFile, JSON.stringify(actual, null, 2) + '\n');
      return;
    }
    assert.deepEqual(actual, JSON.parse(readFileSync(expectedFile, 'utf8')));
  });
}

test('non-GenAI spans are skipped, including ones with GenAI-looking but non-detecting keys', () => {
  const http: KeyValue[] = [];
  for (let i = 0; i < 40; i++) http.push({ key: `http.attr_${i}`, value: i });
  assert.equal(extractGenAiCall(makeSpan('GET /', http)), null);
  // usage alone does not make a call
  assert.equal(extractGenAiCall(makeSpan('x', [{ key: 'gen_ai.usage.input_tokens', value: 5 }])), null);
  // a detection key with an empty value does not either
  assert.equal(extractGenAiCall(makeSpan('x', [{ key: 'gen_ai.system', value: '  ' }])), null);
  // keys that only share a prefix
  assert.equal(extractGenAiCall(makeSpan('x', [{ key: 'ai.something', value: 'gpt-4o' }])), null);
});

test('first occurrence of a duplicated key wins', () => {
  const call = extractGenAiCall(
    makeSpan('chat', [
      { key: 'gen_ai.request.model', value: 'gpt-4o' },
      { key: 'gen_ai.request.model', value: 'gpt-3.5-turbo' },
    ]),
  );
  assert.equal(call?.requestModel, 'gpt-4o');
});

test('an unusable value falls through to the next key of the field', () => {
  const call = extractGenAiCall(
    makeSpan('chat', [
      { key: 'gen_ai.system', value: 'openai' },
      { key: 'gen_ai.usage.input_tokens', value: 'n/a' },
      { key: 'gen_ai.usage.prompt_tokens', value: 12 },
      { key: 'team_id', value: '' },
      { key: 'app.team_id', value: 'search' },
    ]),
  );
  assert.equal(call?.inputTokens, 12);
  assert.equal(call?.ownership.teamId, 'search');
});

test('a count that is present but unreadable is reported, never read as absent', () => {
  for (const value of [-1, 12.5, 'lots', [1], true, 2 ** 53 - 1, '99999999999999999999999999', 1e12 + 1, -3n] as AnyValue[]) {
    const call = extractGenAiCall(
      makeSpan('chat', [
        { key: 'gen_ai.request.model', value: 'gpt-4o' },
        { key: 'gen_ai.usage.input_tokens', value },
        { key: 'gen_ai.usage.cache_read.input_tokens', value: 10 },
        { key: 'gen_ai.usage.output_tokens', value: 5 },
      ]),
    );
    assert.deepEqual(call?.invalidTokenKeys, ['gen_ai.usage.input_tokens'], String(value));
    assert.equal(call?.inputTokens, null, 'input stays unknown, not derived from the cache reads');
    assert.equal(call?.totalTokens, null);
    assert.equal(call?.outputTokens, 5);
  }
});

test('readTokenCount tells absent from unreadable, with a ceiling of MAX_TOKENS_PER_CLASS', () => {
  assert.equal(readTokenCount(undefined), null);
  assert.equal(readTokenCount(null), null);
  assert.equal(readTokenCount('  '), null);
  assert.equal(readTokenCount(MAX_TOKENS_PER_CLASS), MAX_TOKENS_PER_CLASS);
  assert.equal(readTokenCount(MAX_TOKENS_PER_CLASS + 1), INVALID_TOKEN_COUNT);
  assert.equal(readTokenCount(BigInt(MAX_TOKENS_PER_CLASS) + 1n), INVALID_TOKEN_COUNT);
  assert.equal(readTokenCount('1e13'), INVALID_TOKEN_COUNT);
  for (const bad of [-1, 0.5, Number.NaN, 'abc', true, [1], new Uint8Array([1])] as AnyValue[]) {
    assert.equal(readTokenCount(bad), INVALID_TOKEN_COUNT, String(bad));
  }
});

test('parseTokenCount accepts ints, integral doubles, bigints and numeric strings only', () => {
  const table: [AnyValue | undefined, number | null][] = [
    [0, 0],
    [123, 123],
    [12.0, 12],
    [12.5, null],
    [-1, null],
    [Number.NaN, null],
    [Number.POSITIVE_INFINITY, null],
    [2 ** 60, null],
    [42n, 42],
    [-1n, null],
    [2n ** 64n, null],
    ['123', 123],
    [' 123 ', 123],
    ['+7', 7],
    ['12.0', 12],
    ['1e3', 1000],
    ['12.5', null],
    ['-3', null],
    ['', null],
    ['abc', null],
    ['0x10', null],
    ['12abc', null],
    [true, null],
    [null, null],
    [undefined, null],
    [[1], null],
  ];
  for (const [input, expected] of table) assert.equal(parseTokenCount(input), expected, `parseTokenCount(${String(input)})`);
});

test('normalizeProvider maps legacy and third-party spellings to OTel names', () => {
  const table: [string, string | null][] = [
    ['openai', 'openai'],
    [' OpenAI ', 'openai'],
    ['az.ai.openai', 'azure.ai.openai'],
    ['azure', 'azure.ai.openai'],
    ['az.ai.inference', 'azure.ai.inference'],
    ['aws.bedrock', 'aws.bedrock'],
    ['bedrock', 'aws.bedrock'],
    ['aws', 'aws.bedrock'],
    ['amazon-bedrock', 'aws.bedrock'],
    ['vertex_ai', 'gcp.vertex_ai'],
    ['vertexai', 'gcp.vertex_ai'],
    ['google.vertex.chat', 'gcp.vertex_ai'],
    ['gemini', 'gcp.gemini'],
    ['google', 'gcp.gemini'],
    ['google.generative-ai', 'gcp.gemini'],
    ['gcp.gen_ai', 'gcp.gen_ai'],
    ['anthropic', 'anthropic'],
    ['anthropic.messages', 'anthropic'],
    ['openai.chat', 'openai'],
    ['cohere', 'cohere'],
    ['mistral_ai', 'mistral_ai'],
    ['mistralai', 'mistral_ai'],
    ['groq', 'groq'],
    ['deepseek', 'deepseek'],
    ['x_ai', 'x_ai'],
    ['xai', 'x_ai'],
    ['perplexity', 'perplexity'],
    ['ibm.watsonx.ai', 'ibm.watsonx.ai'],
    ['Some.New.Vendor', 'some.new.vendor'],
    ['  ', null],
  ];
  for (const [input, expected] of table) assert.equal(normalizeProvider(input), expected, `normalizeProvider(${input})`);
});

test('normalizeOperation', () => {
  assert.equal(normalizeOperation('Chat'), 'chat');
  assert.equal(normalizeOperation('completion'), 'text_completion');
  assert.equal(normalizeOperation('embedding'), 'embeddings');
  assert.equal(normalizeOperation('ai.streamText.doStream'), 'chat');
  assert.equal(normalizeOperation('generate_content'), 'generate_content');
  assert.equal(normalizeOperation(''), null);
});

test('key tables: detection keys have a detection prefix and decide a field; no key feeds two fields', () => {
  for (const key of DETECTION_KEYS) assert.ok(DETECTION_PREFIXES.some((p) => key.startsWith(p)), key);
  const seen = new Map<string, string>();
  const add = (field: string, key: string) => {
    const other = seen.get(key);
    // ai.operationId is read twice on purpose: as the operation and to skip wrapper spans; the AI SDK v6
    // token-detail counts double as the marker that the input count includes cache.
    const markers = new Set(['ai.operationId', ...TEXT_FIELDS.aiSdkTokenDetails.map((k) => k.key)]);
    if (other !== undefined && !markers.has(key)) assert.fail(`${key} feeds both ${other} and ${field}`);
    seen.set(key, field);
  };
  for (const [field, list] of Object.entries(TEXT_FIELDS)) for (const { key } of list) add(field, key);
  for (const [field, list] of Object.entries(COUNT_FIELDS)) for (const key of list) add(field, key);
  // A detection key must feed a field that makes a call (provider, model or operation), or it detects nothing.
  const deciding = new Set(
    [...TEXT_FIELDS.provider, ...TEXT_FIELDS.requestModel, ...TEXT_FIELDS.responseModel, ...TEXT_FIELDS.operation].map((k) => k.key),
  );
  for (const key of DETECTION_KEYS) assert.ok(deciding.has(key), `detection key ${key} feeds no deciding field`);
});

// ---- properties ----

const count = fc.option(fc.nat({ max: 2_000_000_000 }), { nil: null });
const rawUsage: fc.Arbitrary<TokenUsage> = fc.record({
  inputTokens: count,
  cachedInputTokens: count,
  cacheWriteTokens: count,
  outputTokens: count,
  reasoningTokens: count,
  totalTokens: count,
});

/** `unreadable`: some class was sent unreadable; it stays null even when its parts are known. */
function assertInvariants(u: TokenUsage, unreadable = false): void {
  const cache = (u.cachedInputTokens ?? 0) + (u.cacheWriteTokens ?? 0);
  if (cache > 0 && !unreadable) assert.notEqual(u.inputTokens, null, 'cache reported but input unknown');
  if (u.inputTokens !== null) assert.ok(u.inputTokens >= cache, `input ${u.inputTokens} < cache ${cache}`);
  if ((u.reasoningTokens ?? 0) > 0 && !unreadable) assert.notEqual(u.outputTokens, null, 'reasoning reported but output unknown');
  if (u.outputTokens !== null) assert.ok(u.outputTokens >= (u.reasoningTokens ?? 0), 'output < reasoning');
  if (u.inputTokens !== null && u.outputTokens !== null) assert.equal(u.totalTokens, u.inputTokens + u.outputTokens);
}

test('property: normalization establishes the invariants and is idempotent', () => {
  fc.assert(
    fc.property(rawUsage, (raw) => {
      const once = normalizeTokenUsage(raw);
      assertInvariants(once.usage);
      const twice = normalizeTokenUsage(once.usage);
      assert.deepEqual(twice.usage, once.usage);
      assert.equal(twice.tokenConvention, 'otel');
      // The parts are never changed, only the wholes.
      assert.equal(once.usage.cachedInputTokens, raw.cachedInputTokens);
      assert.equal(once.usage.cacheWriteTokens, raw.cacheWriteTokens);
      assert.equal(once.usage.reasoningTokens, raw.reasoningTokens);
    }),
    { numRuns: 2000 },
  );
});

// Flat keys only: nested `attr#path` keys are exercised by the property in conventions.test.ts.
const usageKeys = Object.values(COUNT_FIELDS)
  .flat()
  .filter((key) => !key.includes('#'));
const attributeValue: fc.Arbitrary<AnyValue> = fc.oneof(
  fc.nat({ max: 1_000_000 }),
  fc.integer({ min: -1000, max: -1 }),
  fc.double(),
  fc.nat({ max: 1_000_000 }).map(String),
  fc.string({ maxLength: 6 }),
  fc.bigInt({ min: -5n, max: 1_000_000n }),
  fc.constant(null),
);

test('property: extracted calls always satisfy the invariants, and re-extracting them changes nothing', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...DETECTION_KEYS),
      fc.array(fc.tuple(fc.constantFrom(...usageKeys), attributeValue), { maxLength: 12 }),
      (detectionKey, usage) => {
        const attributes: KeyValue[] = [{ key: detectionKey, value: 'gpt-4o' }];
        for (const [key, value] of usage) attributes.push({ key, value });
        const call = extractGenAiCall(makeSpan('chat', attributes));
        assert.notEqual(call, null);
        if (call === null) return;
        assertInvariants(call, call.invalidTokenKeys.length > 0);
        // A class sent unreadable stays null (never derived from the others), so writing the row back would
        // read differently: such calls are never priced (invalid_tokens); the other properties cover them.
        if (call.invalidTokenKeys.length > 0) return;
        // Write the normalized usage back as OTel attributes and read it again.
        const again: KeyValue[] = [{ key: 'gen_ai.request.model', value: 'gpt-4o' }];
        const otel: [string, number | null][] = [
          ['gen_ai.usage.input_tokens', call.inputTokens],
          ['gen_ai.usage.cache_read.input_tokens', call.cachedInputTokens],
          ['gen_ai.usage.cache_creation.input_tokens', call.cacheWriteTokens],
          ['gen_ai.usage.output_tokens', call.outputTokens],
          ['gen_ai.usage.reasoning.output_tokens', call.reasoningTokens],
          ['gen_ai.usage.total_tokens', call.totalTokens],
        ];
        for (const [key, value] of otel) if (value !== null) again.push({ key, value });
        const reread = extractGenAiCall(makeSpan('chat', again));
        assert.equal(reread?.tokenConvention, 'otel');
        for (const [field] of Object.entries(COUNT_FIELDS)) {
          const f = field as keyof TokenUsage;
          assert.equal(reread?.[f], call[f], field);
        }
      },
    ),
    { numRuns: 1000 },
  );
});
