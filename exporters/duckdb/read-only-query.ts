import { DuckDBInstance } from '@duckdb/node-api';
import { inspectLedgerFile, isLockConflict, notDuckDbError } from './ledger-file.js';

export interface QueryResult {
  columns: string[];
  /** DuckDB values as @duckdb/node-api returns them (bigint, DuckDBDecimalValue, ...); see format-result.ts. */
  rows: unknown[][];
}

/**
 * What seals a DuckDB database against everything but SQL over its own tables, in the order to apply them:
 * - `enable_external_access=false`: no COPY TO/FROM, read_csv/read_text/read_parquet, ATTACH of files,
 *   INSTALL/LOAD, HTTP — the query sees the ledger and nothing else;
 * - no extension auto-install/auto-load, no community extensions;
 * - `lock_configuration=true`, last: no SET/RESET/PRAGMA can undo any of the above.
 * The SQL endpoint applies the same list to the server's open database (src/sql-endpoint/).
 */
export const LOCKDOWN_SETTINGS: readonly (readonly [name: string, value: string])[] = [
  ['enable_external_access', 'false'],
  ['autoinstall_known_extensions', 'false'],
  ['autoload_known_extensions', 'false'],
  ['allow_community_extensions', 'false'],
  ['lock_configuration', 'true'],
];

/**
 * The database is opened read-only and sealed before any user SQL runs: `access_mode=READ_ONLY` (no
 * INSERT/UPDATE/DELETE/CREATE/CHECKPOINT on the ledger) and {@link LOCKDOWN_SETTINGS}.
 */
const SEALED_OPTIONS: Record<string, string> = {
  access_mode: 'READ_ONLY',
  ...Object.fromEntries(LOCKDOWN_SETTINGS),
};

/** Runs `sql` (the last statement's result is returned) on the ledger at `dbPath`, read-only and sealed. */
export async function runReadOnlyQuery(dbPath: string, sql: string): Promise<QueryResult> {
  const kind = await inspectLedgerFile(dbPath);
  if (kind === 'missing') throw new Error(`no ledger at ${dbPath}`);
  if (kind === 'not-duckdb') throw notDuckDbError(dbPath);

  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(dbPath, SEALED_OPTIONS);
  } catch (err) {
    if (isLockConflict(err)) {
      throw new Error(
        `${dbPath} is held by a running genai-ledger server; stop it, or add --snapshot to query a point-in-time copy`,
        { cause: err },
      );
    }
    throw new Error(`cannot open ledger ${dbPath}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const connection = await instance.connect();
    try {
      const reader = await connection.runAndReadAll(sql);
      return { columns: reader.columnNames(), rows: reader.getRows() };
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}
