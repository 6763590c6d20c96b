/**
 * What Grafana's PostgreSQL data source sends, written here from its documented behaviour: the health
 * check, the version and TimescaleDB probes of the data source settings page, the query builder's table
 * and column listing (information_schema with quote_ident/parse_ident and the search_path), and panel
 * queries with the macros already expanded ($__timeFilter, $__timeGroupAlias, $__time, $__timeEpoch,
 * $__unixEpochFilter, $__timeFrom/$__timeTo). Grafana's pgx driver sends them with the simple query
 * protocol (text results), as node-postgres does for a query without parameters.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { generateLedgerRowsSql, syntheticCostParts, SYNTHETIC_TEAMS } from '../../exporters/duckdb/testing/generate-ledger-rows.js';
import { formatPicoUsd } from '../../processors/pricing/decimal.js';
import { startLiveLedger, type LiveLedger } from '../../src/sql-endpoint/testing/live-ledger.js';
import { RawPgClient } from './raw-pg-client.js';

const START_MS = Date.parse('2026-11-05T00:00:00Z');
const ROWS = 48; // one call every 30 minutes for a day
const STEP_MS = 30 * 60 * 1000;
const raw = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig;

let ledger: LiveLedger;
let grafana: pg.Client;

before(async () => {
  ledger = await startLiveLedger();
  const writer = await ledger.writer();
  await writer.run(generateLedgerRowsSql({ count: ROWS, startMs: START_MS, stepMs: STEP_MS }));
  writer.closeSync();
  grafana = new pg.Client({ host: '127.0.0.1', port: ledger.port, user: 'grafana', database: 'ledger', application_name: 'Grafana' });
  await grafana.connect();
});
after(async () => {
  await grafana.end();
  await ledger.close();
});

const query = async (sql: string) => (await grafana.query({ text: sql, types: raw })).rows as Record<string, string | null>[];
const fieldTypes = async (sql: string) => (await grafana.query(sql)).fields.map((f) => [f.name, f.dataTypeID]);

/** Cost per team (bigint pico-USD) of the synthetic rows whose index is in [from, to). */
function expectedCosts(from: number, to: number): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (let i = from; i < to; i++) {
    const team = SYNTHETIC_TEAMS[Math.floor(i / 7) % SYNTHETIC_TEAMS.length]!;
    const p = syntheticCostParts(i);
    out.set(team, (out.get(team) ?? 0n) + p.input + p.cached + p.cacheWrite + p.output);
  }
  return out;
}

describe('data source settings page', () => {
  test('health check: an empty query (pgx ping) and SELECT 1', async () => {
    const client = await RawPgClient.connect(ledger.port, { user: 'grafana', database: 'ledger' });
    try {
      assert.deepEqual((await client.query('-- ping')).map((m) => m.type), ['I', 'Z']);
    } finally {
      client.close();
    }
    assert.deepEqual(await query('SELECT 1'), [{ '1': '1' }]);
  });

  test('version probe: server_version_num / 100', async () => {
    assert.deepEqual(await query("SELECT current_setting('server_version_num')::int/100 as version"), [{ version: '1500' }]);
  });

  test('TimescaleDB probe: no row (no extensions)', async () => {
    assert.deepEqual(await query("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"), []);
  });

  test('several statements in one query, as Grafana allows', async () => {
    const results = (await grafana.query("SET TIME ZONE 'UTC'; SELECT 42 AS answer")) as unknown as pg.QueryResult[];
    assert.deepEqual(results[1]!.rows, [{ answer: 42 }]);
  });
});

