/**
 * The price book: unit prices from the pinned `@pydantic/genai-prices` database, applied with exact integer
 * arithmetic. The package is used only to FIND things — which database provider and model entry a
 * (provider, model) pair means, exactly as the package's own matching does it (case folding, date-suffix
 * normalisation, fallback providers). Its float totals are never used: every price is converted once to
 * integer pico-USD per token (see decimal.ts) and money is `bigint` from there on.
 *
 * The bundled data is the only source: nothing is fetched at run time (`updatePrices`/`waitForUpdate` are
 * never called), so the snapshot id below identifies exactly the data every cost was computed with.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

import { calcPrice, findProvider } from '@pydantic/genai-prices';
import type { ConditionalPrice, ModelInfo, ModelPrice, TieredPrices } from '@pydantic/genai-prices';

import { formatScaled, usdPerMtokToPicoPerToken } from './decimal.js';
import {
  inForce,
  loadPriceOverrides,
  scopeMatches,
  type Alias,
  type CustomPrice,
  type Discount,
  type PriceOverrides,
  type RuleScope,
  type TierMultiplier,
} from './price-overrides.js';

/** Token counts of one call, ledger-normalized: input INCLUDES cached + cacheWrite, output INCLUDES reasoning. */
export interface PricedTokens {
  inputTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  /**
   * Part of `cacheWriteTokens` written with a 1-hour TTL (Anthropic's `cache_creation.ephemeral_1h_input_tokens`);
   * the rest of the cache writes are priced at the default (5-minute) cache-write rate. Omitted = 0.
   */
  cacheWrite1hTokens?: number;
  /** Audio part of the uncached input (OpenInference `llm.token_count.prompt_details.audio`). Omitted = 0. */
  inputAudioTokens?: number;
  /** Audio part of the non-reasoning output (`llm.token_count.completion_details.audio`). Omitted = 0. */
  outputAudioTokens?: number;
}

/** The unit prices in force for one call, in pico-USD per token (= micro-USD per million tokens). */
export interface UnitPrices {
  /** Uncached input. */
  input: bigint;
  /** Cache read; the input rate when the database has no cache-read price. */
  cacheRead: bigint;
  /** Cache write (the default, 5-minute TTL); the input rate when the database has no cache-write price. */
  cacheWrite: bigint;
  /** Cache write with a 1-hour TTL; the 5-minute cache-write rate when the database has no 1-hour price. */
  cacheWrite1h: bigint;
  output: bigint;
  /** Reasoning part of the output; the output rate unless the database prices reasoning separately. */
  reasoning: bigint;
  /** Audio input tokens; the input rate unless the price has an audio rate. */
  inputAudio: bigint;
  /** Audio output tokens; the output rate unless the price has an audio rate. */
  outputAudio: bigint;
  /** The model entry id in the database. */
  modelRef: string;
  /** The provider id in the database (for a fallback model, the provider that was asked, e.g. `azure`). */
  providerRef: string;
  /** True when the price in force has context-size tiers, so the rates depend on the call's input tokens. */
  tiered: boolean;
  /** The tier that applies: it is used when input tokens > this threshold; null for the base tier. */
  tierAbove: number | null;
  /** Every context-size threshold of the price in force (rates switch when input tokens exceed one). */
  tierThresholds: number[];
  /** True when some price had more than 6 decimals in $/Mtok and was rounded half-even. */
  rounded: boolean;
  /** Where these prices came from (for `genai-ledger prices show`). */
  origin: PriceOrigin;
}

/** The rules that produced a call's unit prices, in words. */
export interface PriceOrigin {
  /** The overrides alias that redirected the model (`aliases[0] → openai/gpt-4o`), or null. */
  alias: string | null;
  /** `genai-prices <provider>/<model entry>` or `overrides prices[3] (<file>)`. */
  source: string;
  /** The price period in force: `always`, `from 2025-06-10`, `from … until …`, a time-of-day window. */
  period: string;
  /** The discount applied (`discounts[0]: 12.5% off`), or null. */
  discount: string | null;
  /** The service tier multiplier applied (`batch ×0.5 (built-in)`), or null for standard rates. */
  serviceTier: string | null;
}

/** The cost of one call. All amounts are pico-USD; the parts add up to the total exactly. */
export interface CallCost {
  /** Id of the exact price data used (see `PriceBook.snapshot`). */
  snapshot: string;
  totalPicoUsd: bigint;
  /** Uncached input part. */
  inputPicoUsd: bigint;
  cachedInputPicoUsd: bigint;
  cacheWritePicoUsd: bigint;
  /** Output, including reasoning tokens (at the reasoning rate, which is the output rate by default). */
  outputPicoUsd: bigint;
  /** The 1-hour cache writes' share of `cacheWritePicoUsd` (included in it, not added to the total again). */
  cacheWrite1hPicoUsd: bigint;
  /** The reasoning tokens' share of `outputPicoUsd` (included in it, not added to the total again). */
  reasoningPicoUsd: bigint;
}

