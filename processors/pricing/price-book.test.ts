/**
 * Hand-computed costs from public list prices. Each case names its source; the test first checks that the
 * bundled database agrees with that list price, then that our exact arithmetic gives the hand-computed cost.
 * Money is pico-USD (1e-12 USD): $1/Mtok = 1,000,000 pico-USD per token.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { findProvider } from '@pydantic/genai-prices';

import { formatPicoUsd, parseUsdToPico } from './decimal.js';
import { OTEL_PROVIDER_TO_DB, PriceBook, providerLookup, type PricedTokens } from './price-book.js';

const book = await PriceBook.loadDefault();
const at = (iso: string): bigint => BigInt(Date.parse(iso)) * 1_000_000n;
const JUNE_2025 = at('2025-06-15T12:00:00Z');
const usd = (text: string): bigint => parseUsdToPico(text);
const tokens = (t: Partial<PricedTokens>): PricedTokens => ({
  inputTokens: 0,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  outputTokens: 0,
  reasoningTokens: 0,
  ...t,
});
/** $/Mtok as a decimal string → pico-USD per token. */
const perMtok = (text: string): bigint => usd(text) / 1_000_000n;

describe('snapshot', () => {
  test('names the package version and a hash of its bundled data, and is stable across loads', async () => {
    assert.match(book.snapshot, /^genai-prices@0\.1\.8\+sha256:[0-9a-f]{12};rules=2$/);
    const again = await PriceBook.loadDefault();
    assert.equal(again.snapshot, book.snapshot);
    const cost = book.cost('openai', 'gpt-4o-mini', tokens({ inputTokens: 1 }), JUNE_2025);
    assert.equal(cost?.snapshot, book.snapshot);
  });
});

