import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import {
  DuckDBDateValue,
  DuckDBDecimalValue,
  DuckDBInstance,
  DuckDBListValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  type DuckDBConnection,
} from '@duckdb/node-api';
import { inspectLedgerFile, isLockConflict, notDuckDbError } from '../../exporters/duckdb/ledger-file.js';
import { CREATE_GENAI_TEAMS } from '../../exporters/duckdb/schema.js';
import type { LedgerShape } from './report-sql.js';

/** A value read back from a report query: DECIMAL → bigint pico-USD, DATE → `YYYY-MM-DD`, TIMESTAMP(TZ) → ISO. */
export type SqlValue = string | number | bigint | boolean | null | SqlValue[];
export type SqlRow = Record<string, SqlValue>;

const PICO_SCALE = 12;

function convert(value: unknown): SqlValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return value;
  if (value instanceof DuckDBDecimalValue) {
    // Money columns are DECIMAL(…,12); any other scale is brought to pico exactly (or truncated beyond it).
    if (value.scale === PICO_SCALE) return value.value;
    return value.scale < PICO_SCALE ? value.value * 10n ** BigInt(PICO_SCALE - value.scale) : value.value / 10n ** BigInt(value.scale - PICO_SCALE);
  }
  if (value instanceof DuckDBDateValue) return value.toString();
  if (value instanceof DuckDBTimestampTZValue || value instanceof DuckDBTimestampValue) {
    return new Date(Number(value.micros / 1000n)).toISOString();
  }
  if (value instanceof DuckDBListValue) return value.items.map(convert);
  return String(value);
}

/** Runs `sql` and returns its rows as objects of {@link SqlValue}. */
export async function queryRows(connection: DuckDBConnection, sql: string): Promise<SqlRow[]> {
  const reader = await connection.runAndReadAll(sql);
  const names = reader.columnNames();
  // Read by column (measured ~5× faster than getRows() on 70k × 20 values), then build the row objects.
  const columns = reader.getColumns();
  const rows: SqlRow[] = [];
  const n = reader.currentRowCount;
  for (let r = 0; r < n; r++) {
    const row: SqlRow = {};
    for (let c = 0; c < names.length; c++) row[names[c]!] = convert(columns[c]![r]);
    rows.push(row);
  }
  return rows;
}

/**
 * Makes a connection ready for the report SQL and says what the ledger has. A ledger written by an older build
 * and opened read-only may lack `genai_teams` (then an empty TEMP table of the same shape stands in: every team
 * is direct usage) or the `route` / `api_key_alias` columns (then they read NULL).
 */
export async function prepareReportConnection(connection: DuckDBConnection): Promise<LedgerShape> {
  const rows = await queryRows(
    connection,
    `SELECT
      (SELECT count(*) FROM duckdb_tables() WHERE table_name = 'genai_teams' AND NOT temporary) AS teams,
      (SELECT count(*) FROM duckdb_tables() WHERE table_name = 'genai_teams' AND temporary) AS temp_teams,
      (SELECT count(*) FROM duckdb_tables() WHERE table_name = 'genai_calls') AS calls,
      (SELECT count(*) FROM duckdb_columns() WHERE table_name = 'genai_calls' AND column_name IN ('route', 'api_key_alias')) AS context`,
  );
  const r = rows[0]!;
  if (Number(r['calls']) === 0) throw new Error('this DuckDB file has no genai_calls table: not a genai-ledger ledger');
  if (Number(r['teams']) === 0 && Number(r['temp_teams']) === 0) {
    await connection.run(CREATE_GENAI_TEAMS.replace('CREATE TABLE IF NOT EXISTS', 'CREATE TEMP TABLE'));
  }
  return { contextColumns: Number(r['context']) === 2 };
}

export interface ReportLedger {
  connection: DuckDBConnection;
  shape: LedgerShape;
  close(): Promise<void>;
}

/**
 * Opens a ledger file read-only for reports (external access off: report SQL reads the ledger and nothing
 * else). DuckDB lets one process hold a file it writes: while a server runs, pass `snapshot` to read a
 * point-in-time copy of the file and its write-ahead log instead.
 */
export async function openReportLedger(dbPath: string, options: { snapshot?: boolean } = {}): Promise<ReportLedger> {
  let path = dbPath;
  let tempDir: string | null = null;
  if (options.snapshot === true) {
    tempDir = await mkdtemp(join(tmpdir(), 'genai-ledger-report-'));
    path = join(tempDir, basename(dbPath));
    await copyFile(`${dbPath}.wal`, `${path}.wal`).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    await copyFile(dbPath, path).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? new Error(`no ledger at ${dbPath}`) : err;
    });
  }
  const cleanup = async () => {
    if (tempDir !== null) await rm(tempDir, { recursive: true, force: true });
  };
  try {
    const kind = await inspectLedgerFile(path);
    if (kind === 'missing') throw new Error(`no ledger at ${dbPath}`);
    if (kind === 'not-duckdb') throw notDuckDbError(dbPath);
    let instance: DuckDBInstance;
    try {
      instance = await DuckDBInstance.create(path, {
        access_mode: 'READ_ONLY',
        enable_external_access: 'false',
        autoinstall_known_extensions: 'false',
        autoload_known_extensions: 'false',
      });
    } catch (err) {
      if (isLockConflict(err)) {
        throw new Error(`${dbPath} is held by a running genai-ledger server; stop it, or add --snapshot to report on a point-in-time copy`, {
          cause: err,
        });
      }
      throw new Error(`cannot open ledger ${dbPath}: ${(err as Error).message}`, { cause: err });
    }
    const connection = await instance.connect();
    let shape: LedgerShape;
    try {
      shape = await prepareReportConnection(connection);
    } catch (err) {
      connection.closeSync();
      instance.closeSync();
      throw err;
    }
    return {
      connection,
      shape,
      async close() {
        connection.closeSync();
        instance.closeSync();
        await cleanup();
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
