import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { inspectLedgerFile, isLockConflict, notDuckDbError } from '../../exporters/duckdb/ledger-file.js';

/**
 * A ledger opened read-only for a report or an export.
 *
 * DuckDB lets one process hold a file: while a server runs, even a read-only open from another process
 * fails. Then (unless `snapshot` is `never`) the file and its write-ahead log are copied to a temp dir and
 * the copy is read — a point-in-time view that includes every commit up to the copy (DuckDB replays the
 * copied WAL). `snapshot: 'always'` copies even when the file is free. The copy is deleted on `close`.
 *
 * A running server could instead run the same read on a connection of its own instance (docs/exports.md,
 * "While a server runs"); the functions that read take a DuckDBConnection for that reason.
 */
export interface LedgerReader {
  connection: DuckDBConnection;
  /** True when reading a copy because the ledger was held (or `snapshot: 'always'`). */
  fromSnapshot: boolean;
  close(): Promise<void>;
}

export type SnapshotMode = 'auto' | 'always' | 'never';

export class LedgerHeldError extends Error {
  override name = 'LedgerHeldError';
}

export async function openLedgerForReading(dbPath: string, snapshot: SnapshotMode = 'auto'): Promise<LedgerReader> {
  const kind = await inspectLedgerFile(dbPath);
  if (kind === 'missing') throw new Error(`no ledger at ${dbPath}`);
  if (kind === 'not-duckdb') throw notDuckDbError(dbPath);
  if (snapshot !== 'always') {
    try {
      return await open(dbPath, false, async () => undefined);
    } catch (err) {
      if (!isLockConflict(err)) throw err;
      if (snapshot === 'never') {
        throw new LedgerHeldError(`${dbPath} is held by a running genai-ledger server; stop it, or allow reading a point-in-time copy`, { cause: err });
      }
    }
  }
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-snapshot-'));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    const copy = join(dir, basename(dbPath));
    // WAL first: a checkpoint between the two copies then at worst leaves a WAL whose changes are already
    // in the file, which DuckDB skips; the other order could lose commits folded in between.
    await copyFile(`${dbPath}.wal`, `${copy}.wal`).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    await copyFile(dbPath, copy);
    return await open(copy, true, cleanup);
  } catch (err) {
    await cleanup();
    throw err;
  }
}

async function open(path: string, fromSnapshot: boolean, cleanup: () => Promise<void>): Promise<LedgerReader> {
  const instance = await DuckDBInstance.create(path, {
    access_mode: 'READ_ONLY',
    threads: '1',
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  let connection: DuckDBConnection;
  try {
    connection = await instance.connect();
  } catch (err) {
    instance.closeSync();
    throw err;
  }
  return {
    connection,
    fromSnapshot,
    async close() {
      connection.closeSync();
      instance.closeSync();
      await cleanup();
    },
  };
}

/** Whether the ledger has a table (a ledger never opened by a build with reconciliation lacks its tables). */
export async function hasTable(connection: DuckDBConnection, name: string): Promise<boolean> {
  const r = await connection.runAndReadAll(
    'SELECT 1 FROM duckdb_tables() WHERE database_name = current_database() AND table_name = $1 AND NOT temporary',
    [name],
  );
  return r.currentRowCount > 0;
}