describe('hand-computed calls', () => {
  test('openai gpt-4o-mini with cached input', () => {
    // OpenAI API pricing page, gpt-4o-mini: $0.15/M input, $0.075/M cached input, $0.60/M output (listed 2025).
    const unit = book.unitPrices('openai', 'gpt-4o-mini', JUNE_2025);
    assert.ok(unit);
    assert.equal(unit.input, perMtok('0.15'));
    assert.equal(unit.cacheRead, perMtok('0.075'));
    assert.equal(unit.output, perMtok('0.60'));
    assert.equal(unit.modelRef, 'gpt-4o-mini');
    assert.equal(unit.providerRef, 'openai');
    assert.equal(unit.tiered, false);

    // 10,000 input of which 4,000 cached; 500 output.
    // 6,000 × $0.15/M = $0.0009 · 4,000 × $0.075/M = $0.0003 · 500 × $0.60/M = $0.0003 → $0.0015
    const cost = book.cost(
      'openai',
      'gpt-4o-mini-2024-07-18',
      tokens({ inputTokens: 10_000, cachedInputTokens: 4_000, outputTokens: 500 }),
      JUNE_2025,
    );
    assert.ok(cost);
    assert.equal(cost.inputPicoUsd, usd('0.0009'));
    assert.equal(cost.cachedInputPicoUsd, usd('0.0003'));
    assert.equal(cost.cacheWritePicoUsd, 0n);
    assert.equal(cost.outputPicoUsd, usd('0.0003'));
    assert.equal(formatPicoUsd(cost.totalPicoUsd), '0.001500000000');
  });

  test('anthropic claude-sonnet-4 with cache write and cache read', () => {
    // Anthropic pricing page, Claude Sonnet 4: $3/MTok input, $3.75/MTok 5-minute cache write,
    // $0.30/MTok cache hit, $15/MTok output (listed 2025).
    const unit = book.unitPrices('anthropic', 'claude-sonnet-4-20250514', JUNE_2025);
    assert.ok(unit);
    assert.deepEqual(
      [unit.input, unit.cacheWrite, unit.cacheRead, unit.output],
      [perMtok('3'), perMtok('3.75'), perMtok('0.30'), perMtok('15')],
    );
    assert.equal(unit.modelRef, 'claude-sonnet-4-0');

    // input 12,000 = 2,000 uncached + 4,000 cache write + 6,000 cache read; output 1,000.
    // 2,000 × $3/M = $0.006 · 4,000 × $3.75/M = $0.015 · 6,000 × $0.30/M = $0.0018 · 1,000 × $15/M = $0.015
    // total $0.0378
    const cost = book.cost(
      'anthropic',
      'claude-sonnet-4-20250514',
      tokens({ inputTokens: 12_000, cacheWriteTokens: 4_000, cachedInputTokens: 6_000, outputTokens: 1_000 }),
      JUNE_2025,
    );
    assert.ok(cost);
    assert.equal(cost.inputPicoUsd, usd('0.006'));
    assert.equal(cost.cacheWritePicoUsd, usd('0.015'));
    assert.equal(cost.cachedInputPicoUsd, usd('0.0018'));
    assert.equal(cost.outputPicoUsd, usd('0.015'));
    assert.equal(cost.totalPicoUsd, usd('0.0378'));
  });

  test('gemini-2.5-pro: the >200K tier switches the whole call, and exactly 200K is still the base tier', () => {
    // Google Gemini API pricing page, Gemini 2.5 Pro (listed 2025): input $1.25/M for prompts ≤ 200K tokens,
    // $2.50/M above; output (incl. thinking) $10/M ≤ 200K, $15/M above; context caching $0.125/M / $0.25/M.
    const base = book.unitPrices('gcp.gemini', 'gemini-2.5-pro', JUNE_2025, 200_000);
    const high = book.unitPrices('gcp.gemini', 'gemini-2.5-pro', JUNE_2025, 200_001);
    assert.ok(base && high);
    assert.deepEqual([base.input, base.cacheRead, base.output], [perMtok('1.25'), perMtok('0.125'), perMtok('10')]);
    assert.deepEqual([high.input, high.cacheRead, high.output], [perMtok('2.50'), perMtok('0.25'), perMtok('15')]);
    assert.equal(base.tiered, true);
    assert.equal(base.tierAbove, null);
    assert.equal(high.tierAbove, 200_000);

    // Below: 200,000 input (the package's rule is "tier applies when input > start"), 1,000 output
    // incl. 400 thinking: 200,000 × $1.25/M = $0.25 · 1,000 × $10/M = $0.01 → $0.26
    const below = book.cost(
      'gcp.gemini',
      'gemini-2.5-pro',
      tokens({ inputTokens: 200_000, outputTokens: 1_000, reasoningTokens: 400 }),
      JUNE_2025,
    );
    assert.equal(below?.totalPicoUsd, usd('0.26'));

    // Above: 200,001 input of which 100,000 cached, 1,000 output: every class at the >200K rate.
    // 100,001 × $2.50/M = $0.2500025 · 100,000 × $0.25/M = $0.025 · 1,000 × $15/M = $0.015 → $0.2900025
    const above = book.cost(
      'gcp.vertex_ai',
      'gemini-2.5-pro',
      tokens({ inputTokens: 200_001, cachedInputTokens: 100_000, outputTokens: 1_000 }),
      JUNE_2025,
    );
    assert.ok(above);
    assert.equal(above.inputPicoUsd, usd('0.2500025'));
    assert.equal(above.cachedInputPicoUsd, usd('0.025'));
    assert.equal(above.outputPicoUsd, usd('0.015'));
    assert.equal(above.totalPicoUsd, usd('0.2900025'));
  });

  test('embeddings: openai text-embedding-3-small', () => {
    // OpenAI API pricing page, text-embedding-3-small: $0.02/M tokens (listed 2025).
    assert.equal(book.unitPrices('openai', 'text-embedding-3-small', JUNE_2025)?.input, perMtok('0.02'));
    // 1,234,567 × $0.02/M = $0.02469134
    const cost = book.cost('openai', 'text-embedding-3-small', tokens({ inputTokens: 1_234_567 }), JUNE_2025);
    assert.equal(cost?.totalPicoUsd, usd('0.02469134'));
    assert.equal(cost?.outputPicoUsd, 0n);
  });

  test('aws.bedrock: Claude 3.5 Sonnet by its Bedrock model id, plain and cross-region', () => {
    // AWS Bedrock pricing page, Anthropic Claude 3.5 Sonnet on-demand: $0.003 per 1K input tokens,
    // $0.015 per 1K output tokens (listed 2024–2025) = $3/M and $15/M.
    for (const id of ['anthropic.claude-3-5-sonnet-20240620-v1:0', 'us.anthropic.claude-3-5-sonnet-20240620-v1:0']) {
      const unit = book.unitPrices('aws.bedrock', id, JUNE_2025);
      assert.ok(unit, id);
      assert.equal(unit.providerRef, 'aws');
      assert.equal(unit.modelRef, 'regional.anthropic.claude-3-5-sonnet-20240620-v1:0');
      assert.deepEqual([unit.input, unit.output], [perMtok('3'), perMtok('15')]);
      // 1,000 × $3/M = $0.003 · 200 × $15/M = $0.003 → $0.006
      const cost = book.cost('aws.bedrock', id, tokens({ inputTokens: 1_000, outputTokens: 200 }), JUNE_2025);
      assert.equal(cost?.totalPicoUsd, usd('0.006'), id);
    }
  });

  test('a price change on a date: openai o3 before and after the 2025-06-10 cut', () => {
    // OpenAI, o3: launched at $10/M input and $40/M output; cut to $2/M and $8/M on 2025-06-10.
    const call = tokens({ inputTokens: 1_000, outputTokens: 1_000 });
    assert.equal(book.cost('openai', 'o3', call, at('2025-06-09T23:59:59.999Z'))?.totalPicoUsd, usd('0.05'));
    assert.equal(book.cost('openai', 'o3', call, at('2025-06-10T00:00:00Z'))?.totalPicoUsd, usd('0.01'));
  });

  test('a price by time of day: deepseek-chat off-peak discount', () => {
    // DeepSeek API pricing page, deepseek-chat (listed 2025): standard price UTC 00:30–16:30 $0.27/M input
    // (cache miss), $0.07/M cache hit, $1.10/M output; discount price UTC 16:30–00:30 50% off.
    const call = tokens({ inputTokens: 1_000_000, cachedInputTokens: 1_000_000, outputTokens: 1_000_000 });
    const peak = book.cost('deepseek', 'deepseek-chat', call, at('2025-06-15T00:30:00Z'));
    const offPeak = book.cost('deepseek', 'deepseek-chat', call, at('2025-06-15T00:29:59.999Z'));
    const evening = book.cost('deepseek', 'deepseek-chat', call, at('2025-06-15T16:30:00Z'));
    assert.equal(peak?.totalPicoUsd, usd('1.17')); // $0.07 + $1.10
    assert.equal(offPeak?.totalPicoUsd, usd('0.585')); // $0.035 + $0.55
    assert.equal(evening?.totalPicoUsd, usd('0.585'));
  });

  test('reasoning is billed at the output rate unless the price has its own reasoning rate', () => {
    // o3 after 2025-06-10: $8/M output; 1,000 output of which 900 reasoning → $0.008
    const o3 = book.cost('openai', 'o3', tokens({ outputTokens: 1_000, reasoningTokens: 900 }), JUNE_2025);
    assert.equal(o3?.outputPicoUsd, usd('0.008'));
    // Perplexity pricing page, sonar-deep-research (listed 2025): $8/M output, $3/M reasoning tokens.
    // 1,000 output of which 600 reasoning: 400 × $8/M + 600 × $3/M = $0.0032 + $0.0018 = $0.005
    const unit = book.unitPrices('perplexity', 'sonar-deep-research', JUNE_2025);
    assert.deepEqual([unit?.output, unit?.reasoning], [perMtok('8'), perMtok('3')]);
    const deep = book.cost(
      'perplexity',
      'sonar-deep-research',
      tokens({ outputTokens: 1_000, reasoningTokens: 600 }),
      JUNE_2025,
    );
    assert.equal(deep?.outputPicoUsd, usd('0.005'));
  });

  test('no cache prices: cached and cache-write tokens fall back to the input rate', () => {
    // text-embedding-3-small has only an input price: 1,000 input incl. 500 "cached" = 1,000 × $0.02/M
    const cost = book.cost(
      'openai',
      'text-embedding-3-small',
      tokens({ inputTokens: 1_000, cachedInputTokens: 300, cacheWriteTokens: 200 }),
      JUNE_2025,
    );
    assert.equal(cost?.totalPicoUsd, usd('0.00002'));
  });
});

