import { ATTRIBUTION_STATUSES, EXCEPTION_REASONS, type LedgerRow } from '../../core/ledger-row.js';
import { LEDGER_FIELD_RULES, type FieldKind } from '../../core/ledger-fields.js';
import { MAX_ROW_TOKENS, moneyFits, timeFits } from '../../core/ledger-limits.js';
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
 * (core/ledger-fields.ts) and the token invariants hold. The processor runs it on each row it builds and
 * rejects only that span on a problem; the DuckDB exporter runs it again as the last line of defence, since
 * a value DuckDB refuses would fail the whole batch and a value that wraps would be silently wrong.
 * Text beyond MAX_LEDGER_TEXT_CHARS is a problem here: rows are bounded (bound-text.ts) before the check.
 */
export function rowProblem(row: LedgerRow): string | null {
  // The fast path reads each field by name (compiled from the field table below); only a row that fails it
  // is walked field by field for the message. Reading 44 fields by a variable key made the check cost as
  // much as the rest of processing a span (measured: 3.0 → 4.6 µs per span in bench/ledger-processor-bench).
  if (rowIsSound(row)) return null;
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
  return 'has a value out of range';
}

/** The same checks as {@link rowProblem}'s walk, as one function with a named read per field. */
const rowIsSound = compileSoundCheck();

function compileSoundCheck(): (row: LedgerRow) => boolean {
  const lines: string[] = [];
  for (const [field, { kind, nullable }] of FIELDS) {
    const v = `r.${field}`;
    const present = nullable ? `(${v} !== null && ${v} !== undefined)` : 'true';
    const bad = {
      time: `(typeof ${v} !== 'bigint' || !timeFits(${v}))`,
      trace_id: `(typeof ${v} !== 'string' || ${v}.length !== 32 || !HEX.test(${v}))`,
      span_id: `(typeof ${v} !== 'string' || ${v}.length !== 16 || !HEX.test(${v}))`,
      text: `(typeof ${v} !== 'string' || ${v}.length > MAX_TEXT)`,
      enum: `!ENUMS.${field}.has(${v})`,
      count: `(typeof ${v} !== 'number' || !(${v} >= 0 && ${v} <= MAX_TOKENS) || !Number.isSafeInteger(${v}))`,
      money: `(typeof ${v} !== 'bigint' || !moneyFits(${v}))`,
      reasons: `(!Array.isArray(${v}) || !${v}.every(isReason))`,
    }[kind];
    lines.push(nullable ? `if (${present} && ${bad}) return false;` : `if (${v} === null || ${v} === undefined || ${bad}) return false;`);
  }
  lines.push(
    'if (r.inputTokens !== null && r.inputTokens < (r.cachedInputTokens ?? 0) + (r.cacheWriteTokens ?? 0)) return false;',
    'if (r.outputTokens !== null && r.outputTokens < (r.reasoningTokens ?? 0)) return false;',
    'if (r.endTimeUnixNano !== null && r.endTimeUnixNano < r.startTimeUnixNano) return false;',
    'return true;',
  );
  // Built only from our own field table (no input reaches the source text).
  const make = new Function('timeFits', 'moneyFits', 'HEX', 'MAX_TEXT', 'MAX_TOKENS', 'ENUMS', 'isReason', `return (r) => {\n${lines.join('\n')}\n};`);
  return make(timeFits, moneyFits, HEX, MAX_LEDGER_TEXT_CHARS, MAX_ROW_TOKENS, ENUMS, (x: unknown) => REASONS.has(x as string)) as (
    row: LedgerRow,
  ) => boolean;
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
