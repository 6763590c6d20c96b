import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { DuckDBConnection } from '@duckdb/node-api';
import { formatPicoUsd } from '../../processors/pricing/decimal.js';
import { BillFormatError, recordKeys, type BillLine, type ParsedBill, type ProviderFamily } from './bill-line.js';
import { parseAnthropicJson } from './formats/anthropic.js';
import { parseAwsCur, parseAzureCost, parseFocus, parseGcpBilling, type CloudOptions } from './formats/cloud.js';
import { parseOpenAiCsv, parseOpenAiJson } from './formats/openai.js';
import { inTransaction } from './ledger-writer.js';
import { readCsvTable, readJsonRowsTable, readParquetTable, type Table } from './tabular.js';

/**
 * `genai-ledger reconcile import`: reads bill files, normalizes them (src/reconcile/formats/*) and stores the
 * lines in `provider_costs` — one transaction per file, so a file is either wholly imported or not at all.
 *
 * Counted once:
 * - a file whose bytes were imported before (same sha256) is skipped;
 * - a line gets a key from its own identity within its source family (`recordKeys`), so the same line from
 *   another file (an API pull overlapping an imported export, the CSV and the JSON of the same costs)
 *   replaces the stored one;
 * - the admin API families (OpenAI costs/usage, Anthropic cost/usage reports) are complete per day: a newer
 *   import of a day replaces every line of that family for that day (late-finalized costs, regrouped pulls);
 * - cost lines of one provider and day from two different bill families (an AWS CUR and an AWS FOCUS export
 *   of the same account) would count the spend twice: the import is refused unless `replaceOverlap`.
 */

export interface ImportOptions extends CloudOptions {
  /** Replace cost lines of the same provider and days that came from another bill family. */
  replaceOverlap?: boolean;
}

export interface ImportSummary {
  file: string;
  sha256: string;
  format: string;
  status: 'imported' | 'unchanged';
  lines: number;
  unparsedLines: number;
  skippedRows: number;
  billedPico: bigint;
  firstDay: string | null;
  lastDay: string | null;
  /** Lines of earlier imports replaced by this one. */
  replacedLines: number;
  notes: string[];
}

/** Families whose files are complete per day (see above). */
const DAY_COMPLETE_FAMILIES = new Set(['openai.costs', 'openai.usage', 'anthropic.cost_report', 'anthropic.usage_report']);

const PARQUET_MAGIC = Buffer.from('PAR1');
const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);

/** Reads and parses one bill file (gzip is undone first; Parquet is read through DuckDB). */
export async function parseBillFile(provider: ProviderFamily, path: string, options: CloudOptions = {}): Promise<{ parsed: ParsedBill; sha256: string }> {
  let bytes: Buffer = await readFile(path);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (bytes.subarray(0, 4).equals(PARQUET_MAGIC)) return { parsed: parseTable(provider, await readParquetTable(path), options), sha256 };
  if (bytes.subarray(0, 2).equals(GZIP_MAGIC)) bytes = gunzipSync(bytes);
  if (bytes.subarray(0, 4).equals(PARQUET_MAGIC)) throw new BillFormatError('a gzip-compressed Parquet file: decompress it first');
  let table: Table;
  const text = bytes.toString('utf8').replace(/^\uFEFF/, '');
  const first = text.trimStart()[0];
  if (first === '{' || first === '[') {
    if (provider === 'openai') return { parsed: parseOpenAiJson(text), sha256 };
    if (provider === 'anthropic') return { parsed: parseAnthropicJson(text), sha256 };
    table = readJsonRowsTable(text);
  } else {
    if (provider === 'anthropic') {
      throw new BillFormatError('Anthropic bills are read from the Admin API JSON (cost_report or usage_report/messages), not CSV');
    }
    table = readCsvTable(text);
    if (provider === 'openai') return { parsed: parseOpenAiCsv(table), sha256 };
  }
  return { parsed: parseTable(provider, table, options), sha256 };
}

function parseTable(provider: ProviderFamily, table: Table, options: CloudOptions): ParsedBill {
  const has = (c: string) => table.columns.includes(c);
  const container = table.container;
  if (has('billed_cost') && has('charge_period_start')) return parseFocus(table, provider, `${provider}.focus.${container}`, options);
  switch (provider) {
    case 'aws':
      return parseAwsCur(table, `aws.cur.${container}`, options);
    case 'gcp':
      return parseGcpBilling(table, `gcp.billing_export.${container}`, options);
    case 'azure':
      return parseAzureCost(table, `azure.cost_export.${container}`, options);
    case 'openai':
      return parseOpenAiCsv(table);
    case 'anthropic':
      throw new BillFormatError('Anthropic bills are read from the Admin API JSON');
  }
}