/**
 * OTel `gen_ai.provider.name` (and the older `gen_ai.system`) → provider id in the price database.
 * Explicit because the database's own fuzzy provider matching gets some of these wrong: `azure.ai.openai`
 * would match the `openai` provider (its provider_match is "contains openai") instead of `azure`, and `x_ai`
 * matches nothing. `null` means: a known provider the database has no prices for — the call is unpriced
 * rather than guessed from another vendor's list price.
 */
export const OTEL_PROVIDER_TO_DB: ReadonlyMap<string, string | null> = new Map<string, string | null>([
  ['openai', 'openai'],
  ['anthropic', 'anthropic'],
  ['aws.bedrock', 'aws'],
  ['gcp.vertex_ai', 'google'],
  ['gcp.gemini', 'google'],
  ['gcp.gen_ai', 'google'],
  ['vertex_ai', 'google'], // older gen_ai.system value
  ['gemini', 'google'], // older gen_ai.system value
  ['azure.ai.openai', 'azure'],
  ['azure.ai.inference', 'azure'],
  ['az.ai.openai', 'azure'], // older gen_ai.system value
  ['az.ai.inference', 'azure'], // older gen_ai.system value
  ['mistral_ai', 'mistral'],
  ['x_ai', 'x-ai'],
  ['xai', 'x-ai'], // older gen_ai.system value
  ['groq', 'groq'],
  ['deepseek', 'deepseek'],
  ['cohere', 'cohere'],
  ['perplexity', 'perplexity'],
  ['ibm.watsonx.ai', null],
]);

/** How a provider name is looked up in the database. */
export type ProviderLookup =
  /** a database provider id */
  | { kind: 'provider'; id: string }
  /** no usable provider: match on the model name alone, across all providers */
  | { kind: 'model-only' }
  /** a provider the database does not price */
  | { kind: 'unpriced' };

/**
 * Decides where to look a provider name up:
 * 1. null / empty → model-only lookup (the database picks the provider whose model pattern matches,
 *    e.g. `gpt-…` → openai, `claude…` → anthropic);
 * 2. a name in {@link OTEL_PROVIDER_TO_DB} → that id (or unpriced);
 * 3. any other name is tried as a database provider id or against the providers' own name patterns
 *    (`openrouter`, `together_ai`, `fireworks`, `bedrock`, …);
 * 4. still unknown → model-only lookup. An unknown provider name usually means a custom proxy or gateway
 *    that forwards to a well-known model, so its list price is the best available answer; the row still
 *    records the provider as sent, and an override file can correct it.
 */
export function providerLookup(provider: string | null): ProviderLookup {
  const name = provider?.trim().toLowerCase() ?? '';
  if (name === '') return { kind: 'model-only' };
  const mapped = OTEL_PROVIDER_TO_DB.get(name);
  if (mapped !== undefined) return mapped === null ? { kind: 'unpriced' } : { kind: 'provider', id: mapped };
  const found = findProvider({ providerId: name });
  return found === undefined ? { kind: 'model-only' } : { kind: 'provider', id: found.id };
}

// ---------------------------------------------------------------------------------------------------------
// Compiled price entries

/** Rates of one context-size tier, pico-USD per token. */
interface Segment {
  /** The segment applies when input tokens > above (-1 for the base segment). */
  readonly above: number;
  readonly input: bigint;
  readonly cacheRead: bigint;
  readonly cacheWrite: bigint;
  readonly cacheWrite1h: bigint;
  readonly output: bigint;
  readonly reasoning: bigint;
  readonly inputAudio: bigint;
  readonly outputAudio: bigint;
}

/** One ModelPrice record, compiled. `segments` ascend by `above`; segments[0] is the base tier. */
interface RateSet {
  readonly segments: readonly [Segment, ...Segment[]];
  readonly tiered: boolean;
  readonly rounded: boolean;
}

const ALWAYS = 0;
const FROM_DATE = 1;
const TIME_OF_DAY = 2;
/** One price period of a date/time-conditional model; `rates` null when the period has no token prices. */
interface Period {
  readonly kind: typeof ALWAYS | typeof FROM_DATE | typeof TIME_OF_DAY;
  /** FROM_DATE: unix ms of the start date; TIME_OF_DAY: ms of the UTC day the window starts. */
  readonly startMs: number;
  /** TIME_OF_DAY: ms of the UTC day the window ends (exclusive); may be < startMs (wraps midnight). */
  readonly endMs: number;
  readonly rates: RateSet | null;
}

