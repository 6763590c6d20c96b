import { DuckDBInstance } from '@duckdb/node-api';
import { parseCsv } from '../../processors/attribution/csv.js';
import { isObject, JsonNumber, parseExactJson, toPlain, type ExactJson, type ExactObject } from './exact-json.js';
import { BillFormatError } from './bill-line.js';

/**
 * Bills as rows of text fields, whatever the container: CSV (RFC 4180, as every console exports it), Parquet
 * (AWS Data Exports, BigQuery), newline-delimited JSON or a JSON array (BigQuery's JSON export). Field names
 * are normalized (`normalizeHeader`) so one parser reads a CUR 2.0 Parquet, a legacy CUR CSV
 * (`lineItem/UsageType`) and a FOCUS CSV (`BilledCost`) alike. Values are text exactly as written: money is
 * parsed from it as decimal, never through a float.
 */
export interface TabularRow {
  /** 0-based data row number (the header is not counted). */
  row: number;
  fields: Readonly<Record<string, string | null>>;
  /** The row as it was written (a CSV line, a JSON object), for unparsed lines. */
  raw: string;
  /** Why the container could not read this row properly (a CSV quoting error), or null. */
  problem: string | null;
}

export interface Table {
  container: 'csv' | 'parquet' | 'json';
  /** Normalized names, in file order. */
  columns: string[];
  rows: TabularRow[];
}

/**
 * `lineItem/UsageType` → `line_item_usage_type`, `BilledCost` → `billed_cost`, `service.description` →
 * `service_description`, `resourceTags/user:team` → `resource_tags_user_team`, `x_UsageType` → `x_usage_type`.
 */
export function normalizeHeader(name: string): string {
  return name
    .replace(/^\uFEFF/, '')
    .trim()
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

export function readCsvTable(text: string): Table {
  const { records, issues } = parseCsv(text);
  const header = records[0];
  if (header === undefined) throw new BillFormatError('the CSV file is empty');
  const columns = header.fields.map(normalizeHeader);
  const problemAt = new Map<number, string>();
  for (const issue of issues) if (!problemAt.has(issue.line)) problemAt.set(issue.line, issue.message);
  const rows: TabularRow[] = [];
  records.slice(1).forEach((record, i) => {
    const fields: Record<string, string | null> = {};
    columns.forEach((c, j) => {
      if (c !== '' && !(c in fields)) fields[c] = record.fields[j] ?? null;
    });
    let problem = problemAt.get(record.line) ?? null;
    if (problem === null && record.fields.length > columns.length && record.fields.slice(columns.length).some((f) => f.trim() !== '')) {
      problem = `${record.fields.length} fields where the header has ${columns.length}`;
    }
    rows.push({ row: i, fields, raw: csvLine(record.fields), problem });
  });
  return { container: 'csv', columns, rows };
}

const csvLine = (fields: readonly string[]) => fields.map((f) => (/[",\r\n]/.test(f) ? `"${f.replaceAll('"', '""')}"` : f)).join(',');

/** Newline-delimited JSON objects, or one JSON array of objects. Nested objects flatten with `_`. */
export function readJsonRowsTable(text: string): Table {
  const trimmed = text.replace(/^\uFEFF/, '').trimStart();
  const rows: TabularRow[] = [];
  const columns = new Set<string>();
  const add = (value: ExactJson, raw: string, problem: string | null) => {
    const fields: Record<string, string | null> = {};
    if (isObject(value)) flatten(value, '', fields);
    for (const k of Object.keys(fields)) columns.add(k);
    rows.push({ row: rows.length, fields, raw, problem: problem ?? (isObject(value) ? null : 'not a JSON object') });
  };
  if (trimmed.startsWith('[')) {
    const doc = parseExactJson(trimmed);
    if (!Array.isArray(doc)) throw new BillFormatError('expected a JSON array of rows');
    for (const item of doc) add(item, isObject(item) ? trimmed.slice(item.start, item.end) : JSON.stringify(toPlain(item)), null);
  } else {
    for (const line of text.split(/\r?\n/)) {
      if (line.trim() === '') continue;
      try {
        add(parseExactJson(line), line, null);
      } catch (err) {
        add(null, line, `invalid JSON: ${(err as Error).message}`);
      }
    }
  }
  return { container: 'json', columns: [...columns], rows };
}

function flatten(obj: ExactObject, prefix: string, out: Record<string, string | null>): void {
  for (const [k, v] of obj.fields) {
    const key = normalizeHeader(prefix === '' ? k : `${prefix}_${k}`);
    if (isObject(v)) flatten(v, key, out);
    else if (Array.isArray(v)) out[key] = JSON.stringify(toPlain(v));
    else if (v === null) out[key] = null;
    else out[key] = v instanceof JsonNumber ? v.text : String(v);
  }
}

/**
 * Parquet through DuckDB (built into @duckdb/node-api, no extension download). Every column is read as text:
 * DECIMAL exactly, DOUBLE as its shortest round-trip decimal (what the writer meant), maps/structs/lists as
 * JSON (CUR 2.0 `resource_tags`, `product`).
 */
export async function readParquetTable(path: string): Promise<Table> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  try {
    const connection = await instance.connect();
    try {
      const lit = `'${path.replaceAll("'", "''")}'`;
      const described = (await connection.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${lit})`)).getRows();
      const names = described.map((r) => String(r[0]));
      const select = described
        .map((r) => {
          const name = `"${String(r[0]).replaceAll('"', '""')}"`;
          const type = String(r[1]);
          return /^(MAP|STRUCT)|\[\]$/.test(type) ? `CAST(to_json(${name}) AS VARCHAR)` : `CAST(${name} AS VARCHAR)`;
        })
        .join(', ');
      const result = await connection.runAndReadAll(`SELECT ${select} FROM read_parquet(${lit})`);
      const columns = names.map(normalizeHeader);
      const rows: TabularRow[] = result.getRows().map((values, i) => {
        const fields: Record<string, string | null> = {};
        columns.forEach((c, j) => {
          if (!(c in fields)) fields[c] = values[j] === null || values[j] === undefined ? null : String(values[j]);
        });
        const raw = JSON.stringify(Object.fromEntries(names.map((n, j) => [n, values[j] === null ? null : String(values[j])])));
        return { row: i, fields, raw, problem: null };
      });
      return { container: 'parquet', columns, rows };
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

/** Reads a tag/label collection written as JSON object, JSON array of {key,value}, or `{k=v, …}` (DuckDB MAP text). */
export function readTags(text: string | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (text === null || text === undefined || text.trim() === '') return out;
  const t = text.trim();
  try {
    const doc = toPlain(parseExactJson(t));
    if (Array.isArray(doc)) {
      for (const item of doc) {
        if (item !== null && typeof item === 'object' && 'key' in item) {
          const { key, value } = item as { key: unknown; value: unknown };
          if (typeof key === 'string') out[key] = value === null || value === undefined ? '' : String(value);
        }
      }
    } else if (doc !== null && typeof doc === 'object') {
      for (const [k, v] of Object.entries(doc as Record<string, unknown>)) out[k] = v === null ? '' : String(v);
    }
    return out;
  } catch {
    // Azure writes tags as `"k": "v","k2": "v2"` without braces; DuckDB maps as `{k=v, k2=v2}`.
  }
  const body = t.replace(/^\{|\}$/g, '');
  for (const part of body.split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/)) {
    const m = /^\s*"?([^"=:]+?)"?\s*[:=]\s*"?(.*?)"?\s*$/.exec(part);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}
