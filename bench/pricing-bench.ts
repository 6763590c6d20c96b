import { PriceBook } from '../processors/pricing/price-book.js';
import type { PricedTokens } from '../processors/pricing/price-book.js';
import { loadPriceOverrides } from '../processors/pricing/price-overrides.js';
import { readPricingAttributes } from '../processors/pricing/pricing-attributes.js';

/**
 * Per-span cost of `PriceBook.cost` for a repeated model (the resolution cache is warm):
 * `node dist/bench/pricing-bench.js [spans]`. Prints ns/span for a flat price, a tiered price and a
 * time-of-day-conditional price, plus the one-off cost of loading the book and resolving a model.
 */
const spans = Number(process.argv[2] ?? 2_000_000);

const loadStart = performance.now();
const book = await PriceBook.loadDefault();
console.log(`loadDefault ${(performance.now() - loadStart).toFixed(1)} ms  snapshot ${book.snapshot}`);

const at = BigInt(Date.parse('2025-06-15T12:00:00Z')) * 1_000_000n;
const tokens: PricedTokens = { inputTokens: 10_000, cachedInputTokens: 4_000, cacheWriteTokens: 0, outputTokens: 500, reasoningTokens: 0 };
const resolveStart = performance.now();
book.cost('openai', 'gpt-4o-mini', tokens, at);
console.log(`first resolution of a model ${((performance.now() - resolveStart) * 1000).toFixed(0)} µs`);

const overridden = new PriceBook(book.snapshot, await loadPriceOverrides(new URL('../../examples/prices.yaml', import.meta.url).pathname));
const CASES = [
  ['flat', 'openai', 'gpt-4o-mini', book, null],
  ['tiered', 'gcp.gemini', 'gemini-2.5-pro', book, null],
  ['time-of-day', 'deepseek', 'deepseek-chat', book, null],
  ['batch tier', 'openai', 'gpt-4o-mini', book, 'batch'],
  ['discount', 'openai', 'gpt-4.1', overridden, null],
  ['disc.+tier', 'openai', 'gpt-4.1', overridden, 'batch'],
  ['dated rule', 'anthropic', 'claude-sonnet-4-20250514', overridden, null],
] as const;
const timestamps = Array.from({ length: 1024 }, (_, i) => at + BigInt(i) * 97_000_000_000n);

for (const [label, provider, model, priceBook, tier] of CASES) {
  let best = Infinity;
  let sink = 0n;
  for (let round = 0; round < 3; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < spans; i++) {
      tokens.outputTokens = 500 + (i & 255);
      sink += priceBook.cost(provider, model, tokens, timestamps[i & 1023]!, tier)?.totalPicoUsd ?? 0n;
    }
    best = Math.min(best, Number(process.hrtime.bigint() - start) / spans);
  }
  console.log(`${label.padEnd(12)} ${provider}/${model}: ${best.toFixed(0)} ns/span (best of 3 × ${spans}; checksum ${sink > 0n})`);
}

// Reading the pricing attributes (service tier, 1-hour cache writes, reported cost) of a typical GenAI span.
const attributes = [
  ['gen_ai.operation.name', 'chat'],
  ['gen_ai.provider.name', 'openai'],
  ['gen_ai.request.model', 'gpt-4o-mini'],
  ['gen_ai.response.model', 'gpt-4o-mini-2024-07-18'],
  ['gen_ai.response.id', 'resp_1'],
  ['gen_ai.usage.input_tokens', 1200],
  ['gen_ai.usage.output_tokens', 300],
  ['gen_ai.usage.cache_read.input_tokens', 200],
  ['openai.response.service_tier', 'default'],
  ['gen_ai.usage.cost', 0.000123],
  ['server.address', 'api.openai.com'],
  ['team_id', 'team-a'],
].map(([key, value]) => ({ key: key as string, value: value as string | number }));
{
  let best = Infinity;
  let sink = 0;
  for (let round = 0; round < 3; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < spans; i++) sink += readPricingAttributes(attributes).serviceTier === null ? 0 : 1;
    best = Math.min(best, Number(process.hrtime.bigint() - start) / spans);
  }
  console.log(`${'attributes'.padEnd(12)} readPricingAttributes, 12 attributes: ${best.toFixed(0)} ns/span (checksum ${sink > 0})`);
}
