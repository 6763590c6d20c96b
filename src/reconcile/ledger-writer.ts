import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { DuckDbExporter } from '../../exporters/duckdb/duckdb-exporter.js';
import { isLockConflict } from '../../exporters/duckdb/ledger-file.js';

/**
 * A ledger opened for writing by a CLI command (bill import, settings). The file is first opened and closed
 * through the DuckDB exporter, which refuses a file that is not a genai-ledger ledger and brings an older
 * ledger's schema up to date (the reconciliation tables among it), exactly as the server would.
 *
 * DuckDB lets one process write a file: while a server holds the ledger this fails with `LedgerBusyError`.
 */
export class LedgerBusyError extends Error {
  override name = 'LedgerBusyError';
  constructor(
    readonly path: string,
    what: string,
    options?: { cause?: unknown },
  ) {
    super(
      `${path} is held by a running genai-ledger server (DuckDB lets one process write a ledger), so ${what} cannot write to it. ` +
        'Stop the server and run the command again; the server picks the changes up when it restarts.',
      options,
    );
  }
}

export interface WritableLedger {
  instance: DuckDBInstance;
  connection: DuckDBConnection;
  close(): void;
}

export async function openLedgerForWriting(path: string, what: string): Promise<WritableLedger> {
  const exporter = new DuckDbExporter({ path });
  try {
    await exporter.start();
  } catch (err) {
    if (/in use by another process/.test((err as Error).message) || isLockConflict(err)) throw new LedgerBusyError(path, what, { cause: err });
    throw err;
  } finally {
    await exporter.shutdown().catch(() => undefined);
  }
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(path, { threads: '1' });
  } catch (err) {
    if (isLockConflict(err)) throw new LedgerBusyError(path, what, { cause: err });
    throw err;
  }
  const connection = await instance.connect();
  return {
    instance,
    connection,
    close() {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

/** Runs `fn` in a transaction: committed when it resolves, rolled back when it throws. */
export async function inTransaction<T>(connection: DuckDBConnection, fn: () => Promise<T>): Promise<T> {
  await connection.run('BEGIN TRANSACTION');
  try {
    const result = await fn();
    await connection.run('COMMIT');
    return result;
  } catch (err) {
    await connection.run('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
