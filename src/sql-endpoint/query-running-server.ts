import { realpath } from 'node:fs/promises';
import { basename, isAbsolute } from 'node:path';
import { DuckDBDecimalValue } from '@duckdb/node-api';
import type { QueryResult } from '../../exporters/duckdb/read-only-query.js';
import { queryEndpoint, type TextResult } from './pg-client.js';
import { Oid } from './pg-types.js';

/** Where `genai-ledger query` looks for a running server's SQL endpoint. */
export const DEFAULT_SQL_PORT = 5433;

/**
 * Runs `sql` through the SQL endpoint of the server that holds `dbPath`, after checking that the endpoint
 * serves that ledger. Throws EndpointUnreachable when nothing answers at the port.
 */
export async function queryRunningServer(options: { dbPath: string; port: number; password?: string }, sql: string): Promise<QueryResult> {
  const connection = { host: '127.0.0.1', port: options.port, user: 'genai-ledger', database: 'ledger', connectTimeoutMs: 2000, ...(options.password === undefined ? {} : { password: options.password }) };
  const served = await queryEndpoint(connection, 'SELECT path FROM duckdb_databases() WHERE database_name = current_database()');
  const servedPath = served.rows[0]?.[0] ?? '';
  if (!(await sameLedger(servedPath, options.dbPath))) {
    throw new Error(
      `the SQL endpoint on 127.0.0.1:${options.port} serves ${servedPath}, not ${options.dbPath}; ` +
        'pass --sql-port of the server that holds it, or add --snapshot to query a point-in-time copy',
    );
  }
  return toQueryResult(await queryEndpoint(connection, sql));
}

/** The server may have opened its ledger by a relative path (its own working directory): compare names then. */
async function sameLedger(served: string, wanted: string): Promise<boolean> {
  if (!isAbsolute(served)) return basename(served) === basename(wanted);
  const real = (p: string) => realpath(p).catch(() => p);
  return (await real(served)) === (await real(wanted));
}

/** Text results as the values the CLI's formatters take from DuckDB (numbers aligned, money exact). */
export function toQueryResult(result: TextResult): QueryResult {
  const convert = result.types.map((oid): ((v: string) => unknown) => {
    switch (oid) {
      case Oid.int2:
      case Oid.int4:
      case Oid.int8:
        return (v) => BigInt(v);
      case Oid.float4:
      case Oid.float8:
        return (v) => Number(v);
      case Oid.bool:
        return (v) => v === 't';
      case Oid.numeric:
        return decimal;
      default:
        return (v) => v;
    }
  });
  return {
    columns: result.columns,
    rows: result.rows.map((row) => row.map((v, i) => (v === null ? null : convert[i]!(v)))),
  };
}

/** An exact numeric text as a DuckDB decimal (what the direct path returns for DECIMAL). */
function decimal(text: string): unknown {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) return text;
  const digits = `${m[2]}${m[3] ?? ''}`.replace(/^0+(?=\d)/, '');
  const scale = m[3]?.length ?? 0;
  const width = Math.max(digits.length, scale + 1);
  if (width > 38) return text;
  return new DuckDBDecimalValue(BigInt(`${m[1]}${digits}`), width, scale);
}
