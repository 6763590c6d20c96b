/**
 * The live SQL endpoint under load: the monthly chargeback query (`SELECT * FROM genai_chargeback_monthly`)
 * looped through the PostgreSQL protocol with node-postgres, on a synthetic ledger of BENCH_SQL_ROWS rows
 * (default 1,000,000), alone and while the DuckDB exporter in this process commits 512-row batches as fast
 * as it can. Prints query p50/p99 and ingest rows/s with and without the queries.
 *
 * `runSqlQueryLoad` is the load on its own, for running beside another workload (e.g. bench/run.ts's W1
 * against a `genai-ledger serve` whose SQL endpoint is on `port`).
 *
 * Environment: BENCH_SECONDS (default 8), BENCH_SQL_ROWS (default 1000000), BENCH_SQL_CLIENTS (default 2).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import type { LedgerRow } from '../core/ledger-row.js';
import { DuckDbExporter } from '../exporters/duckdb/duckdb-exporter.js';
import { sampleLedgerRow } from '../exporters/duckdb/testing/sample-rows.js';
import { createSyntheticLedger } from '../exporters/duckdb/testing/synthetic-ledger.js';
import { SqlEndpoint } from '../src/sql-endpoint/sql-endpoint.js';
import { exporterDatabase } from '../src/sql-endpoint/testing/live-ledger.js';

export const CHARGEBACK_QUERY = 'SELECT * FROM genai_chargeback_monthly';

export interface SqlQueryLoadOptions {
  port: number;
  durationMs: number;
  host?: string;
  password?: string;
  /** Clients querying at once, each in a loop (default 2, the endpoint's default maxConcurrentQueries). */
  clients?: number;
  sql?: string;
}

export interface SqlQueryLoadResult {
  queries: number;
  errors: number;
  p50Ms: number;
  p99Ms: number;
}

/** Loops `sql` (the monthly chargeback by default) on `clients` connections for `durationMs`; latency percentiles. */
export async function runSqlQueryLoad(options: SqlQueryLoadOptions): Promise<SqlQueryLoadResult> {
  const { port, durationMs, host = '127.0.0.1', clients = 2, sql = CHARGEBACK_QUERY } = options;
  const connections = Array.from(
    { length: clients },
    () => new pg.Client({ host, port, user: 'bench', database: 'ledger', ...(options.password === undefined ? {} : { password: options.password }) }),
  );
  await Promise.all(connections.map((c) => c.connect()));
  const latencies: number[] = [];
  let errors = 0;
  const deadline = performance.now() + durationMs;
  try {
    await Promise.all(
      connections.map(async (client) => {
        while (performance.now() < deadline) {
          const started = performance.now();
          try {
            await client.query(sql);
            latencies.push(performance.now() - started);
          } catch {
            errors++;
          }
        }
      }),
    );
  } finally {
    await Promise.all(connections.map((c) => c.end().catch(() => undefined)));
  }
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  return { queries: latencies.length, errors, p50Ms: at(0.5), p99Ms: at(0.99) };
}

/** Commits 512-row batches through the exporter until the deadline; rows committed. */
async function ingest(exporter: DuckDbExporter, durationMs: number, firstId: { next: number }): Promise<number> {
  let rows = 0;
  const deadline = performance.now() + durationMs;
  while (performance.now() < deadline) {
    const batch: LedgerRow[] = Array.from({ length: 512 }, () => {
      const i = firstId.next++;
      return sampleLedgerRow({
        traceId: i.toString(16).padStart(32, 'c'),
        spanId: i.toString(16).padStart(16, 'd'),
        startTimeUnixNano: BigInt(Date.now()) * 1_000_000n,
        endTimeUnixNano: BigInt(Date.now() + 1000) * 1_000_000n,
      });
    });
    await exporter.write(batch);
    rows += batch.length;
  }
  return rows;
}

async function main(): Promise<void> {
  const seconds = Number(process.env.BENCH_SECONDS ?? 8);
  const count = Number(process.env.BENCH_SQL_ROWS ?? 1_000_000);
  const clients = Number(process.env.BENCH_SQL_CLIENTS ?? 2);
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-sql-bench-'));
  try {
    let t = performance.now();
    // A year of calls, ~30 s apart: the chargeback view aggregates all of them on every query.
    const path = await createSyntheticLedger(dir, { count, startMs: Date.parse('2026-01-01T00:00:00Z'), stepMs: 31_536_000_000 / count });
    console.log(`synthetic ledger: ${count} rows in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const exporter = new DuckDbExporter({ path });
    await exporter.start();
    const endpoint = new SqlEndpoint({ port: 0 }, exporterDatabase(exporter));
    await endpoint.start();
    const port = endpoint.address.port;
    const ids = { next: 1 };
    try {
      t = performance.now();
      const ingestAlone = await ingest(exporter, seconds * 1000, ids);
      const ingestAloneRate = ingestAlone / ((performance.now() - t) / 1000);
      const queriesAlone = await runSqlQueryLoad({ port, durationMs: seconds * 1000, clients });
      t = performance.now();
      const [together, ingestTogether] = await Promise.all([runSqlQueryLoad({ port, durationMs: seconds * 1000, clients }), ingest(exporter, seconds * 1000, ids)]);
      const ingestTogetherRate = ingestTogether / ((performance.now() - t) / 1000);
      const row = (label: string, q: SqlQueryLoadResult | null, rate: number | null) =>
        `${label.padEnd(26)} | ${q ? String(q.queries).padStart(7) : '      -'} | ${q ? q.p50Ms.toFixed(1).padStart(7) : '      -'} | ${q ? q.p99Ms.toFixed(1).padStart(7) : '      -'} | ${rate === null ? '      -' : String(Math.round(rate)).padStart(7)}`;
      console.log(`${clients} client(s) looping "${CHARGEBACK_QUERY}", ${seconds} s per phase`);
      console.log('phase                      | queries | p50 ms  | p99 ms  | ingest rows/s');
      console.log('---------------------------+---------+---------+---------+--------------');
      console.log(row('ingest alone', null, ingestAloneRate));
      console.log(row('queries alone', queriesAlone, null));
      console.log(row('queries + ingest', together, ingestTogetherRate));
      if (queriesAlone.errors + together.errors > 0) console.log(`query errors: ${queriesAlone.errors + together.errors}`);
    } finally {
      await endpoint.shutdown();
      await exporter.shutdown();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