/** A resolved (provider, model): either one price record, or periods chosen by the call's timestamp. */
interface Entry {
  readonly modelRef: string;
  readonly providerRef: string;
  /** The price when it does not depend on time (null = not token-priced); undefined when `periods` apply. */
  readonly fixed: RateSet | null | undefined;
  readonly periods: readonly Period[];
}

const PRICE_KEYS = [
  'input_mtok',
  'cache_read_mtok',
  'cache_write_mtok',
  'cache_write_1h_mtok',
  'output_mtok',
  'output_reasoning_mtok',
  'input_audio_mtok',
  'output_audio_mtok',
] as const;
type PriceKey = (typeof PRICE_KEYS)[number];

function isTiered(v: number | TieredPrices | undefined): v is TieredPrices {
  return typeof v === 'object' && v !== null;
}

/**
 * Compiles one price record. Tier semantics follow the package (index.js, `de`): a tiered price uses the
 * highest tier whose `start` is strictly below the call's TOTAL input tokens (cache reads and writes
 * included), else `base`; the chosen tier applies to every token class of the call. Since all keys switch at
 * the union of their thresholds, each threshold becomes one segment with every class's rate resolved.
 */
function compileRates(price: ModelPrice): RateSet | null {
  if (price['input_mtok'] === undefined && price['output_mtok'] === undefined) return null; // not token-priced
  let rounded = false;
  const toPico = (n: number): bigint => {
    const p = usdPerMtokToPicoPerToken(n);
    if (p.rounded) rounded = true;
    return p.value;
  };
  const thresholds = new Set<number>();
  for (const key of PRICE_KEYS) {
    const v = price[key];
    if (isTiered(v)) for (const t of v.tiers) thresholds.add(t.start);
  }
  /** The rate of `key` for input token counts just above `above`; undefined when the key has no price. */
  const rateAbove = (key: PriceKey, above: number): bigint | undefined => {
    const v = price[key];
    if (v === undefined) return undefined;
    if (!isTiered(v)) return toPico(v);
    let chosen = v.base;
    let chosenStart = -Infinity;
    for (const t of v.tiers) {
      if (t.start <= above && t.start >= chosenStart) {
        chosen = t.price;
        chosenStart = t.start;
      }
    }
    return toPico(chosen);
  };
  const segmentAbove = (above: number): Segment => {
    const input = rateAbove('input_mtok', above) ?? 0n;
    const output = rateAbove('output_mtok', above) ?? 0n;
    const cacheWrite = rateAbove('cache_write_mtok', above) ?? input;
    return {
      above,
      input,
      cacheRead: rateAbove('cache_read_mtok', above) ?? input,
      cacheWrite,
      cacheWrite1h: rateAbove('cache_write_1h_mtok', above) ?? cacheWrite,
      output,
      reasoning: rateAbove('output_reasoning_mtok', above) ?? output,
      inputAudio: rateAbove('input_audio_mtok', above) ?? input,
      outputAudio: rateAbove('output_audio_mtok', above) ?? output,
    };
  };
  const sorted = [...thresholds].sort((a, b) => a - b);
  const segments: [Segment, ...Segment[]] = [segmentAbove(-1), ...sorted.map(segmentAbove)];
  return { segments, tiered: sorted.length > 0, rounded };
}

const DAY_MS = 86_400_000;
const TIME_OF_DAY_SYNTAX = /^(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|([+-])(\d{2}):(\d{2}))$/;

/** 'HH:MM:SS[.fff](Z|±HH:MM)' → ms of the UTC day (the package's time-of-day constraint format). */
function utcMsOfDay(text: string): number {
  const m = TIME_OF_DAY_SYNTAX.exec(text);
  if (m === null) throw new Error(`invalid time-of-day constraint ${text}`);
  const [, hh, mm, ss, frac = '', zone, sign, oh = '00', om = '00'] = m;
  const local = ((Number(hh) * 60 + Number(mm)) * 60 + Number(ss)) * 1000 + Math.round(Number(`0.${frac}`) * 1000);
  const offset = zone === 'Z' ? 0 : (sign === '+' ? 1 : -1) * (Number(oh) * 60 + Number(om)) * 60_000;
  return (((local - offset) % DAY_MS) + DAY_MS) % DAY_MS;
}

function compilePeriod(c: ConditionalPrice): Period {
  const rates = compileRates(c.prices);
  const k = c.constraint;
  if (k === undefined) return { kind: ALWAYS, startMs: 0, endMs: 0, rates };
  if (k.type === 'start_date') {
    // The package compares the call time with `new Date(start_date)`: a date-only ISO string is UTC midnight.
    const startMs = Date.parse(k.start_date);
    if (Number.isNaN(startMs)) throw new Error(`invalid start_date ${k.start_date}`);
    return { kind: FROM_DATE, startMs, endMs: 0, rates };
  }
  if (k.type === 'time_of_date') {
    return { kind: TIME_OF_DAY, startMs: utcMsOfDay(k.start_time), endMs: utcMsOfDay(k.end_time), rates };
  }
  throw new Error(`unknown price constraint ${JSON.stringify(k)}`);
}