describe('provider mapping and lookups', () => {
  test('OTel provider names map to database provider ids', () => {
    assert.deepEqual(providerLookup('aws.bedrock'), { kind: 'provider', id: 'aws' });
    assert.deepEqual(providerLookup('azure.ai.openai'), { kind: 'provider', id: 'azure' });
    assert.deepEqual(providerLookup('X_AI'), { kind: 'provider', id: 'x-ai' });
    assert.deepEqual(providerLookup('openrouter'), { kind: 'provider', id: 'openrouter' });
    assert.deepEqual(providerLookup('ibm.watsonx.ai'), { kind: 'unpriced' });
    assert.deepEqual(providerLookup(null), { kind: 'model-only' });
    assert.deepEqual(providerLookup('my-internal-gateway'), { kind: 'model-only' });
    assert.deepEqual(providerLookup('constructor'), { kind: 'model-only' });
  });

  test('every mapped database id exists in the bundled data', () => {
    for (const [otel, id] of OTEL_PROVIDER_TO_DB) {
      if (id === null) continue;
      assert.equal(findProvider({ providerId: id })?.id, id, otel);
      assert.deepEqual(providerLookup(otel), { kind: 'provider', id });
    }
  });

  test('azure.ai.openai is priced from the azure provider, not openai', () => {
    const unit = book.unitPrices('azure.ai.openai', 'gpt-4o-mini', JUNE_2025);
    assert.equal(unit?.providerRef, 'azure');
  });

  test('null or unknown provider: model-only lookup', () => {
    assert.equal(book.unitPrices(null, 'gpt-4o-mini', JUNE_2025)?.providerRef, 'openai');
    const viaGateway = book.unitPrices('my-internal-gateway', 'claude-3-5-sonnet-20240620', JUNE_2025);
    assert.equal(viaGateway?.providerRef, 'anthropic');
  });

  test('unknown model → null, never $0; cached negative result stays null', () => {
    const call = tokens({ inputTokens: 100, outputTokens: 100 });
    assert.equal(book.cost('openai', 'no-such-model', call, JUNE_2025), null);
    assert.equal(book.cost('openai', 'no-such-model', call, JUNE_2025), null);
    assert.equal(book.cost(null, 'no-such-model', call, JUNE_2025), null);
    assert.equal(book.cost('ibm.watsonx.ai', 'ibm/granite-3-8b-instruct', call, JUNE_2025), null);
    assert.equal(book.cost('openai', '', call, JUNE_2025), null);
    assert.equal(book.cost('openai', '   ', call, JUNE_2025), null);
    assert.equal(book.unitPrices('openai', 'no-such-model', JUNE_2025), null);
  });

  test('a model priced only per audio hour has no token price → null', () => {
    // openai whisper-1 is priced per audio hour in the database ($0.36/h = $0.006/min), not per token.
    assert.equal(book.cost('openai', 'whisper-1', tokens({ inputTokens: 10 }), JUNE_2025), null);
  });

  test('prices with more than 6 decimals in $/Mtok are rounded and flagged', () => {
    // the database holds 0.08333333333333334 $/Mtok as this model's cache-write price
    const unit = book.unitPrices('openrouter', 'google/gemini-2.5-flash-lite', JUNE_2025);
    assert.ok(unit);
    assert.equal(unit.cacheWrite, 83_333n);
    assert.equal(unit.rounded, true);
    assert.equal(book.unitPrices('openai', 'gpt-4o-mini', JUNE_2025)?.rounded, false);
  });
});

describe('token edge cases', () => {
  test('a broken invariant (cached + write > input) bills no negative uncached input', () => {
    // gpt-4o-mini: 100 input but 150 cached → uncached 0; 150 × $0.075/M = $0.00001125
    const cost = book.cost('openai', 'gpt-4o-mini', tokens({ inputTokens: 100, cachedInputTokens: 150 }), JUNE_2025);
    assert.equal(cost?.inputPicoUsd, 0n);
    assert.equal(cost?.totalPicoUsd, usd('0.00001125'));
  });

  test('zero tokens cost exactly zero for a priced model', () => {
    assert.equal(book.cost('openai', 'gpt-4o-mini', tokens({}), JUNE_2025)?.totalPicoUsd, 0n);
  });

  test('token counts that are not non-negative safe integers are refused loudly', () => {
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
      assert.throws(
        () => book.cost('openai', 'gpt-4o-mini', tokens({ outputTokens: bad }), JUNE_2025),
        RangeError,
        String(bad),
      );
    }
  });
});
