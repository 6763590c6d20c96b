/**
 * The span attributes that only pricing needs, read in one pass over a GenAI span's attributes: the service
 * tier that ran, 1-hour cache writes, and the cost the instrumentation itself reported. Kept out of the
 * GenAI extractor (processors/genai/) because none of them identifies a call; docs/pricing.md lists the keys.
 */
import type { AnyValue, KeyValue } from '../../core/otlp.js';
import { attributeText } from '../genai/attribute-text.js';
import { INVALID_TOKEN_COUNT, readTokenCount } from '../genai/normalize-tokens.js';
import { moneyFits } from '../../core/ledger-limits.js';
import { parseDecimal, PICO_DECIMALS } from './decimal.js';

export interface PricingAttributes {
  /** The service tier as reported (lowercased), or null. `auto` requested without a response tier → null. */
  serviceTier: string | null;
  /** Cache-write tokens with a 1-hour TTL, or null when not reported. */
  cacheWrite1hTokens: number | null;
  /** The cost the instrumentation reported, pico-USD (rounded half-even to the pico), or null. */
  reportedCostPicoUsd: bigint | null;
  /**
   * The reported-cost key whose value was present but not a usable amount (negative, NaN, infinite, text,
   * beyond the ledger's DECIMAL), or null. The row stores NULL and lists `invalid_reported_cost`.
   */
  invalidReportedCostKey: string | null;
  /** 1-hour cache-write or audio token keys whose count was present but unreadable; null when none. */
  invalidTokenKeys: string[] | null;
  /** Audio input / output tokens (parts of input / output), or null when not reported. */
  inputAudioTokens: number | null;
  outputAudioTokens: number | null;
}

/** Service tier keys, in priority order: what ran (response) before what was asked for (request). */
export const SERVICE_TIER_KEYS: readonly string[] = [
  'openai.response.service_tier', // OTel semconv (current)
  'gen_ai.openai.response.service_tier', // OTel semconv (deprecated)
  'genai_ledger.service_tier', // set by the application when its instrumentation does not say (e.g. batch jobs)
  'openai.request.service_tier',
  'gen_ai.openai.request.service_tier',
];
const RESPONSE_TIER_KEYS = 3; // the first three say what ran

/** 1-hour cache-write keys: Anthropic's usage field `cache_creation.ephemeral_1h_input_tokens` under `gen_ai.usage.`. */
export const CACHE_WRITE_1H_KEYS: readonly string[] = [
  'gen_ai.usage.cache_creation.ephemeral_1h_input_tokens',
  'gen_ai.usage.cache_creation_1h_input_tokens',
];

/** Reported cost keys (USD): OpenLIT, LiteLLM, OpenInference-style, and common variants. */
export const REPORTED_COST_KEYS: readonly string[] = [
  'gen_ai.usage.cost', // OpenLIT
  'gen_ai.cost.total_cost', // LiteLLM
  'llm.cost.total', // OpenInference cost attributes
  'gen_ai.usage.cost_usd',
  'llm.usage.cost',
];

/** Audio token keys (OpenInference). */
export const INPUT_AUDIO_KEYS: readonly string[] = ['llm.token_count.prompt_details.audio'];
export const OUTPUT_AUDIO_KEYS: readonly string[] = ['llm.token_count.completion_details.audio'];

const TIER = 0;
const WRITE_1H = 1;
const COST = 2;
const AUDIO_IN = 3;
const AUDIO_OUT = 4;
const KEY_INFO = new Map<string, { kind: number; rank: number }>();
SERVICE_TIER_KEYS.forEach((k, rank) => KEY_INFO.set(k, { kind: TIER, rank }));
CACHE_WRITE_1H_KEYS.forEach((k, rank) => KEY_INFO.set(k, { kind: WRITE_1H, rank }));
REPORTED_COST_KEYS.forEach((k, rank) => KEY_INFO.set(k, { kind: COST, rank }));
INPUT_AUDIO_KEYS.forEach((k, rank) => KEY_INFO.set(k, { kind: AUDIO_IN, rank }));
OUTPUT_AUDIO_KEYS.forEach((k, rank) => KEY_INFO.set(k, { kind: AUDIO_OUT, rank }));