function compileEntry(model: ModelInfo, providerRef: string): Entry {
  if (!Array.isArray(model.prices)) {
    return { modelRef: model.id, providerRef, fixed: compileRates(model.prices), periods: [] };
  }
  const periods = model.prices.map(compilePeriod);
  if (periods.length === 0) return { modelRef: model.id, providerRef, fixed: null, periods };
  return { modelRef: model.id, providerRef, fixed: undefined, periods };
}

/**
 * The period in force at `ms`, with the package's semantics (index.js, `we`): periods are tried from the
 * LAST to the first, the first whose constraint holds wins (no constraint always holds; a start date holds
 * from that UTC midnight on; a time-of-day window holds inside [start, end) of the UTC day, wrapping midnight
 * when end < start), and when none holds the first period applies.
 */
function periodIndexAt(periods: readonly Period[], ms: number): number {
  for (let i = periods.length - 1; i >= 0; i--) {
    const p = periods[i]!;
    if (p.kind === ALWAYS) return i;
    if (p.kind === FROM_DATE) {
      if (ms >= p.startMs) return i;
    } else {
      const t = ((ms % DAY_MS) + DAY_MS) % DAY_MS;
      if (p.endMs < p.startMs ? t >= p.startMs || t < p.endMs : t >= p.startMs && t < p.endMs) return i;
    }
  }
  return 0;
}

function segmentFor(rates: RateSet, inputTokens: number): Segment {
  const segs = rates.segments;
  for (let i = segs.length - 1; i > 0; i--) {
    const s = segs[i]!;
    if (inputTokens > s.above) return s;
  }
  return segs[0];
}

function unixNanoToMs(atUnixNano: bigint): number {
  const ms = atUnixNano / 1_000_000n;
  return Number(atUnixNano < 0n && ms * 1_000_000n !== atUnixNano ? ms - 1n : ms);
}

const isCount = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;

function checkTokens(t: PricedTokens): void {
  if (
    isCount(t.inputTokens) &&
    isCount(t.cachedInputTokens) &&
    isCount(t.cacheWriteTokens) &&
    isCount(t.outputTokens) &&
    isCount(t.reasoningTokens) &&
    (t.cacheWrite1hTokens === undefined || isCount(t.cacheWrite1hTokens)) &&
    (t.inputAudioTokens === undefined || isCount(t.inputAudioTokens)) &&
    (t.outputAudioTokens === undefined || isCount(t.outputAudioTokens))
  ) {
    return;
  }
  const bad = Object.entries(t).filter(([, n]) => typeof n !== 'number' || !isCount(n));
  throw new RangeError(`token counts must be non-negative safe integers, got ${bad.map(([k, n]) => `${k}=${String(n)}`).join(', ')}`);
}

/** Matching happens once per (provider, model); the timestamp does not influence which entry matches. */
const MATCH_TIME = new Date(0);
/**
 * Bound on cached (provider, model) resolutions. Model names come from untrusted spans, so the cache must not
 * grow without limit; when full it is simply cleared (re-resolving costs 5–70 µs per distinct model).
 */
const MAX_CACHED_MODELS = 10_000;

/**
 * Version of our pricing rules (how token classes, tiers and overrides combine), part of every snapshot id:
 * two rows with the same data but different rules may differ. 2 = 1-hour cache writes, audio rates, service
 * tiers and override files.
 */
export const PRICING_RULES_VERSION = 2;

/** Service tier values that mean "standard rates". */
const STANDARD_TIERS: ReadonlySet<string> = new Set(['', 'default', 'auto', 'standard', 'on_demand', 'on-demand']);

const ANY_TIME = { fromMs: Number.NEGATIVE_INFINITY, untilMs: Number.POSITIVE_INFINITY };
/**
 * Service-tier multipliers that apply unless the overrides file says otherwise (docs/pricing.md):
 * batch APIs are half price at OpenAI, Anthropic, Google and AWS Bedrock; OpenAI flex processing is billed at
 * batch rates. Other tiers (priority, scale) have per-model prices that are not multiples of the list price
 * and need a `serviceTiers` rule; without one the call is priced at standard rates.
 */
export const BUILT_IN_SERVICE_TIERS: readonly TierMultiplier[] = [
  { provider: null, model: null, prefix: false, ...ANY_TIME, label: 'built-in batch', tier: 'batch', multiplierMicros: 500_000n },
  { provider: 'openai', model: null, prefix: false, ...ANY_TIME, label: 'built-in flex', tier: 'flex', multiplierMicros: 500_000n },
];

