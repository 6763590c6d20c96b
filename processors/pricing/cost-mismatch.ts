/**
 * Flags a call whose cost as reported by the instrumentation (`reported_cost_usd`) disagrees with ours by
 * more than BOTH thresholds: `percent` of our cost and `minUsd` in absolute terms. A flagged call gets the
 * exception reason `cost_mismatch` in its `exceptions` list; its `attribution_status` is unchanged (the call
 * is still attributed and priced — by us). See docs/pricing.md.
 */
import { z } from 'zod';
import { parseUsdToPico } from './decimal.js';

export const CostMismatchConfig = z
  .object({
    /** Relative threshold, percent of our cost. */
    percent: z.number().min(0).max(1_000_000).default(10),
    /** Absolute threshold in USD (decimal string or number). */
    minUsd: z
      .union([z.string(), z.number()])
      .default('0.001')
      .transform((v, ctx) => {
        try {
          const pico = parseUsdToPico(String(v));
          if (pico >= 0n) return pico;
        } catch {
          // reported below
        }
        ctx.addIssue({ code: 'custom', message: `expected a non-negative USD amount, got ${JSON.stringify(v)}` });
        return z.NEVER;
      }),
  })
  .strict();
export type CostMismatchConfig = z.output<typeof CostMismatchConfig>;

export interface CostMismatchThresholds {
  /** Percent scaled by 1e6 (10% → 10_000_000n). */
  percentMicros: bigint;
  minPicoUsd: bigint;
}

export function costMismatchThresholds(config: CostMismatchConfig): CostMismatchThresholds {
  return { percentMicros: BigInt(Math.round(config.percent * 1e6)), minPicoUsd: config.minUsd };
}

export const DEFAULT_COST_MISMATCH: CostMismatchThresholds = costMismatchThresholds(CostMismatchConfig.parse({}));

/**
 * True when |ours − reported| > minUsd AND > percent% of ours. A reported cost of exactly 0 is never a
 * mismatch: instrumentations such as OpenLIT report 0 for every model missing from their own price list, so
 * it means "unknown", not "free".
 */
export function isCostMismatch(oursPicoUsd: bigint, reportedPicoUsd: bigint, t: CostMismatchThresholds): boolean {
  if (reportedPicoUsd === 0n) return false;
  const diff = oursPicoUsd > reportedPicoUsd ? oursPicoUsd - reportedPicoUsd : reportedPicoUsd - oursPicoUsd;
  if (diff <= t.minPicoUsd) return false;
  return diff * 100_000_000n > t.percentMicros * oursPicoUsd;
}