/** What {@link readReportedCost} returns for a value that is present but not a usable amount. */
export const INVALID_REPORTED_COST = -1n;

/**
 * A reported cost in USD (number or decimal string) → pico-USD (rounded half-even). Null when absent (no
 * value, empty); INVALID_REPORTED_COST when present but negative, NaN, infinite, not a number, or beyond the
 * ledger's DECIMAL(18,12) (|x| < $1,000,000): such a value would otherwise wrap in a 64-bit column.
 */
export function readReportedCost(value: AnyValue | undefined): bigint | null {
  let text: string;
  if (value === undefined || value === null) return null;
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) return INVALID_REPORTED_COST;
    text = String(value); // shortest round-trip form: the decimal the instrumentation computed
  } else if (typeof value === 'string') {
    text = value.trim();
    if (text === '') return null;
  } else if (typeof value === 'bigint') {
    text = String(value);
  } else {
    return INVALID_REPORTED_COST;
  }
  try {
    const parsed = parseDecimal(text, PICO_DECIMALS);
    return parsed.value < 0n || !moneyFits(parsed.value) ? INVALID_REPORTED_COST : parsed.value;
  } catch {
    return INVALID_REPORTED_COST;
  }
}

/** {@link readReportedCost} with unusable amounts as null. */
export function parseReportedCost(value: AnyValue | undefined): bigint | null {
  const cost = readReportedCost(value);
  return cost === INVALID_REPORTED_COST ? null : cost;
}

export function readPricingAttributes(attributes: readonly KeyValue[]): PricingAttributes {
  let tier: string | null = null;
  let tierRank = Infinity;
  let write1h: number | null = null;
  let write1hRank = Infinity;
  let cost: bigint | null = null;
  let costRank = Infinity;
  let invalidCostKey: string | null = null;
  let audioIn: number | null = null;
  let audioOut: number | null = null;
  let invalidTokenKeys: string[] | null = null;
  for (const { key, value } of attributes) {
    const info = KEY_INFO.get(key);
    if (info === undefined) continue;
    if (info.kind === TIER) {
      if (info.rank >= tierRank) continue;
      const text = attributeText(value)?.toLowerCase() ?? null;
      // A requested `auto` says nothing about what ran.
      if (text === null || (info.rank >= RESPONSE_TIER_KEYS && text === 'auto')) continue;
      tier = text;
      tierRank = info.rank;
    } else if (info.kind === COST) {
      if (info.rank >= costRank) continue;
      const c = readReportedCost(value);
      if (c === null) continue;
      // The best-ranked key present decides, as for token counts: an unusable amount is not replaced.
      cost = c === INVALID_REPORTED_COST ? null : c;
      invalidCostKey = c === INVALID_REPORTED_COST ? key : null;
      costRank = info.rank;
    } else {
      const n = readTokenCount(value);
      if (n === null) continue;
      if (n === INVALID_TOKEN_COUNT) {
        (invalidTokenKeys ??= []).push(key);
        continue;
      }
      if (info.kind === WRITE_1H) {
        if (info.rank >= write1hRank) continue;
        write1h = n;
        write1hRank = info.rank;
      } else if (info.kind === AUDIO_IN) {
        audioIn ??= n;
      } else {
        audioOut ??= n;
      }
    }
  }
  return {
    serviceTier: tier,
    cacheWrite1hTokens: write1h,
    reportedCostPicoUsd: cost,
    invalidReportedCostKey: invalidCostKey,
    inputAudioTokens: audioIn,
    outputAudioTokens: audioOut,
    invalidTokenKeys,
  };
}
