import type { LedgerRow } from './ledger-row.js';

/**
 * What kind of value each LedgerRow field holds, for the checks every row passes before it is written
 * (src/pipeline/row-check.ts, src/pipeline/bound-text.ts). The table is a `Record` over every key of
 * LedgerRow, so adding a field to the row without saying how it is checked does not compile: this is how
 * a new column cannot be forgotten.
 */
export type FieldKind =
  /** Span time, unix ns (bigint); `nullable` allows null. 1970 ≤ t < 2200. */
  | 'time'
  /** Lowercase hex id of a fixed length. */
  | 'trace_id'
  | 'span_id'
  /** Free text from the span: bounded to MAX_LEDGER_TEXT_CHARS, otherwise stored exactly. */
  | 'text'
  /** One of a closed set of values the processor itself chooses. */
  | 'enum'
  /** A token count: a non-negative safe integer ≤ MAX_ROW_TOKENS. */
  | 'count'
  /** Pico-USD (bigint) that must fit DECIMAL(18,12). */
  | 'money'
  /** The exception reasons list. */
  | 'reasons';

export interface FieldRule {
  kind: FieldKind;
  nullable: boolean;
}

const rule = (kind: FieldKind, nullable = true): FieldRule => ({ kind, nullable });

export const LEDGER_FIELD_RULES: { readonly [K in keyof LedgerRow]-?: FieldRule } = {
  startTimeUnixNano: rule('time', false),
  endTimeUnixNano: rule('time'),
  traceId: rule('trace_id', false),
  spanId: rule('span_id', false),
  parentSpanId: rule('span_id'),
  spanName: rule('text', false),
  provider: rule('text'),
  model: rule('text'),
  requestModel: rule('text'),
  responseModel: rule('text'),
  operation: rule('text'),
  teamId: rule('text'),
  costCenter: rule('text'),
  projectId: rule('text'),
  service: rule('text'),
  environment: rule('text'),
  attributionSource: rule('enum'),
  inputTokens: rule('count'),
  cachedInputTokens: rule('count'),
  cacheWriteTokens: rule('count'),
  outputTokens: rule('count'),
  reasoningTokens: rule('count'),
  totalTokens: rule('count'),
  unitPriceSnapshot: rule('text'),
  requestCostPicoUsd: rule('money'),
  inputCostPicoUsd: rule('money'),
  cachedInputCostPicoUsd: rule('money'),
  cacheWriteCostPicoUsd: rule('money'),
  outputCostPicoUsd: rule('money'),
  cacheWrite1hTokens: rule('count'),
  serviceTier: rule('text'),
  reportedCostPicoUsd: rule('money'),
  cacheWrite1hCostPicoUsd: rule('money'),
  reasoningCostPicoUsd: rule('money'),
  inputAudioTokens: rule('count'),
  outputAudioTokens: rule('count'),
  attributionStatus: rule('enum', false),
  exceptions: rule('reasons', false),
  status: rule('enum', false),
  instrumentationScope: rule('text'),
  tokenConvention: rule('text'),
  tokenSource: rule('text'),
  userId: rule('text'),
  responseId: rule('text'),
  route: rule('text'),
  apiKeyAlias: rule('text'),
};

/** The fields of a kind, in declaration order. */
export function fieldsOfKind(kind: FieldKind): (keyof LedgerRow)[] {
  return (Object.keys(LEDGER_FIELD_RULES) as (keyof LedgerRow)[]).filter((f) => LEDGER_FIELD_RULES[f].kind === kind);
}
