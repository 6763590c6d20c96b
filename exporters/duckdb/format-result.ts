import {
  DuckDBArrayValue,
  DuckDBDecimalValue,
  DuckDBListValue,
  DuckDBMapValue,
  DuckDBStructValue,
} from '@duckdb/node-api';
import type { QueryResult } from './read-only-query.js';

/**
 * Renders a query result for the `genai-ledger query` CLI. Money is DECIMAL, so it is always printed from
 * its exact decimal string, never through a binary float.
 */

/** One value as text: NULL is empty, DECIMAL/TIMESTAMP/... use DuckDB's own rendering. */
function text(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  return String(value);
}

/** Aligned columns with a header rule and a row count; numbers right-aligned. */
export function formatTable(result: QueryResult): string {
  const { columns, rows } = result;
  const cells = rows.map((row) => columns.map((_, i) => (row[i] === null ? 'NULL' : text(row[i]).replace(/\r?\n/g, '\\n'))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const numeric = columns.map((_, i) =>
    rows.some((r) => r[i] !== null) &&
    rows.every((r) => r[i] === null || typeof r[i] === 'number' || typeof r[i] === 'bigint' || r[i] instanceof DuckDBDecimalValue),
  );
  const line = (values: string[], alignRight: boolean[]) =>
    values.map((v, i) => (alignRight[i] ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join(' | ').trimEnd();
  const out = [
    line(columns, columns.map(() => false)),
    widths.map((w) => '-'.repeat(w)).join('-+-'),
    ...cells.map((r) => line(r, numeric)),
    `(${rows.length} ${rows.length === 1 ? 'row' : 'rows'})`,
  ];
  return out.join('\n') + '\n';
}

/** RFC 4180: CRLF line ends, fields with `,` `"` CR or LF quoted, `"` doubled; NULL is an empty field. */
export function formatCsv(result: QueryResult): string {
  const field = (value: unknown) => {
    const s = text(value);
    return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
  };
  const lines = [result.columns.map(field), ...result.rows.map((row) => result.columns.map((_, i) => field(row[i])))];
  return lines.map((l) => l.join(',')).join('\r\n') + '\r\n';
}

/** One value as JSON: DECIMAL as an exact string; bigint as a number when safe, else a string. */
function jsonValue(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  }
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'string' || typeof value === 'boolean') return value;
  if (value instanceof DuckDBDecimalValue) return value.toString();
  if (value instanceof DuckDBListValue || value instanceof DuckDBArrayValue) return value.items.map(jsonValue);
  if (value instanceof DuckDBStructValue) {
    return Object.fromEntries(Object.entries(value.entries).map(([k, v]) => [k, jsonValue(v)]));
  }
  if (value instanceof DuckDBMapValue) return value.entries.map((e) => ({ key: jsonValue(e.key), value: jsonValue(e.value) }));
  return String(value); // timestamps, dates, intervals, UUIDs, blobs: DuckDB's text form
}

/** A JSON array with one object per row (one row per line). Repeated column names get `_2`, `_3`, ... */
export function formatJson(result: QueryResult): string {
  const seen = new Map<string, number>();
  const keys = result.columns.map((c) => {
    const n = (seen.get(c) ?? 0) + 1;
    seen.set(c, n);
    return n === 1 ? c : `${c}_${n}`;
  });
  const rows = result.rows.map((row) => JSON.stringify(Object.fromEntries(keys.map((k, i) => [k, jsonValue(row[i])]))));
  return rows.length === 0 ? '[]\n' : `[\n${rows.join(',\n')}\n]\n`;
}
