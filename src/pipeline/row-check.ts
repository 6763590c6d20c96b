import { ATTRIBUTION_STATUSES, EXCEPTION_REASONS, type LedgerRow } from '../model/ledger-row.js';
import { LEDGER_FIELD_RULES, type FieldKind } from '../model/ledger-fields.js';
import { MAX_ROW_TOKENS, moneyFits, timeFits } from '../model/ledger-limits.js';
import { MAX_LEDGER_TEXT_CHARS } from './bound-text.js';

const FIELDS = Object.entries(LEDGER_FIELD_RULES) as [keyof LedgerRow, { kind: FieldKind; nullable: boolean }][];
const HEX = /^[0-9a-f]+$/;
const ENUMS: Partial<Record<keyof LedgerRow, ReadonlySet<unknown>>> = {
  attributionSource: new Set(['span', 'ancestor', 'resource', 'service_mapping']),
  attributionStatus: new Set(ATTRIBUTION_STATUSES),
  status: new Set(['unset', 'ok', 'error']),
};
const REASONS: ReadonlySet<string> = new Set(EXCEPTION_REASONS);

/**
 * Why `row` cannot be written as it is, or null when every field is within its column's range
 * (src/model/ledger-fields.ts) and the token invariants hold. The processor runs it on each row it builds and
 * rejects only that span on a problem; the DuckDB exporter runs it again as the last line of defence, since
 * a value DuckDB refuses would fail the whole batch and a value that wraps would be silently wrong.
 * Text beyond MAX_LEDGER_TEXT_CHARS is a problem here: rows are bounded (bound-text.ts) before the check.
 */
export function rowProblem(row: LedgerRow): string | null {
  for (const [field, { kind, nullable }] of FIELDS) {
    const value = row[field];
    if (value === null || value === undefined) {
      if (!nullable) return `${field} is required`;
      continue;
    }
    const problem = valueProblem(field, kind, value);
    if (problem !== null) return `${field} ${problem}`;
  }
  const { inputTokens, cachedInputTokens, cacheWriteTokens, outputTokens, reasoningTokens } = row;
  if (inputTokens !== null && inputTokens < (cachedInputTokens ?? 0) + (cacheWriteTokens ?? 0)) {
    return 'inputTokens is less than cachedInputTokens + cacheWriteTokens';
  }
  if (outputTokens !== null && outputTokens < (reasoningTokens ?? 0)) return 'outputTokens is less than reasoningTokens';
  if (row.endTimeUnixNano !== null && row.endTimeUnixNano < row.startTimeUnixNano) return 'endTimeUnixNano is before startTimeUnixNano';
  return null;
}

function valueProblem(field: keyof LedgerRow, kind: FieldKind, value: unknown): string | null {
  switch (kind) {
    case 'time':
      return typeof value === 'bigint' && timeFits(value) ? null : 'is outside 1970–2200';
    case 'trace_id':
      return typeof value === 'string' && value.length === 32 && HEX.test(value) ? null : 'is not 32 lowercase hex digits';
    case 'span_id':
      return typeof value === 'string' && value.length === 16 && HEX.test(value) ? null : 'is not 16 lowercase hex digits';
    case 'text':
      return typeof value === 'string' && value.length <= MAX_LEDGER_TEXT_CHARS ? null : `is not text of at most ${MAX_LEDGER_TEXT_CHARS} characters`;
    case 'enum':
      return ENUMS[field]?.has(value) === true ? null : `has an unknown value ${JSON.stringify(String(value))}`;
    case 'count':
      return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= MAX_ROW_TOKENS
        ? null
        : `must be an integer from 0 to ${MAX_ROW_TOKENS}`;
    case 'money':
      return typeof value === 'bigint' && moneyFits(value) ? null : 'is out of range for DECIMAL(18,12) (|cost| must be below $1,000,000)';
    case 'reasons':
      return Array.isArray(value) && value.every((r) => REASONS.has(r as string)) ? null : 'holds an unknown exception reason';
  }
}
