/**
 * Conformance with the price database's own calculator, over every model in the bundled data: our exact
 * integer cost must equal `calcPrice`'s float total (up to float error), which checks that we find the same
 * entry, pick the same date/time period and context-size tier, and split token classes the same way.
 * Only the float total is used here, as a reference; production code never uses it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { calcPrice, findProvider } from '@pydantic/genai-prices';
import type { Provider } from '@pydantic/genai-prices';
import fc from 'fast-check';

import { PriceBook, type PricedTokens } from './price-book.js';

const book = await PriceBook.loadDefault();

/** Every provider id in genai-prices 0.1.8. */
const PROVIDER_IDS = [
  'anthropic', 'arcee', 'avian', 'aws', 'azure', 'baseten', 'cerebras', 'cloudflare', 'cohere', 'cursor',
  'deepseek', 'doubleword', 'fireworks', 'github-copilot', 'google', 'groq', 'huggingface_cerebras',
  'huggingface_fireworks-ai', 'huggingface_groq', 'huggingface_hyperbolic', 'huggingface_nebius',
  'huggingface_novita', 'huggingface_nscale', 'huggingface_ovhcloud', 'huggingface_publicai',
  'huggingface_sambanova', 'huggingface_together', 'minimax', 'mistral', 'modal', 'moonshotai', 'novita',
  'openai', 'openrouter', 'ovhcloud', 'perplexity', 'quicksilverpro', 'together', 'typesafe', 'voyageai', 'x-ai',
  'zai', 'zhipuai',
];
const providers: Provider[] = PROVIDER_IDS.map((id) => {
  const p = findProvider({ providerId: id });
  assert.ok(p, id);
  return p;
});
const CASES = providers.flatMap((p) => p.models.map((m) => [p.id, m.id] as const));

type Outcome = 'agrees' | 'both-unpriced' | 'not-token-priced' | 'per-request-fee';

/** Compares one call with the package's calculator; returns what was checked. */
function compare(providerId: string, model: string, t: PricedTokens, date: Date): Outcome {
  const ours = book.cost(providerId, model, t, BigInt(date.getTime()) * 1_000_000n);
  const theirs = calcPrice(
    {
      input_tokens: t.inputTokens,
      cache_read_tokens: t.cachedInputTokens,
      cache_write_tokens: t.cacheWriteTokens,
      output_tokens: t.outputTokens,
      output_reasoning_tokens: t.reasoningTokens,
    },
    model,
    { providerId, timestamp: date },
  );
  const label = `${providerId}/${model} at ${date.toISOString()} ${JSON.stringify(t)}`;
  if (theirs === null) {
    assert.equal(ours, null, label);
    return 'both-unpriced';
  }
  const price = theirs.model_price;
  if (price['input_mtok'] === undefined && price['output_mtok'] === undefined) {
    assert.equal(ours, null, label); // priced per page / hour / request only: not a token price
    return 'not-token-priced';
  }
  // Perplexity's per-request fee is not a token class; the package adds it, we do not (yet).
  if (price['requests_kcount'] !== undefined) return 'per-request-fee';
  assert.ok(ours, label);
  const unit = book.unitPrices(providerId, model, BigInt(date.getTime()) * 1_000_000n, t.inputTokens);
  assert.equal(unit?.modelRef, theirs.model.id, label);
  // Rounded database prices (float artefacts like 0.08333333333333334 $/Mtok) differ by design.
  const relative = unit?.rounded ? 1e-5 : 1e-9;
  const mine = Number(ours.totalPicoUsd) / 1e12;
  const tolerance = relative * Math.abs(theirs.total_price) + 1e-15;
  assert.ok(Math.abs(mine - theirs.total_price) <= tolerance, `${label}: ours ${mine} vs package ${theirs.total_price}`);
  return 'agrees';
}

const DATES = ['2025-01-01T03:00:00Z', '2025-07-01T12:00:00Z', '2026-09-01T20:00:00Z', '2027-06-01T07:30:00Z'].map(
  (iso) => new Date(iso),
);
const FIXED: PricedTokens[] = [
  { inputTokens: 12_345, cachedInputTokens: 3_000, cacheWriteTokens: 1_000, outputTokens: 2_345, reasoningTokens: 345 },
  { inputTokens: 600_000, cachedInputTokens: 100_000, cacheWriteTokens: 50_000, outputTokens: 10_000, reasoningTokens: 0 },
];

describe('conformance with genai-prices calcPrice', () => {
  test(`every model entry (${CASES.length}), two call sizes, four dates`, () => {
    const outcomes = new Map<Outcome, number>();
    for (const [providerId, model] of CASES) {
      for (const date of DATES) {
        for (const t of FIXED) {
          const o = compare(providerId, model, t, date);
          outcomes.set(o, (outcomes.get(o) ?? 0) + 1);
        }
      }
    }
    // the bulk of the database must actually have been compared, not skipped
    assert.ok((outcomes.get('agrees') ?? 0) > CASES.length * 6, JSON.stringify([...outcomes]));
  });

  test('random calls, models and instants (tiers, price periods, times of day)', () => {
    const tokens = fc
      .record({
        input: fc.integer({ min: 0, max: 1_500_000 }),
        cached: fc.integer({ min: 0, max: 100 }),
        write: fc.integer({ min: 0, max: 100 }),
        output: fc.integer({ min: 0, max: 200_000 }),
        reasoning: fc.integer({ min: 0, max: 100 }),
      })
      .map(({ input, cached, write, output, reasoning }): PricedTokens => {
        const cachedInputTokens = Math.floor((input * cached) / 100);
        return {
          inputTokens: input,
          cachedInputTokens,
          cacheWriteTokens: Math.floor(((input - cachedInputTokens) * write) / 100),
          outputTokens: output,
          reasoningTokens: Math.floor((output * reasoning) / 100),
        };
      });
    const date = fc.date({ min: new Date('2024-01-01T00:00:00Z'), max: new Date('2028-01-01T00:00:00Z'), noInvalidDate: true });
    fc.assert(
      fc.property(fc.constantFrom(...CASES), tokens, date, ([providerId, model], t, d) => {
        compare(providerId, model, t, d);
      }),
      { numRuns: 3_000 },
    );
  });

  test('OTel provider names resolve to the same entries as the database ids', () => {
    const pairs = [
      ['aws.bedrock', 'aws', 'anthropic.claude-3-5-sonnet-20240620-v1:0'],
      ['gcp.vertex_ai', 'google', 'gemini-2.5-pro'],
      ['gcp.vertex_ai', 'google', 'claude-sonnet-4@20250514'],
      ['azure.ai.openai', 'azure', 'gpt-4o-mini'],
      ['mistral_ai', 'mistral', 'mistral-large-latest'],
      ['x_ai', 'x-ai', 'grok-3'],
    ] as const;
    const at = BigInt(Date.parse('2025-06-15T00:00:00Z')) * 1_000_000n;
    for (const [otel, db, model] of pairs) {
      const viaOtel = book.unitPrices(otel, model, at);
      assert.ok(viaOtel, `${otel}/${model}`);
      assert.deepEqual(viaOtel, book.unitPrices(db, model, at));
      assert.equal(viaOtel.providerRef, db);
    }
  });
});
