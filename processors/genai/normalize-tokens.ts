import type { AnyValue } from '../../core/otlp.js';
import { OTEL_READING, type DeclaredConvention } from './token-sources.js';

/**
 * Token-count parsing and normalization to the ledger invariants (see ../../../shared/DESIGN.md):
 * `inputTokens` includes cache reads and cache writes, `outputTokens` includes reasoning, so that
 * `inputTokens >= cachedInputTokens + cacheWriteTokens` and `outputTokens >= reasoningTokens` always hold
 * when both sides are known.
 */

/** The source already followed the OTel convention: nothing was adjusted. */
export const CONVENTION_OTEL = 'otel';
/** Cache reads + writes exceeded the reported input (or input was absent): input was taken as exclusive of cache. */
export const ADJUSTED_INPUT_EXCLUDES_CACHE = 'input_excludes_cache';
/** Reasoning exceeded the reported output (or output was absent): output was taken as exclusive of reasoning. */
export const ADJUSTED_OUTPUT_EXCLUDES_REASONING = 'output_excludes_reasoning';

export interface NormalizedUsage {
  usage: TokenUsage;
  /**
   * `'otel'` when the counts were used as reported; otherwise the adjustments that were applied, joined with
   * `+` in a fixed order: `'input_excludes_cache'`, `'output_excludes_reasoning'`,
   * `'input_excludes_cache+output_excludes_reasoning'`.
   */
  tokenConvention: string;
}

/** Token counts of one call, normalized to the ledger invariants (null = not reported). */
export interface TokenUsage {
  /** All input tokens, including cache reads and cache writes. */
  inputTokens: number | null;
  /** Input tokens read from a provider cache. */
  cachedInputTokens: number | null;
  /** Input tokens written to a provider cache. */
  cacheWriteTokens: number | null;
  /** All output tokens, including reasoning. */
  outputTokens: number | null;
  /** Reasoning part of the output. */
  reasoningTokens: number | null;
  /** input + output when both are known, else what the span reported. */
  totalTokens: number | null;
}

const NUMERIC_STRING = /^\+?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?$/;

/**
 * Largest token count one class of one call may carry (10^12). The largest context windows are ~10^7
 * tokens; a count beyond this is a broken or hostile client, and keeping every class below it means sums of
 * classes stay far inside 2^53 and costs inside the ledger's DECIMAL.
 */
export const MAX_TOKENS_PER_CLASS = 1_000_000_000_000;

/** What {@link readTokenCount} returns for a count that is present but unreadable or out of range. */
export const INVALID_TOKEN_COUNT = -1;

/**
 * A token count from an attribute value, in three states:
 * - a non-negative integer <= MAX_TOKENS_PER_CLASS given as int, double (`12.0`), bigint or numeric string;
 * - `null` when nothing is there (no attribute, an empty value, an empty string);
 * - `INVALID_TOKEN_COUNT` when something is there but is not such a count (negative, fractional, NaN, text,
 *   boolean, array, map, bytes, beyond the ceiling). A present-but-wrong count must never be read as absent:
 *   absent input would be priced as zero input, a silent under-bill.
 */
export function readTokenCount(value: AnyValue | undefined): number | null {
  switch (typeof value) {
    case 'undefined':
      return null;
    case 'number':
      return Number.isInteger(value) && value >= 0 && value <= MAX_TOKENS_PER_CLASS ? value : INVALID_TOKEN_COUNT;
    case 'bigint':
      return value >= 0n && value <= BigInt(MAX_TOKENS_PER_CLASS) ? Number(value) : INVALID_TOKEN_COUNT;
    case 'string': {
      const text = value.trim();
      if (text === '') return null;
      if (!NUMERIC_STRING.test(text)) return INVALID_TOKEN_COUNT;
      const n = Number(text);
      return Number.isInteger(n) && n >= 0 && n <= MAX_TOKENS_PER_CLASS ? n : INVALID_TOKEN_COUNT;
    }
    default:
      return value === null ? null : INVALID_TOKEN_COUNT;
  }
}

/** {@link readTokenCount} with unreadable counts as `null`, for callers that only need a usable count. */
export function parseTokenCount(value: AnyValue | undefined): number | null {
  const n = readTokenCount(value);
  return n === INVALID_TOKEN_COUNT ? null : n;
}

/**
 * Brings reported usage to the ledger invariants.
 *
 * The OTel GenAI semantic conventions say `gen_ai.usage.input_tokens` SHOULD include cached tokens and
 * `gen_ai.usage.output_tokens` SHOULD include reasoning tokens, and we trust that by default. Some
 * instrumentations pass the provider's raw numbers instead (Anthropic reports `input_tokens` exclusive of
 * cache). That is only provable when the parts exceed the whole, so:
 * - cache reads + cache writes > input (or input absent while cache is reported) → input += cache;
 * - reasoning > output (or output absent while reasoning is reported) → output += reasoning.
 * When the parts are <= the whole we cannot tell the two readings apart and keep the OTel reading —
 * unless the source is KNOWN to report exclusive counts (`declared`, see token-sources.ts), in which case
 * the parts are added whatever their size.
 *
 * `totalTokens` becomes input + output when both are known, else stays as reported.
 * Idempotent under the OTel reading: normalizing normalized usage again (with the default `declared`)
 * changes nothing, because normalized usage satisfies the invariants.
 */
export function normalizeTokenUsage(raw: TokenUsage, declared: DeclaredConvention = OTEL_READING): NormalizedUsage {
  let { inputTokens, outputTokens } = raw;
  const { cachedInputTokens, cacheWriteTokens, reasoningTokens } = raw;
  let inputAdjusted = false;
  let outputAdjusted = false;

  const cacheTokens = (cachedInputTokens ?? 0) + (cacheWriteTokens ?? 0);
  if (cacheTokens > 0 && (declared.inputExcludesCache || inputTokens === null || cacheTokens > inputTokens)) {
    inputTokens = (inputTokens ?? 0) + cacheTokens;
    inputAdjusted = true;
  }
  if (
    reasoningTokens !== null &&
    reasoningTokens > 0 &&
    (declared.outputExcludesReasoning || outputTokens === null || reasoningTokens > outputTokens)
  ) {
    outputTokens = (outputTokens ?? 0) + reasoningTokens;
    outputAdjusted = true;
  }
  const totalTokens = inputTokens !== null && outputTokens !== null ? inputTokens + outputTokens : raw.totalTokens;

  let tokenConvention = CONVENTION_OTEL;
  if (inputAdjusted && outputAdjusted) {
    tokenConvention = `${ADJUSTED_INPUT_EXCLUDES_CACHE}+${ADJUSTED_OUTPUT_EXCLUDES_REASONING}`;
  } else if (inputAdjusted) {
    tokenConvention = ADJUSTED_INPUT_EXCLUDES_CACHE;
  } else if (outputAdjusted) {
    tokenConvention = ADJUSTED_OUTPUT_EXCLUDES_REASONING;
  }
  return {
    usage: { inputTokens, cachedInputTokens, cacheWriteTokens, outputTokens, reasoningTokens, totalTokens },
    tokenConvention,
  };
}