/** Lowercased service tier, or null for the standard tier (absent, `default`, `auto`, …). */
export function normalizeServiceTier(tier: string | null | undefined): string | null {
  if (tier === null || tier === undefined) return null;
  const t = tier.trim().toLowerCase();
  return STANDARD_TIERS.has(t) ? null : t;
}

/** A (provider, model) with the override rules that can apply to it, resolved once. */
interface Resolution {
  readonly alias: Alias | null;
  /** The package entry for the (aliased) model, or null. */
  readonly entry: Entry | null;
  readonly customs: readonly CustomPrice[];
  readonly discounts: readonly Discount[];
  readonly tiers: readonly TierMultiplier[];
  /** The built-in tier multipliers that match this model. */
  readonly builtInTiers: readonly TierMultiplier[];
  /** No custom price or discount can apply: the package rates are used unchanged (the fast path). */
  readonly plain: boolean;
  /** Effective rates by selection key. */
  readonly memo: Map<string, RateSet | null>;
}

/** Which rules apply to one call. */
interface Selection {
  readonly custom: CustomPrice | null;
  /** Index of the package period in force, -1 when the entry's price does not depend on time. */
  readonly period: number;
  readonly discount: Discount | null;
  readonly tier: TierMultiplier | null;
}

const specificity = (r: RuleScope): number => (r.model !== null ? 2 : 0) + (r.provider !== null ? 1 : 0);

/** The most specific rule in force at `ms` (later rules win ties), or null. */
function bestInForce<R extends RuleScope>(rules: readonly R[], ms: number, accept?: (r: R) => boolean): R | null {
  let best: R | null = null;
  for (const r of rules) {
    if (!inForce(r, ms) || (accept !== undefined && !accept(r))) continue;
    if (best === null || specificity(r) >= specificity(best)) best = r;
  }
  return best;
}

function roundHalfEven(num: bigint, den: bigint): { value: bigint; rounded: boolean } {
  const q = num / den;
  const r = num % den;
  if (r === 0n) return { value: q, rounded: false };
  const twice = r * 2n;
  return { value: twice > den || (twice === den && q % 2n === 1n) ? q + 1n : q, rounded: true };
}

/** Multiplies every rate by num/den, rounding each unit rate half-even to whole pico-USD per token. */
function scaleRates(rates: RateSet, num: bigint, den: bigint): RateSet {
  if (num === den) return rates;
  let rounded = rates.rounded;
  const scale = (v: bigint): bigint => {
    const r = roundHalfEven(v * num, den);
    if (r.rounded) rounded = true;
    return r.value;
  };
  const segments = rates.segments.map((s) => ({
    above: s.above,
    input: scale(s.input),
    cacheRead: scale(s.cacheRead),
    cacheWrite: scale(s.cacheWrite),
    cacheWrite1h: scale(s.cacheWrite1h),
    output: scale(s.output),
    reasoning: scale(s.reasoning),
    inputAudio: scale(s.inputAudio),
    outputAudio: scale(s.outputAudio),
  })) as unknown as [Segment, ...Segment[]];
  return { segments, tiered: rates.tiered, rounded };
}

function customRates(c: CustomPrice): RateSet {
  const { input, cacheRead, cacheWrite, cacheWrite1h, output, reasoning, inputAudio, outputAudio } = c;
  return {
    segments: [{ above: -1, input, cacheRead, cacheWrite, cacheWrite1h, output, reasoning, inputAudio, outputAudio }],
    tiered: false,
    rounded: false,
  };
}

const isoDay = (ms: number): string => new Date(ms).toISOString().replace('T00:00:00.000Z', '');
const hhmm = (msOfDay: number): string => new Date(msOfDay).toISOString().slice(11, 16);

function describeRange(fromMs: number, untilMs: number): string {
  const parts = [];
  if (Number.isFinite(fromMs)) parts.push(`from ${isoDay(fromMs)}`);
  if (Number.isFinite(untilMs)) parts.push(`until ${isoDay(untilMs)}`);
  return parts.length === 0 ? 'always' : parts.join(' ');
}

function describePeriod(entry: Entry, index: number): string {
  if (entry.fixed !== undefined || index < 0) return 'always';
  const p = entry.periods[index];
  if (p === undefined) return 'always';
  if (p.kind === TIME_OF_DAY) return `daily ${hhmm(p.startMs)}–${hhmm(p.endMs)} UTC`;
  const next = entry.periods.slice(index + 1).find((q) => q.kind === FROM_DATE);
  const until = next === undefined ? Number.POSITIVE_INFINITY : next.startMs;
  return describeRange(p.kind === FROM_DATE ? p.startMs : Number.NEGATIVE_INFINITY, until);
}

const percentText = (micros: bigint): string => formatScaled(micros, 6).replace(/\.?0+$/, '');

