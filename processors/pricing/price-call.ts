/**
 * The one pricing decision for a call, shared by ingestion (src/pipeline/ledger-processor.ts) and `reprice`
 * (exporters/duckdb/restate-costs.ts) so that a row priced at either time gets the same cost and the same
 * exception reasons from the same inputs.
 */
import type { ExceptionReason } from '../../core/ledger-row.js';
import { moneyFits } from '../../core/ledger-limits.js';
import { DEFAULT_COST_MISMATCH, isCostMismatch, type CostMismatchThresholds } from './cost-mismatch.js';
import type { CallCost, PriceBook } from './price-book.js';

/** Token counts as stored in a row (null = not reported). */
export interface CallUsage {
  inputTokens: number | null;
  cachedInputTokens: number | null;
  cacheWriteTokens: number | null;
  outputTokens: number | null;
  reasoningTokens: number | null;
  cacheWrite1hTokens: number | null;
  inputAudioTokens: number | null;
  outputAudioTokens: number | null;
}

export interface CallToPrice {
  provider: string | null;
  /** The model to price; null = unknown model (`unpriced_model`). */
  model: string | null;
  usage: CallUsage;
  /** Some token count was sent but unreadable: the call is never priced (`invalid_tokens`). */
  tokensInvalid: boolean;
  atUnixNano: bigint;
  serviceTier: string | null;
  /** The cost the instrumentation reported, pico-USD, or null. */
  reportedCostPicoUsd: bigint | null;
}

export interface PriceDecision {
  /** Null when the call is not priced: tokens missing or invalid, model without a price, cost beyond range. */
  cost: CallCost | null;
  /** Status-deciding reasons from pricing: `missing_tokens`, `invalid_tokens`, `unpriced_model` (in that order). */
  reasons: ExceptionReason[];
  /** Our cost and the reported cost disagree beyond the thresholds (listed as `cost_mismatch`). */
  costMismatch: boolean;
}

const COST_PARTS = [
  'totalPicoUsd',
  'inputPicoUsd',
  'cachedInputPicoUsd',
  'cacheWritePicoUsd',
  'outputPicoUsd',
  'cacheWrite1hPicoUsd',
  'reasoningPicoUsd',
] as const satisfies readonly (keyof CallCost)[];

/** True when every money part of `cost` fits the ledger's DECIMAL(18,12) columns. */
export function costFits(cost: CallCost): boolean {
  for (const part of COST_PARTS) if (!moneyFits(cost[part])) return false;
  return true;
}

/**
 * Prices one call. Never throws: a count the price book refuses, or a cost too large for one call's DECIMAL
 * (|cost| ≥ $1,000,000, only reachable with absurd counts), leaves the call unpriced with `invalid_tokens`.
 */
export function priceCall(
  book: PriceBook,
  call: CallToPrice,
  thresholds: CostMismatchThresholds = DEFAULT_COST_MISMATCH,
): PriceDecision {
  const { usage } = call;
  const reasons: ExceptionReason[] = [];
  const hasTokens = usage.inputTokens !== null || usage.outputTokens !== null;
  if (!hasTokens && !call.tokensInvalid) reasons.push('missing_tokens');
  if (call.tokensInvalid) reasons.push('invalid_tokens');

  let cost: CallCost | null = null;
  if (call.model === null) {
    reasons.push('unpriced_model');
  } else if (hasTokens && !call.tokensInvalid) {
    try {
      cost = book.cost(
        call.provider,
        call.model,
        {
          inputTokens: usage.inputTokens ?? 0,
          cachedInputTokens: usage.cachedInputTokens ?? 0,
          cacheWriteTokens: usage.cacheWriteTokens ?? 0,
          outputTokens: usage.outputTokens ?? 0,
          reasoningTokens: usage.reasoningTokens ?? 0,
          cacheWrite1hTokens: usage.cacheWrite1hTokens ?? 0,
          inputAudioTokens: usage.inputAudioTokens ?? 0,
          outputAudioTokens: usage.outputAudioTokens ?? 0,
        },
        call.atUnixNano,
        call.serviceTier,
      );
      if (cost === null) reasons.push('unpriced_model');
    } catch (err) {
      // The price book throws RangeError on counts that are not non-negative safe integers (a row written
      // by an older build could hold one): such counts cannot be priced.
      if (!(err instanceof RangeError)) throw err;
      reasons.push('invalid_tokens');
    }
    if (cost !== null && !costFits(cost)) {
      cost = null;
      reasons.push('invalid_tokens');
    }
  } else if (book.unitPrices(call.provider, call.model, call.atUnixNano, 0, call.serviceTier) === null) {
    // Without usable tokens there is no cost either way, but an unknown model is worth flagging too.
    reasons.push('unpriced_model');
  }
  const costMismatch =
    cost !== null && call.reportedCostPicoUsd !== null && isCostMismatch(cost.totalPicoUsd, call.reportedCostPicoUsd, thresholds);
  return { cost, reasons, costMismatch };
}
