import type { LedgerRow } from '../../core/ledger-row.js';
import { fieldsOfKind } from '../../core/ledger-fields.js';

/**
 * Longest text written to any VARCHAR column of the ledger, in UTF-16 code units (= characters for
 * everything outside the astral planes). Identifiers and names are short in practice; a span that sends a
 * megabyte as its model name or team id gets the first 1024 characters stored, not the megabyte. The
 * value is cut on a character boundary (never half a surrogate pair) and not otherwise changed, so what
 * fits is stored exactly: quotes, SQL fragments and control characters included (rows are written as
 * DuckDB data chunks, never as SQL text).
 */
export const MAX_LEDGER_TEXT_CHARS = 1024;

/** Every text field of a row (derived from the field table, so a new text column is bounded too). */
const TEXT_FIELDS = fieldsOfKind('text');

/** Cuts `text` to at most `max` code units without splitting a surrogate pair. */
export function truncateText(text: string, max = MAX_LEDGER_TEXT_CHARS): string {
  if (text.length <= max) return text;
  const last = text.charCodeAt(max - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}

/** The row with every text field bounded (the same object when nothing was too long). */
export function boundRowText(row: LedgerRow): LedgerRow {
  let out: LedgerRow | null = null;
  for (const field of TEXT_FIELDS) {
    const value = row[field];
    if (typeof value === 'string' && value.length > MAX_LEDGER_TEXT_CHARS) {
      out ??= { ...row };
      (out as unknown as Record<string, string | null>)[field] = truncateText(value);
    }
  }
  return out ?? row;
}
