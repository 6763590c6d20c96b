import { PriceBook } from '../processors/pricing/price-book.js';
import type { PricedTokens } from '../processors/pricing/price-book.js';

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

const CASES = [
  ['flat', 'openai', 'gpt-4o-mini'],
  ['tiered', 'gcp.gemini', 'gemini-2.5-pro'],
  ['time-of-day', 'deepseek', 'deepseek-chat'],
] as const;
const timestamps = Array.from({ length: 1024 }, (_, i) => at + BigInt(i) * 97_000_000_000n);

for (const [label, provider, model] of CASES) {
  let best = Infinity;
  let sink = 0n;
  for (let round = 0; round < 3; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < spans; i++) {
      tokens.outputTokens = 500 + (i & 255);
      sink += book.cost(provider, model, tokens, timestamps[i & 1023]!)?.totalPicoUsd ?? 0n;
    }
    best = Math.min(best, Number(process.hrtime.bigint() - start) / spans);
  }
  console.log(`${label.padEnd(12)} ${provider}/${model}: ${best.toFixed(0)} ns/span (best of 3 × ${spans}; checksum ${sink > 0n})`);
}
