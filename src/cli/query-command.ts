import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { runReadOnlyQuery, type QueryResult } from '../../exporters/duckdb/read-only-query.js';
import { formatCsv, formatJson, formatTable } from '../../exporters/duckdb/format-result.js';
import { CliUsageError, parsePort } from './cli-usage-error.js';
import { isLockConflict } from '../../exporters/duckdb/ledger-file.js';
import { EndpointUnreachable } from '../sql-endpoint/pg-client.js';
import { DEFAULT_SQL_PORT, queryRunningServer } from '../sql-endpoint/query-running-server.js';

const FORMATTERS = { table: formatTable, csv: formatCsv, json: formatJson } as const;

/**
 * `genai-ledger query --db PATH [--format table|csv|json] [--snapshot] [--sql-port N] "SQL"`: read-only SQL
 * on a ledger file. DuckDB lets one process write a file, so while a server holds it the query goes through
 * that server's SQL endpoint (127.0.0.1, port 5433, `--sql-port` or GENAI_LEDGER_SQL_PORT; password from
 * GENAI_LEDGER_SQL_PASSWORD or PGPASSWORD), live; `--snapshot` copies the file and its write-ahead log to a
 * temp dir and queries that point-in-time copy instead.
 */
export async function runQuery(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        db: { type: 'string', default: './genai-ledger.duckdb' },
        format: { type: 'string', default: 'table' },
        snapshot: { type: 'boolean', default: false },
        'sql-port': { type: 'string' },
      },
    });
  } catch (err) {
    throw new CliUsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  const format = values.format;
  if (!(format in FORMATTERS)) throw new CliUsageError(`--format must be table, csv or json, got "${format}"`);
  if (positionals.length !== 1) throw new CliUsageError('query takes exactly one SQL string (quote it)');
  const sql = positionals[0]!;
  const sqlPort = parsePort('sql-port', values['sql-port'] ?? process.env.GENAI_LEDGER_SQL_PORT) ?? DEFAULT_SQL_PORT;
  const result = values.snapshot ? await querySnapshot(values.db, sql) : await queryLedger(values.db, sql, sqlPort);
  const text = FORMATTERS[format as keyof typeof FORMATTERS](result);
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  return 0;
}

async function querySnapshot(dbPath: string, sql: string): Promise<QueryResult> {
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-snapshot-'));
  try {
    const copy = join(dir, basename(dbPath));
    // DuckDB replays the copied WAL when it opens the copy, so recent commits not yet checkpointed into
    // the main file are included. A checkpoint racing the copy can make the pair unreadable: then the
    // open fails with DuckDB's error and running the command again gives a consistent copy.
    await copyFile(`${dbPath}.wal`, `${copy}.wal`).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    await copyFile(dbPath, copy).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? new Error(`no ledger at ${dbPath}`) : err;
    });
    return await runReadOnlyQuery(copy, sql);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The file directly when no server holds it; otherwise through the running server's SQL endpoint (the
 * same read-only rules, on the live ledger). When the endpoint does not answer, the lock error stands,
 * with both ways out.
 */
async function queryLedger(dbPath: string, sql: string, sqlPort: number): Promise<QueryResult> {
  try {
    return await runReadOnlyQuery(dbPath, sql);
  } catch (err) {
    if (!isLockConflict((err as Error).cause)) throw err;
    const password = process.env.GENAI_LEDGER_SQL_PASSWORD ?? process.env.PGPASSWORD;
    try {
      return await queryRunningServer({ dbPath, port: sqlPort, ...(password === undefined ? {} : { password }) }, sql);
    } catch (viaServer) {
      if (!(viaServer instanceof EndpointUnreachable)) throw viaServer;
      throw new Error(
        `${(err as Error).message}, or enable the server's SQL endpoint (no answer on 127.0.0.1:${sqlPort}; --sql-port to use another port)`,
        { cause: err },
      );
    }
  }
}
