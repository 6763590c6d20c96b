import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { DuckDbExporter, type DuckDbExporterConfigInput } from '../../../exporters/duckdb/duckdb-exporter.js';
import type { LedgerRow } from '../../../core/ledger-row.js';
import { SqlEndpoint } from '../sql-endpoint.js';
import type { SqlEndpointConfigInput } from '../sql-endpoint-config.js';

/** The DuckDB instance a running DuckDbExporter holds (the current one: it changes when the file is reopened). */
export function exporterDatabase(exporter: DuckDbExporter): () => DuckDBInstance | null {
  return () => exporter.database;
}

/** A ledger being written (a DuckDbExporter on a temp file) with the SQL endpoint on it, on port 0. */
export interface LiveLedger {
  dir: string;
  path: string;
  exporter: DuckDbExporter;
  endpoint: SqlEndpoint;
  port: number;
  /** A second connection on the writer's instance, for plain-SQL setup (types, bulk rows). */
  writer(): Promise<DuckDBConnection>;
  close(): Promise<void>;
}

export async function startLiveLedger(
  options: { rows?: readonly LedgerRow[]; sql?: SqlEndpointConfigInput; duckdb?: DuckDbExporterConfigInput; env?: NodeJS.ProcessEnv; path?: string } = {},
): Promise<LiveLedger> {
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-sql-'));
  const path = options.path ?? join(dir, 'ledger.duckdb');
  const exporter = new DuckDbExporter({ ...options.duckdb, path });
  await exporter.start();
  if (options.rows && options.rows.length > 0) await exporter.write(options.rows);
  const database = exporterDatabase(exporter);
  const endpoint = new SqlEndpoint({ port: 0, ...options.sql }, database, options.env ? { env: options.env } : {});
  await endpoint.start();
  const connections: DuckDBConnection[] = [];
  return {
    dir,
    path,
    exporter,
    endpoint,
    port: endpoint.address.port,
    async writer() {
      const c = await database()!.connect();
      connections.push(c);
      return c;
    },
    async close() {
      // The endpoint first: its DuckDB connections must be closed before the writer closes the database.
      await endpoint.shutdown();
      for (const c of connections) c.closeSync();
      await exporter.shutdown();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const run = promisify(execFile);

/**
 * The command for a PostgreSQL client the tests drive, or a failure naming the Debian packages: these
 * tests never skip.
 */
export async function requireClient(client: 'psql' | 'psycopg2'): Promise<string> {
  const install = 'apt-get install -y postgresql-client python3-psycopg2';
  if (client === 'psql') {
    try {
      await run('psql', ['--version']);
      return 'psql';
    } catch {
      throw new Error(`psql is not installed: ${install}`);
    }
  }
  // python3-psycopg2 installs into the system Python, which may not be the first python3 on PATH.
  for (const python of ['python3', '/usr/bin/python3']) {
    try {
      await run(python, ['-c', 'import psycopg2']);
      return python;
    } catch {
      // try the next one
    }
  }
  throw new Error(`psycopg2 is not importable by python3 or /usr/bin/python3: ${install}`);
}
