/**
 * Properties of the exact cost arithmetic (fast-check): additivity across splitting a call, and monotonicity
 * when a token class grows (within one context-size tier).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import fc from 'fast-check';

import { PriceBook, type CallCost, type PricedTokens } from './price-book.js';
import { parsePriceOverrides } from './price-overrides.js';

const plainBook = await PriceBook.loadDefault();
/** The same prices with a negotiated discount whose rates do not divide evenly (12.345% off Anthropic). */
const discountedBook = new PriceBook(
  plainBook.snapshot,
  parsePriceOverrides('version: "1.0"\ndiscounts:\n  - provider: anthropic\n    percent: "12.345"\n', 'test.yaml'),
);
let book = plainBook;
/** Runs each property on both books, with and without a service tier. */
const setting = fc.record({
  discounted: fc.boolean(),
  tier: fc.constantFrom(null, 'batch', 'flex', 'priority'),
});

/** Flat, cached, cache-write, tiered (gemini-2.5-pro, claude-sonnet-4-6 before 2026-03-13), time-of-day, reasoning-rate models. */
const MODELS = [
  ['openai', 'gpt-4o-mini'],
  ['anthropic', 'claude-sonnet-4-20250514'],
  ['anthropic', 'claude-sonnet-4-6'],
  ['gcp.gemini', 'gemini-2.5-pro'],
  ['deepseek', 'deepseek-chat'],
  ['perplexity', 'sonar-deep-research'],
  ['openai', 'text-embedding-3-small'],
  ['gcp.gemini', 'gemini-2.5-flash'], // audio input rate
  ['openai', 'gpt-realtime'], // audio input and output rates
] as const;
const TIER_EDGE = 200_000; // the lowest tier threshold among MODELS

const model = fc.constantFrom(...MODELS);
const when = fc
  .date({ min: new Date('2024-01-01T00:00:00Z'), max: new Date('2027-12-31T23:59:59Z'), noInvalidDate: true })
  .map((d) => BigInt(d.getTime()) * 1_000_000n);

/** A ledger-normalized call (cached + write ≤ input, reasoning ≤ output) with input in [lo, hi]. */
const call = (lo: number, hi: number): fc.Arbitrary<PricedTokens> =>
  fc.record({
    inputTokens: fc.integer({ min: lo, max: hi }),
    cachedShare: fc.integer({ min: 0, max: 100 }),
    writeShare: fc.integer({ min: 0, max: 100 }),
    write1hShare: fc.integer({ min: 0, max: 100 }),
    audioShare: fc.integer({ min: 0, max: 100 }),
    outputTokens: fc.integer({ min: 0, max: 1_000_000 }),
    reasoningShare: fc.integer({ min: 0, max: 100 }),
  }).map(({ inputTokens, cachedShare, writeShare, write1hShare, audioShare, outputTokens, reasoningShare }) => {
    const cachedInputTokens = Math.floor((inputTokens * cachedShare) / 100);
    const cacheWriteTokens = Math.floor(((inputTokens - cachedInputTokens) * writeShare) / 100);
    const cacheWrite1hTokens = Math.floor((cacheWriteTokens * write1hShare) / 100);
    const reasoningTokens = Math.floor((outputTokens * reasoningShare) / 100);
    const inputAudioTokens = Math.floor(((inputTokens - cachedInputTokens - cacheWriteTokens) * audioShare) / 100);
    const outputAudioTokens = Math.floor(((outputTokens - reasoningTokens) * audioShare) / 100);
    return {
      inputTokens,
      cachedInputTokens,
      cacheWriteTokens,
      cacheWrite1hTokens,
      outputTokens,
      reasoningTokens,
      inputAudioTokens,
      outputAudioTokens,
    };
  });

const add = (a: PricedTokens, b: PricedTokens): PricedTokens => ({
  inputTokens: a.inputTokens + b.inputTokens,
  cachedInputTokens: a.cachedInputTokens + b.cachedInputTokens,
  cacheWriteTokens: a.cacheWriteTokens + b.cacheWriteTokens,
  outputTokens: a.outputTokens + b.outputTokens,
  reasoningTokens: a.reasoningTokens + b.reasoningTokens,
  cacheWrite1hTokens: (a.cacheWrite1hTokens ?? 0) + (b.cacheWrite1hTokens ?? 0),
  inputAudioTokens: (a.inputAudioTokens ?? 0) + (b.inputAudioTokens ?? 0),
  outputAudioTokens: (a.outputAudioTokens ?? 0) + (b.outputAudioTokens ?? 0),
});