export class PriceBook {
  /**
   * Identifies the exact price data: `genai-prices@<version>+sha256:<first 12 hex>;rules=<n>`, where the hash
   * is of the package's bundled ES module — the file that embeds the price data (and the matching rules,
   * which decide which price applies just as much) — and `rules` is {@link PRICING_RULES_VERSION}. With an
   * overrides file, `;overrides=sha256:<first 12 hex of the file>` is appended. Recomputing with the same
   * snapshot gives the same cost.
   */
  readonly snapshot: string;
  /** The overrides layered on the package prices, or null. */
  readonly overrides: PriceOverrides | null;

  /** provider key ('' for none) → model → resolution. */
  readonly #cache = new Map<string, Map<string, Resolution>>();
  #cachedCount = 0;
  readonly #customRates = new Map<CustomPrice, RateSet>();

  constructor(snapshot: string, overrides: PriceOverrides | null = null) {
    this.snapshot = overrides === null ? snapshot : `${snapshot};overrides=${overrides.hash}`;
    this.overrides = overrides;
    for (const c of overrides?.prices ?? []) this.#customRates.set(c, customRates(c));
  }

  /**
   * The bundled database of the pinned `@pydantic/genai-prices` (computes the snapshot id from its bytes),
   * with `overrides` layered on top when given.
   */
  static async loadDefault(overrides: PriceOverrides | null = null): Promise<PriceBook> {
    const moduleUrl = new URL(import.meta.resolve('@pydantic/genai-prices'));
    const [bytes, pkgText] = await Promise.all([
      readFile(moduleUrl),
      readFile(new URL('../package.json', moduleUrl), 'utf8'),
    ]);
    const pkg = JSON.parse(pkgText) as { name?: unknown; version?: unknown };
    if (pkg.name !== '@pydantic/genai-prices' || typeof pkg.version !== 'string') {
      throw new Error(`unexpected package.json next to ${moduleUrl.href}`);
    }
    const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 12);
    return new PriceBook(`genai-prices@${pkg.version}+sha256:${hash};rules=${PRICING_RULES_VERSION}`, overrides);
  }

  /** The package prices plus the overrides file at `overridesFile` (if any). Throws ConfigFileError. */
  static async load(overridesFile?: string | null): Promise<PriceBook> {
    const overrides = overridesFile === undefined || overridesFile === null ? null : await loadPriceOverrides(overridesFile);
    return PriceBook.loadDefault(overrides);
  }

  /**
   * The cost of one call, or null when the model has no token price (never a silent 0).
   * `provider` is the OTel provider name (see {@link providerLookup} for how it maps to the database);
   * `serviceTier` is the tier the span says ran (`batch`, `flex`, `priority`, …; null/`default` = standard).
   *
   * cost = uncached × input + cached × cacheRead + (cacheWrite − 1h) × cacheWrite + 1h × cacheWrite1h
   *        + (output − reasoning) × output + reasoning × reasoning, with the rates of the context-size tier that
   *        the total input selects, after the overrides' custom price, discount and service-tier multiplier
   *        (each unit rate rounded half-even to whole pico-USD per token, so costs stay additive).
   * The token counts must satisfy the ledger invariants (input ≥ cached + cacheWrite, output ≥ reasoning,
   * cacheWrite ≥ 1h); if they do not, the uncached input (or non-reasoning output) is taken as 0 rather than
   * negative — the more specific counts are trusted and billed in full, so a broken invariant never produces
   * a negative cost or a credit. Throws a `RangeError` when a count is not a non-negative safe integer: that
   * is a normalization bug upstream, and a guessed cost would be worse than a loud failure.
   */
  cost(
    provider: string | null,
    model: string,
    tokens: PricedTokens,
    atUnixNano: bigint,
    serviceTier: string | null = null,
  ): CallCost | null {
    checkTokens(tokens);
    const rates = this.#ratesAt(provider, model, atUnixNano, normalizeServiceTier(serviceTier));
    if (rates === null) return null;
    const seg = segmentFor(rates, tokens.inputTokens);
    const uncached = Math.max(0, tokens.inputTokens - tokens.cachedInputTokens - tokens.cacheWriteTokens);
    const plainOutput = Math.max(0, tokens.outputTokens - tokens.reasoningTokens);
    const write1h = Math.min(tokens.cacheWrite1hTokens ?? 0, tokens.cacheWriteTokens);
    const audioIn = Math.min(tokens.inputAudioTokens ?? 0, uncached);
    const audioOut = Math.min(tokens.outputAudioTokens ?? 0, plainOutput);
    const inputPicoUsd =
      audioIn === 0 ? BigInt(uncached) * seg.input : BigInt(uncached - audioIn) * seg.input + BigInt(audioIn) * seg.inputAudio;
    const cachedInputPicoUsd = BigInt(tokens.cachedInputTokens) * seg.cacheRead;
    const cacheWrite1hPicoUsd = BigInt(write1h) * seg.cacheWrite1h;
    const cacheWritePicoUsd = BigInt(tokens.cacheWriteTokens - write1h) * seg.cacheWrite + cacheWrite1hPicoUsd;
    const reasoningPicoUsd = BigInt(tokens.reasoningTokens) * seg.reasoning;
    const plainOutputPicoUsd =
      audioOut === 0 ? BigInt(plainOutput) * seg.output : BigInt(plainOutput - audioOut) * seg.output + BigInt(audioOut) * seg.outputAudio;
    const outputPicoUsd = plainOutputPicoUsd + reasoningPicoUsd;
    return {
      snapshot: this.snapshot,
      totalPicoUsd: inputPicoUsd + cachedInputPicoUsd + cacheWritePicoUsd + outputPicoUsd,
      inputPicoUsd,
      cachedInputPicoUsd,
      cacheWritePicoUsd,
      outputPicoUsd,
      cacheWrite1hPicoUsd,
      reasoningPicoUsd,
    };
  }

  /**
   * The unit prices that apply to a call of `model` at `atUnixNano` with `inputTokens` total input tokens
   * (0 when omitted, i.e. the base tier) in `serviceTier`, or null when the model has no token price.
   */
  unitPrices(
    provider: string | null,
    model: string,
    atUnixNano: bigint,
    inputTokens = 0,
    serviceTier: string | null = null,
  ): UnitPrices | null {
    const res = this.#resolve(provider, model);
    const sel = this.#select(res, unixNanoToMs(atUnixNano), normalizeServiceTier(serviceTier));
    const rates = this.#ratesFor(res, sel);
    if (rates === null) return null;
    const seg = segmentFor(rates, inputTokens);
    const entry = res.entry;
    const o = this.overrides;
    const source =
      sel.custom !== null
        ? `overrides ${sel.custom.label} (${o?.file ?? ''})`
        : `genai-prices ${entry?.providerRef ?? '?'}/${entry?.modelRef ?? '?'}`;
    const period =
      sel.custom !== null ? describeRange(sel.custom.fromMs, sel.custom.untilMs) : entry === null ? 'always' : describePeriod(entry, sel.period);
    const alias = res.alias;
    return {
      input: seg.input,
      cacheRead: seg.cacheRead,
      cacheWrite: seg.cacheWrite,
      cacheWrite1h: seg.cacheWrite1h,
      output: seg.output,
      reasoning: seg.reasoning,
      inputAudio: seg.inputAudio,
      outputAudio: seg.outputAudio,
      modelRef: sel.custom !== null ? model : (entry?.modelRef ?? model),
      providerRef: sel.custom !== null ? (provider ?? '') : (entry?.providerRef ?? ''),
      tiered: rates.tiered,
      tierAbove: seg.above < 0 ? null : seg.above,
      tierThresholds: rates.segments.slice(1).map((s) => s.above),
      rounded: rates.rounded,
      origin: {
        alias: alias === null ? null : `${alias.label} → ${alias.targetProvider ?? provider ?? '(any provider)'}/${alias.targetModel}`,
        source,
        period,
        discount:
          sel.discount === null
            ? null
            : `${sel.discount.label}: ${percentText(sel.discount.percentMicros)}% off, ${describeRange(sel.discount.fromMs, sel.discount.untilMs)}`,
        serviceTier:
          sel.tier === null
            ? null
            : `${sel.tier.tier} ×${percentText(sel.tier.multiplierMicros)} (${sel.tier.label.startsWith('built-in') ? 'built-in' : `overrides ${sel.tier.label}`})`,
      },
    };
  }

  #ratesAt(provider: string | null, model: string, atUnixNano: bigint, tier: string | null): RateSet | null {
    const res = this.#resolve(provider, model);
    if (res.plain && tier === null) {
      const entry = res.entry;
      if (entry === null) return null;
      if (entry.fixed !== undefined) return entry.fixed;
      return entry.periods[periodIndexAt(entry.periods, unixNanoToMs(atUnixNano))]?.rates ?? null;
    }
    return this.#ratesFor(res, this.#select(res, unixNanoToMs(atUnixNano), tier));
  }

  #select(res: Resolution, ms: number, tier: string | null): Selection {
    const custom = res.customs.length === 0 ? null : bestInForceLast(res.customs, ms);
    const entry = res.entry;
    const period = custom !== null || entry === null || entry.fixed !== undefined ? -1 : periodIndexAt(entry.periods, ms);
    const discount = res.discounts.length === 0 ? null : bestInForce(res.discounts, ms);
    let tierRule: TierMultiplier | null = null;
    if (tier !== null) {
      const isTier = (r: TierMultiplier) => r.tier === tier;
      tierRule = bestInForce(res.tiers, ms, isTier) ?? bestInForce(res.builtInTiers, ms, isTier);
    }
    return { custom, period, discount, tier: tierRule };
  }

  #ratesFor(res: Resolution, sel: Selection): RateSet | null {
    const key = `${sel.custom?.label ?? sel.period}|${sel.discount?.label ?? ''}|${sel.tier?.label ?? ''}`;
    let rates = res.memo.get(key);
    if (rates !== undefined) return rates;
    let base: RateSet | null;
    if (sel.custom !== null) base = this.#customRates.get(sel.custom) ?? customRates(sel.custom);
    else if (res.entry === null) base = null;
    else if (res.entry.fixed !== undefined) base = res.entry.fixed;
    else base = res.entry.periods[sel.period]?.rates ?? null;
    rates = null;
    if (base !== null) {
      const HUNDRED = 100_000_000n; // 100% in micro-percent
      const dNum = sel.discount === null ? 1n : HUNDRED - sel.discount.percentMicros;
      const dDen = sel.discount === null ? 1n : HUNDRED;
      const tNum = sel.tier === null ? 1n : sel.tier.multiplierMicros;
      const tDen = sel.tier === null ? 1n : 1_000_000n;
      rates = scaleRates(base, dNum * tNum, dDen * tDen);
    }
    res.memo.set(key, rates);
    return rates;
  }

  /** Resolves (provider, model) once — alias, package entry, applicable override rules — and remembers it. */
  #resolve(provider: string | null, model: string): Resolution {
    const providerKey = provider ?? '';
    let byModel = this.#cache.get(providerKey);
    if (byModel !== undefined) {
      const hit = byModel.get(model);
      if (hit !== undefined) return hit;
    }
    const res = this.#resolveUncached(provider, model);
    if (this.#cachedCount >= MAX_CACHED_MODELS) {
      this.#cache.clear();
      this.#cachedCount = 0;
      byModel = undefined;
    }
    if (byModel === undefined) {
      byModel = new Map();
      this.#cache.set(providerKey, byModel);
    }
    byModel.set(model, res);
    this.#cachedCount++;
    return res;
  }

  #resolveUncached(provider: string | null, model: string): Resolution {
    const o = this.overrides;
    let alias: Alias | null = null;
    let targetProvider = provider;
    let targetModel = model;
    if (o !== null) {
      const p = (provider ?? '').toLowerCase();
      const m = model.toLowerCase();
      alias = o.aliases.find((a) => scopeMatches(a, p, m)) ?? null;
      if (alias !== null) {
        targetProvider = alias.targetProvider ?? provider;
        targetModel = alias.targetModel;
      }
    }
    const p = (targetProvider ?? '').toLowerCase();
    const m = targetModel.toLowerCase();
    const customs = o?.prices.filter((r) => scopeMatches(r, p, m)) ?? [];
    const discounts = o?.discounts.filter((r) => scopeMatches(r, p, m)) ?? [];
    const tiers = o?.serviceTiers.filter((r) => scopeMatches(r, p, m)) ?? [];
    return {
      alias,
      entry: resolveEntry(targetProvider, targetModel),
      customs,
      discounts,
      tiers,
      builtInTiers: BUILT_IN_SERVICE_TIERS.filter((r) => scopeMatches(r, p, m)),
      plain: customs.length === 0 && discounts.length === 0,
      memo: new Map(),
    };
  }
}

