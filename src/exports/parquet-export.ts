import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';

/**
 * `genai-ledger export parquet`: `genai_calls` as a Hive-partitioned Parquet lake (docs/exports.md):
 * ```
 * OUT/month=2025-06/part-3f9c0a1b2c3d4e5f.parquet
 * OUT/month=2025-07/part-…
 * ```
 * - one file per month (per instance, see below) holding the whole month, rows ordered by time and id;
 * - the name is derived from the content (sha256 of the file's bytes), so a file never changes once written:
 *   a re-run whose month is unchanged writes nothing, a re-run whose month changed (late calls, re-priced
 *   rows, ownership updates) writes the new file and removes the superseded one — the lake never holds a row
 *   twice after a run, whatever was run before;
 * - a month is always exported whole (`--from`/`--to` select months), because a file stands for its month;
 * - `instance`: with several ledgers (one per collector instance) writing into one lake, each names its files
 *   `part-<instance>-<hash>.parquet` and only ever replaces its own.
 * Order of replacement: the superseded file is removed before the new one is renamed into place, so a reader
 * listing the directory at that moment may miss the month but never sees it twice.
 */

export interface ParquetExportOptions {
  outDir: string;
  /** First month, `YYYY-MM` (default: the ledger's first). */
  fromMonth?: string;
  /** Last month, inclusive (default: the ledger's last). */
  toMonth?: string;
  /** Instance name for a shared lake: letters, digits, `-`, `_`. */
  instance?: string;
  onMonth?: (done: number, total: number, month: string) => void;
}

export interface MonthResult {
  month: string;
  rows: number;
  file: string | null;
  status: 'written' | 'unchanged' | 'empty';
  removed: string[];
}

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;
const INSTANCE = /^[A-Za-z0-9_-]{1,64}$/;
const lit = (s: string) => `'${s.replaceAll("'", "''")}'`;

function nextMonth(month: string): string {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
}

export async function ledgerMonths(connection: DuckDBConnection): Promise<{ first: string | null; last: string | null }> {
  const r = (
    await connection.runAndReadAll(`SELECT strftime(timezone('UTC', min("timestamp")), '%Y-%m'), strftime(timezone('UTC', max("timestamp")), '%Y-%m') FROM genai_calls`)
  ).getRows()[0];
  return { first: r?.[0] == null ? null : String(r[0]), last: r?.[1] == null ? null : String(r[1]) };
}

export async function exportParquet(connection: DuckDBConnection, options: ParquetExportOptions): Promise<MonthResult[]> {
  if (options.instance !== undefined && !INSTANCE.test(options.instance)) throw new RangeError('--instance must be 1-64 letters, digits, - or _');
  for (const m of [options.fromMonth, options.toMonth]) if (m !== undefined && !MONTH.test(m)) throw new RangeError(`months are YYYY-MM, got "${m}"`);
  const span = await ledgerMonths(connection);
  const first = options.fromMonth ?? span.first;
  const last = options.toMonth ?? span.last;
  if (first === null || last === null) return [];
  const months: string[] = [];
  for (let m = first; m <= last; m = nextMonth(m)) months.push(m);
  const prefix = options.instance === undefined ? 'part-' : `part-${options.instance}-`;
  const own = new RegExp(`^${prefix.replace(/[-]/g, '\\-')}[0-9a-f]{16}\\.parquet$`);
  const results: MonthResult[] = [];
  for (const [i, month] of months.entries()) {
    options.onMonth?.(i, months.length, month);
    results.push(await exportMonth(connection, options.outDir, month, prefix, own));
  }
  options.onMonth?.(months.length, months.length, last);
  return results;
}

async function exportMonth(connection: DuckDBConnection, outDir: string, month: string, prefix: string, own: RegExp): Promise<MonthResult> {
  const dir = join(outDir, `month=${month}`);
  const where = `"timestamp" >= TIMESTAMPTZ '${month}-01 00:00:00+00' AND "timestamp" < TIMESTAMPTZ '${nextMonth(month)}-01 00:00:00+00'`;
  const count = Number((await connection.runAndReadAll(`SELECT count(*) FROM genai_calls WHERE ${where}`)).getRows()[0]![0]);
  const existing = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  const mine = existing.filter((f) => own.test(f));
  if (count === 0) {
    for (const f of mine) await rm(join(dir, f), { force: true });
    return { month, rows: 0, file: null, status: 'empty', removed: mine };
  }
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.tmp-${randomBytes(6).toString('hex')}.parquet`);
  try {
    await connection.run(
      `COPY (SELECT * FROM genai_calls WHERE ${where} ORDER BY "timestamp", trace_id, span_id) TO ${lit(tmp)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)`,
    );
    const name = `${prefix}${(await sha256File(tmp)).slice(0, 16)}.parquet`;
    if (mine.includes(name)) {
      await rm(tmp, { force: true });
      return { month, rows: count, file: join(dir, name), status: 'unchanged', removed: [] };
    }
    for (const f of mine) await rm(join(dir, f), { force: true });
    await rename(tmp, join(dir, name));
    return { month, rows: count, file: join(dir, name), status: 'written', removed: mine };
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}