const CLASSES = [
  'inputPicoUsd',
  'cachedInputPicoUsd',
  'cacheWritePicoUsd',
  'outputPicoUsd',
  'totalPicoUsd',
  'cacheWrite1hPicoUsd',
  'reasoningPicoUsd',
] as const;

let tier: string | null = null;
function use(s: { discounted: boolean; tier: string | null }): void {
  book = s.discounted ? discountedBook : plainBook;
  tier = s.tier;
}

function priced(provider: string, name: string, t: PricedTokens, at: bigint): CallCost {
  const cost = book.cost(provider, name, t, at, tier);
  assert.ok(cost, `${provider}/${name} should be priced`);
  return cost;
}

describe('cost properties', () => {
  test('the parts of a cost add up to its total', () => {
    fc.assert(
      fc.property(model, call(0, 2_000_000), when, setting, ([provider, name], t, at, s) => {
        use(s);
        const c = priced(provider, name, t, at);
        assert.equal(c.totalPicoUsd, c.inputPicoUsd + c.cachedInputPicoUsd + c.cacheWritePicoUsd + c.outputPicoUsd);
        assert.ok(c.cacheWrite1hPicoUsd <= c.cacheWritePicoUsd && c.reasoningPicoUsd <= c.outputPicoUsd);
      }),
    );
  });

  test('additive: splitting a call in two (same tier) costs exactly the same, class by class', () => {
    const band = fc.constantFrom(
      { lo: 0, hi: TIER_EDGE / 2 }, // both parts and the whole in the base tier
      { lo: TIER_EDGE + 1, hi: 3_000_000 }, // both parts and the whole above the tier threshold
    );
    const split = band.chain(({ lo, hi }) => fc.tuple(call(lo, hi), call(lo, hi)));
    fc.assert(
      fc.property(model, split, when, setting, ([provider, name], [a, b], at, s) => {
        use(s);
        const whole = add(a, b);
        const tierOf = (t: PricedTokens) => book.unitPrices(provider, name, at, t.inputTokens)?.tierAbove;
        fc.pre(tierOf(a) === tierOf(whole) && tierOf(b) === tierOf(whole));
        const [ca, cb, cw] = [priced(provider, name, a, at), priced(provider, name, b, at), priced(provider, name, whole, at)];
        for (const k of CLASSES) assert.equal(cw[k], ca[k] + cb[k], k);
      }),
      { numRuns: 500 },
    );
  });

  test('monotone: adding tokens of any class never lowers the cost (within a tier)', () => {
    const grow = fc.record({
      kind: fc.constantFrom('uncached', 'cached', 'cacheWrite', 'cacheWrite1h', 'output', 'reasoning', 'inputAudio', 'outputAudio'),
      k: fc.integer({ min: 0, max: 50_000 }),
    });
    fc.assert(
      fc.property(model, call(0, TIER_EDGE - 50_000), grow, when, setting, ([provider, name], t, { kind, k }, at, s) => {
        use(s);
        const after = { ...t };
        // keep the ledger invariants: the totals grow along with their parts
        if (kind === 'uncached') after.inputTokens += k;
        if (kind === 'cached') (after.inputTokens += k), (after.cachedInputTokens += k);
        if (kind === 'cacheWrite') (after.inputTokens += k), (after.cacheWriteTokens += k);
        if (kind === 'cacheWrite1h') {
          after.inputTokens += k;
          after.cacheWriteTokens += k;
          after.cacheWrite1hTokens = (after.cacheWrite1hTokens ?? 0) + k;
        }
        if (kind === 'output') after.outputTokens += k;
        if (kind === 'inputAudio') (after.inputTokens += k), (after.inputAudioTokens = (after.inputAudioTokens ?? 0) + k);
        if (kind === 'outputAudio') (after.outputTokens += k), (after.outputAudioTokens = (after.outputAudioTokens ?? 0) + k);
        if (kind === 'reasoning') (after.outputTokens += k), (after.reasoningTokens += k);
        const before = priced(provider, name, t, at).totalPicoUsd;
        assert.ok(priced(provider, name, after, at).totalPicoUsd >= before);
      }),
      { numRuns: 500 },
    );
  });

  test('a cold and a warm price book agree (the resolution cache changes nothing)', async () => {
    const cold = await PriceBook.loadDefault();
    fc.assert(
      fc.property(model, call(0, 1_000_000), when, ([provider, name], t, at) => {
        const fresh = new PriceBook(cold.snapshot);
        assert.deepEqual(fresh.cost(provider, name, t, at), plainBook.cost(provider, name, t, at));
      }),
      { numRuns: 200 },
    );
  });
});
