/**
 * One row of the `genai_calls` ledger: the normalized, priced, attributed record of one LLM call.
 * The column contract lives in ../shared/DESIGN.md and docs/schema.md; this is its TypeScript shape.
 * Money is `bigint` in pico-USD (1e-12 USD), matching the DECIMAL(18,12) columns exactly.
 */

export const ATTRIBUTION_STATUSES = [
  'attributed',
  'missing_team',
  'missing_cost_center',
  'missing_tokens',
  'invalid_tokens',
  'unpriced_model',
] as const;
export type AttributionStatus = (typeof ATTRIBUTION_STATUSES)[number];

/**
 * Reasons a row is an exception. The statuses in EXCEPTION_PRECEDENCE decide `attribution_status` (first one
 * wins). The LISTED_REASONS are only listed in `exceptions` and never change `attribution_status`:
 * `cost_mismatch` (our cost and the instrumentation's reported cost disagree, docs/pricing.md),
 * `invalid_reported_cost` (a reported cost that is not a usable amount, stored NULL) and `invalid_timestamp`
 * (a start time outside 1970–2200 replaced by the time received, or an end time outside it or before the
 * start stored NULL). See docs/schema.md.
 */
export const LISTED_REASONS = ['cost_mismatch', 'invalid_reported_cost', 'invalid_timestamp'] as const;
export type ListedReason = (typeof LISTED_REASONS)[number];
export type ExceptionReason = Exclude<AttributionStatus, 'attributed'> | ListedReason;
export const EXCEPTION_PRECEDENCE: readonly ExceptionReason[] = [
  'missing_team',
  'missing_cost_center',
  'missing_tokens',
  'invalid_tokens',
  'unpriced_model',
];
/** Every exception reason, status-deciding first, in the order rows list them. */
export const EXCEPTION_REASONS: readonly ExceptionReason[] = [...EXCEPTION_PRECEDENCE, ...LISTED_REASONS];

/** Orders reasons as rows list them: status-deciding reasons by precedence, then the listed ones. */
export const byReasonOrder = (a: ExceptionReason, b: ExceptionReason): number =>
  EXCEPTION_REASONS.indexOf(a) - EXCEPTION_REASONS.indexOf(b);

/** Where the winning ownership value came from. */
export type AttributionSource = 'span' | 'ancestor' | 'resource' | 'service_mapping';

export interface LedgerRow {
  /** Span start, unix nanoseconds. */
  startTimeUnixNano: bigint;
  /** Span end, unix nanoseconds; null when the span's end was outside 1970–2200 or before its start. */
  endTimeUnixNano: bigint | null;
  traceId: string;
  spanId: string;
  parentSpanId: string | null;
  spanName: string;
  /** OTel provider name (`openai`, `anthropic`, `aws.bedrock`, ...). */
  provider: string | null;
  /** The model that was priced: response model when known, else request model. */
  model: string | null;
  requestModel: string | null;
  responseModel: string | null;
  operation: string | null;

  teamId: string | null;
  costCenter: string | null;
  projectId: string | null;
  service: string | null;
  environment: string | null;
  /** Which source supplied team_id (null when no team was found). */
  attributionSource: AttributionSource | null;

  /** All input tokens, including cache reads and writes. */
  inputTokens: number | null;
  cachedInputTokens: number | null;
  cacheWriteTokens: number | null;
  /** All output tokens, including reasoning. */
  outputTokens: number | null;
  reasoningTokens: number | null;
  totalTokens: number | null;

  /** Identifier of the exact price data used, or null when unpriced. */
  unitPriceSnapshot: string | null;
  /** Cost in pico-USD, or null when the model has no price or tokens are missing. */
  requestCostPicoUsd: bigint | null;
  /** Per-class costs in pico-USD (null when the total is null). */
  inputCostPicoUsd: bigint | null;
  cachedInputCostPicoUsd: bigint | null;
  cacheWriteCostPicoUsd: bigint | null;
  outputCostPicoUsd: bigint | null;
  /** Part of cacheWriteTokens written with a 1-hour TTL (null = not reported). */
  cacheWrite1hTokens: number | null;
  /** Service tier the span says ran (`batch`, `flex`, `priority`, …), lowercased; null = not reported. */
  serviceTier: string | null;
  /** The cost the instrumentation itself reported (`gen_ai.usage.cost`, …), pico-USD; null = not reported. */
  reportedCostPicoUsd: bigint | null;
  /** The 1-hour cache writes' part of cacheWriteCostPicoUsd (null when the total is null). */
  cacheWrite1hCostPicoUsd: bigint | null;
  /** The reasoning part of outputCostPicoUsd (null when the total is null). */
  reasoningCostPicoUsd: bigint | null;
  /** Audio part of the input / output tokens (null = not reported). */
  inputAudioTokens: number | null;
  outputAudioTokens: number | null;

  attributionStatus: AttributionStatus;
  /** Every exception reason that applies, in precedence order (empty when attributed). */
  exceptions: ExceptionReason[];

  /** OTLP status: 'unset' | 'ok' | 'error'. */
  status: 'unset' | 'ok' | 'error';
  /** instrumentation scope name, e.g. `@opentelemetry/instrumentation-openai` (debug context). */
  instrumentationScope: string | null;
  /**
   * How the reported token counts were read (processors/genai/normalize-tokens.ts): `otel`,
   * `input_excludes_cache`, `output_excludes_reasoning`, or both joined with `+`.
   */
  tokenConvention: string | null;
  /** Which convention family supplied the counts (processors/genai/token-sources.ts). */
  tokenSource: string | null;
  /** The user the call was made for, as the `privacy.userIds` policy stores it (pseudonym, plain or null). */
  userId: string | null;
  /** The provider's response id (`gen_ai.response.id`, …): how one call traced twice is recognised. */
  responseId: string | null;
  /**
   * `http.route` of the nearest SERVER-kind ancestor span (exception context: which endpoint made the call);
   * omitted or null when none is known.
   */
  route: string | null;
  /** The API key alias the instrumentation names (LiteLLM `metadata.user_api_key_alias`, else its key hash). */
  apiKeyAlias: string | null;
}

/** Picks `attribution_status` from the collected reasons. */
export function attributionStatusOf(exceptions: readonly ExceptionReason[]): AttributionStatus {
  for (const reason of EXCEPTION_PRECEDENCE) if (exceptions.includes(reason)) return reason as AttributionStatus;
  return 'attributed';
}