/** Stores a parsed bill (see the module comment); `sourceFile` is recorded as given (a path or `fetch:…`). */
export async function storeBill(
  connection: DuckDBConnection,
  provider: ProviderFamily,
  parsed: ParsedBill,
  sourceFile: string,
  sha256: string,
  options: ImportOptions = {},
): Promise<ImportSummary> {
  const lines = parsed.lines;
  const days = lines.map((l) => l.day).filter((d): d is string => d !== null).sort();
  const summary: ImportSummary = {
    file: sourceFile,
    sha256,
    format: parsed.format,
    status: 'imported',
    lines: lines.length,
    unparsedLines: lines.filter((l) => !l.parsed).length,
    skippedRows: parsed.skippedRows,
    billedPico: lines.reduce((sum, l) => sum + (l.recordKind === 'cost' ? (l.billedPico ?? 0n) : 0n), 0n),
    firstDay: days[0] ?? null,
    lastDay: days[days.length - 1] ?? null,
    replacedLines: 0,
    notes: [...parsed.notes, ...noteCounts(lines)],
  };
  return inTransaction(connection, async () => {
    const seen = await connection.runAndReadAll('SELECT 1 FROM provider_cost_imports WHERE source_sha256 = $1', [sha256]);
    if (seen.currentRowCount > 0) return { ...summary, status: 'unchanged' as const, replacedLines: 0 };

    await stage(connection, lines, sourceFile, sha256);
    const families = [...new Set(lines.map((l) => l.sourceFamily))];
    const familyList = families.map(lit).join(', ') || "''";

    // Cost lines of the same provider and days from another bill family: the same spend twice.
    const overlap = await connection.runAndReadAll(
      `SELECT source_family, min("day")::VARCHAR, max("day")::VARCHAR, count(*) FROM provider_costs
       WHERE provider = ${lit(provider)} AND record_kind = 'cost' AND source_family NOT IN (${familyList})
         AND "day" IN (SELECT DISTINCT CAST("day" AS DATE) FROM reconcile_staged WHERE record_kind = 'cost' AND "day" IS NOT NULL)
       GROUP BY ALL`,
    );
    if (overlap.currentRowCount > 0) {
      const what = overlap
        .getRows()
        .map((r) => `${String(r[3])} lines of ${String(r[0])} (${String(r[1])} … ${String(r[2])})`)
        .join(', ');
      if (!options.replaceOverlap) {
        throw new BillFormatError(
          `${sourceFile}: the ledger already holds ${provider} cost lines for the same days from another bill: ${what}. ` +
            'Importing both would count that spend twice; run again with --replace-overlap to replace them with this file.',
        );
      }
      summary.replacedLines += await count(
        connection,
        `DELETE FROM provider_costs WHERE provider = ${lit(provider)} AND record_kind = 'cost' AND source_family NOT IN (${familyList})
         AND "day" IN (SELECT DISTINCT CAST("day" AS DATE) FROM reconcile_staged WHERE record_kind = 'cost' AND "day" IS NOT NULL)`,
      );
    }
    const dayComplete = families.filter((f) => DAY_COMPLETE_FAMILIES.has(f));
    if (dayComplete.length > 0) {
      summary.replacedLines += await count(
        connection,
        `DELETE FROM provider_costs p WHERE p.provider = ${lit(provider)} AND p.source_family IN (${dayComplete.map(lit).join(', ')})
         AND EXISTS (SELECT 1 FROM reconcile_staged s WHERE s.source_family = p.source_family AND s.record_kind = p.record_kind AND CAST(s."day" AS DATE) = p."day")`,
      );
    }
    summary.replacedLines += await count(connection, 'DELETE FROM provider_costs WHERE record_key IN (SELECT record_key FROM reconcile_staged)');
    await connection.run(`INSERT INTO provider_costs (${COLUMNS.map((c) => `"${c.name}"`).join(', ')})
      SELECT ${COLUMNS.map((c) => (c.type === 'VARCHAR' ? `"${c.name}"` : `CAST("${c.name}" AS ${c.type})`)).join(', ')} FROM reconcile_staged`);
    await connection.run('DROP TABLE reconcile_staged');
    await connection.run(
      `INSERT INTO provider_cost_imports (source_sha256, source_file, provider, source_format, lines, unparsed_lines, skipped_rows, billed_usd, first_day, last_day)
       VALUES ($1, $2, $3, $4, ${summary.lines}, ${summary.unparsedLines}, ${summary.skippedRows}, CAST($5 AS DECIMAL(38,12)), CAST($6 AS DATE), CAST($7 AS DATE))`,
      [sha256, sourceFile, provider, parsed.format, formatPicoUsd(summary.billedPico), summary.firstDay, summary.lastDay],
    );
    return summary;
  });
}