describe('query builder', () => {
  // The schema constraint: the table's schema is on the search_path ("$user" standing for the user).
  const onSearchPath = `quote_ident(table_schema) IN (
      SELECT CASE WHEN trim(parts[n]) = '"$user"' THEN user ELSE trim(parts[n]) END
      FROM generate_series(
             array_lower(string_to_array(current_setting('search_path'), ','), 1),
             array_upper(string_to_array(current_setting('search_path'), ','), 1)
           ) AS n,
           string_to_array(current_setting('search_path'), ',') parts)`;

  test('table list: ledger tables and views, unqualified because main is on the search_path', async () => {
    const rows = await query(`SELECT CASE WHEN ${onSearchPath} THEN quote_ident(table_name)
             ELSE quote_ident(table_schema) || '.' || quote_ident(table_name) END AS "table"
      FROM information_schema.tables
      WHERE quote_ident(table_schema) NOT IN ('information_schema', 'pg_catalog', '_timescaledb_catalog')
      ORDER BY CASE WHEN ${onSearchPath} THEN 0 ELSE 1 END, 1`);
    const tables = rows.map((r) => r.table);
    for (const t of ['genai_calls', 'genai_chargeback_monthly', 'genai_exceptions', 'ledger_meta']) assert.ok(tables.includes(t), `${t} in ${tables.join(', ')}`);
  });

  for (const table of ['genai_calls', 'main.genai_calls']) {
    test(`column list of ${table} (parse_ident for a qualified name)`, async () => {
      const literal = `'${table}'`;
      const rows = await query(`SELECT quote_ident(column_name) AS "column", data_type AS "type"
        FROM information_schema.columns
        WHERE CASE WHEN array_length(parse_ident(${literal}), 1) = 2
          THEN quote_ident(table_schema) = (parse_ident(${literal}))[1] AND quote_ident(table_name) = (parse_ident(${literal}))[2]
          ELSE quote_ident(table_name) = ${literal} AND ${onSearchPath}
        END`);
      const columns = new Map(rows.map((r) => [r.column, r.type]));
      assert.equal(columns.get('"timestamp"'), 'TIMESTAMP WITH TIME ZONE', 'timestamp is a keyword: quoted');
      assert.equal(columns.get('request_cost_usd'), 'DECIMAL(18,12)');
      assert.equal(columns.get('team_id'), 'VARCHAR');
      assert.ok(columns.size >= 40);
    });
  }
});

describe('panel queries with macros expanded', () => {
  const filter = `"timestamp" BETWEEN '2026-11-05T00:00:00Z' AND '2026-11-05T12:00:00Z'`; // $__timeFilter(timestamp)

  test('$__timeGroupAlias(timestamp, 1h) time series: epoch seconds as float8, exact money per bucket', async () => {
    const sql = `SELECT floor(extract(epoch from "timestamp")/3600)*3600 AS "time", team_id AS metric, sum(request_cost_usd) AS cost
      FROM genai_calls WHERE ${filter} GROUP BY 1, 2 ORDER BY 1, 2`;
    assert.deepEqual((await fieldTypes(sql)).map(([, oid]) => oid), [701, 25, 1700]);
    const rows = await query(sql);
    // BETWEEN includes 12:00: rows 0..24.
    assert.equal(rows[0]!.time, String(START_MS / 1000));
    assert.equal(rows[rows.length - 1]!.time, String(START_MS / 1000 + 12 * 3600));
    const total = new Map<string, bigint>();
    for (const r of rows) total.set(r.metric!, (total.get(r.metric!) ?? 0n) + BigInt(r.cost!.replace('.', '')));
    const expected = expectedCosts(0, 25);
    assert.deepEqual(
      [...total].map(([t, v]) => [t, formatPicoUsd(v)]).sort(),
      [...expected].map(([t, v]) => [t, formatPicoUsd(v)]).sort(),
    );
  });

  test('$__time(timestamp) in a table panel: timestamptz in ISO with +00', async () => {
    const sql = `SELECT "timestamp" AS "time", model, request_cost_usd FROM genai_calls WHERE ${filter} ORDER BY 1 LIMIT 2`;
    assert.deepEqual((await fieldTypes(sql)).map(([, oid]) => oid), [1184, 25, 1700]);
    assert.deepEqual(
      (await query(sql)).map((r) => r.time),
      ['2026-11-05 00:00:00+00', '2026-11-05 00:30:00+00'],
    );
  });

  test('$__timeEpoch and $__unixEpochFilter over an epoch expression; $__timeFrom()/$__timeTo()', async () => {
    const rows = await query(`SELECT extract(epoch from "timestamp") as "time", input_tokens
      FROM genai_calls
      WHERE extract(epoch from "timestamp") >= ${START_MS / 1000} AND extract(epoch from "timestamp") <= ${START_MS / 1000 + 3600}
      ORDER BY 1`);
    assert.deepEqual(rows.map((r) => r.time), [0, 1800, 3600].map((s) => String(START_MS / 1000 + s)));
    const between = await query(`SELECT count(*) AS n FROM genai_calls WHERE "timestamp" >= '2026-11-05T06:00:00Z' AND "timestamp" < '2026-11-05T07:00:00.000Z'`);
    assert.deepEqual(between, [{ n: '2' }]);
  });

  test('the monthly chargeback view as a table panel', async () => {
    const rows = await query('SELECT "month", team_id, calls, cost_usd FROM genai_chargeback_monthly ORDER BY team_id');
    const expected = expectedCosts(0, ROWS);
    assert.deepEqual(
      rows.map((r) => [r.month, r.team_id, r.cost_usd]),
      [...expected].sort(([a], [b]) => a.localeCompare(b)).map(([team, pico]) => ['2026-11-01', team, formatPicoUsd(pico)]),
    );
  });
});