/** The LAST custom price in force (later entries in the file correct earlier ones), or null. */
function bestInForceLast(rules: readonly CustomPrice[], ms: number): CustomPrice | null {
  for (let i = rules.length - 1; i >= 0; i--) {
    const r = rules[i]!;
    if (inForce(r, ms)) return r;
  }
  return null;
}

/** AWS Bedrock ARNs of a foundation model or a system inference profile end with the model id. */
const BEDROCK_ARN = /^arn:aws[\w-]*:bedrock:[^:]*:[^:]*:(?:foundation-model|inference-profile)\/(.+)$/;

/** Finds the database entry with the package's own matching, then compiles its prices. */
function resolveEntry(provider: string | null, model: string): Entry | null {
  if (model.trim() === '') return null;
  const lookup = providerLookup(provider);
  if (lookup.kind === 'unpriced') return null;
  const arn = BEDROCK_ARN.exec(model);
  const name = arn?.[1] ?? model;
  try {
    // Only the match is used (model entry + provider); usage {} keeps the package's float math trivial.
    const found = calcPrice(
      {},
      name,
      lookup.kind === 'provider' ? { providerId: lookup.id, timestamp: MATCH_TIME } : { timestamp: MATCH_TIME },
    );
    if (found === null) return null;
    return compileEntry(found.model, found.provider.id);
  } catch {
    // The package rejects a malformed entry (bad constraint, invalid price): treat it as unpriced so the call
    // lands in the exceptions queue instead of failing the batch.
    return null;
  }
}