const lit = (s: string) => `'${s.replaceAll("'", "''")}'`;

async function count(connection: DuckDBConnection, sql: string): Promise<number> {
  const result = await connection.run(sql);
  return Number(result.rowsChanged);
}

/** One note per kind of unparsed/assumed line, with how many lines it concerns. */
function noteCounts(lines: readonly BillLine[]): string[] {
  const counts = new Map<string, number>();
  for (const l of lines) {
    if (l.note === null) continue;
    const key = `${l.parsed ? '' : 'unparsed: '}${l.note.replace(/"[^"]*"/g, '"…"')}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([note, n]) => `${n} × ${note}`);
}

interface StagedColumn {
  name: string;
  type: string;
  get: (l: BillLine, key: string, file: string, sha: string) => string | null;
}

const COLUMNS: readonly StagedColumn[] = [
  { name: 'record_key', type: 'VARCHAR', get: (_l, key) => key },
  { name: 'provider', type: 'VARCHAR', get: (l) => l.provider },
  { name: 'source_family', type: 'VARCHAR', get: (l) => l.sourceFamily },
  { name: 'source_format', type: 'VARCHAR', get: (l) => l.sourceFormat },
  { name: 'record_kind', type: 'VARCHAR', get: (l) => l.recordKind },
  { name: 'day', type: 'DATE', get: (l) => l.day },
  { name: 'model', type: 'VARCHAR', get: (l) => l.model },
  { name: 'publisher', type: 'VARCHAR', get: (l) => l.publisher },
  { name: 'token_class', type: 'VARCHAR', get: (l) => l.tokenClass },
  { name: 'service_tier', type: 'VARCHAR', get: (l) => l.serviceTier },
  { name: 'context_window', type: 'VARCHAR', get: (l) => l.contextWindow },
  { name: 'scope_type', type: 'VARCHAR', get: (l) => l.scopeType },
  { name: 'scope_id', type: 'VARCHAR', get: (l) => l.scopeId },
  { name: 'api_key_id', type: 'VARCHAR', get: (l) => l.apiKeyId },
  { name: 'quantity', type: 'DECIMAL(38,6)', get: (l) => l.quantity },
  { name: 'quantity_unit', type: 'VARCHAR', get: (l) => l.quantityUnit },
  { name: 'billed_usd', type: 'DECIMAL(38,12)', get: (l) => (l.billedPico === null ? null : formatPicoUsd(l.billedPico)) },
  { name: 'list_usd', type: 'DECIMAL(38,12)', get: (l) => (l.listPico === null ? null : formatPicoUsd(l.listPico)) },
  { name: 'description', type: 'VARCHAR', get: (l) => l.description },
  { name: 'source_file', type: 'VARCHAR', get: (_l, _k, file) => file },
  { name: 'source_sha256', type: 'VARCHAR', get: (_l, _k, _f, sha) => sha },
  { name: 'source_row', type: 'BIGINT', get: (l) => String(l.row) },
  { name: 'parse_status', type: 'VARCHAR', get: (l) => (l.parsed ? 'parsed' : 'unparsed') },
  { name: 'parse_note', type: 'VARCHAR', get: (l) => l.note },
  { name: 'raw_text', type: 'VARCHAR', get: (l) => l.raw },
];

async function stage(connection: DuckDBConnection, lines: readonly BillLine[], file: string, sha: string): Promise<void> {
  await connection.run(`CREATE OR REPLACE TEMP TABLE reconcile_staged (${COLUMNS.map((c) => `"${c.name}" VARCHAR`).join(', ')})`);
  const appender = await connection.createAppender('reconcile_staged', 'main', 'temp');
  try {
    const keys = recordKeys(lines);
    lines.forEach((l, i) => {
      for (const c of COLUMNS) {
        const v = c.get(l, keys[i]!, file, sha);
        if (v === null) appender.appendNull();
        else appender.appendVarchar(v);
      }
      appender.endRow();
    });
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

/** How a source is named in `provider_costs.source_file`: the absolute path of a file. */
export const sourceNameOf = (path: string): string => resolve(path);
