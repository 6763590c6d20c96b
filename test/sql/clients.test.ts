/**
 * The SQL endpoint with real PostgreSQL clients over real sockets, on a ledger being written by the DuckDB
 * exporter: psql (simple query, \copy, errors), node-postgres (extended protocol with parameters, every
 * result type in text and binary, exact money), psycopg2 (a third driver, the pandas path), and
 * Describe answering with the row shape before anything runs.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { formatPicoUsd } from '../../processors/pricing/decimal.js';
import { generateLedgerRowsSql, syntheticCostParts } from '../../exporters/duckdb/testing/generate-ledger-rows.js';
import { sampleLedgerRows } from '../../exporters/duckdb/testing/sample-rows.js';
import { requireClient, startLiveLedger, type LiveLedger } from '../../src/sql-endpoint/testing/live-ledger.js';
import { dataRow, errorFields, RawPgClient, rowDescription } from './raw-pg-client.js';

const run = promisify(execFile);
const SYNTHETIC_ROWS = 100_000;

let ledger: LiveLedger;
const clientConfig = () => ({ host: '127.0.0.1', port: ledger.port, user: 'analyst', database: 'ledger' });
/** Every value as the text the server sent (no driver parsing), for exact comparisons. */
const raw = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig;

before(async () => {
  ledger = await startLiveLedger({ rows: sampleLedgerRows(5) });
  const writer = await ledger.writer();
  await writer.run(generateLedgerRowsSql({ count: SYNTHETIC_ROWS, startMs: Date.parse('2026-11-01T00:00:00Z'), stepMs: 1000, offset: 1_000_000 }));
  await writer.run(`CREATE TABLE tiny_costs AS SELECT CAST('0.000000000001' AS DECIMAL(18,12)) AS usd FROM range(${SYNTHETIC_ROWS})`);
  await writer.run(`CREATE TABLE type_samples AS SELECT
      9223372036854775807::BIGINT AS big, (-2147483648)::INTEGER AS int, (-32768)::SMALLINT AS small,
      170141183460469231731687303715884105727::HUGEINT AS huge, '0.000000000001'::DECIMAL(18,12) AS money,
      '1234567890123456789012345678.0123456789'::DECIMAL(38,10) AS wide, 0.1::DOUBLE AS dbl, 0.1::FLOAT AS flt,
      'héllo "world"' AS txt, true AS flag, TIMESTAMPTZ '2026-11-05 10:00:00.123456+00' AS tstz,
      TIMESTAMP '2026-11-05 10:00:00' AS ts, DATE '2026-11-05' AS day,
      ['a', 'b,c', NULL, '', 'q"uote', 'back\\slash']::VARCHAR[] AS list, NULL::VARCHAR AS nothing`);
  writer.closeSync();
});
after(() => ledger.close());

describe('psql', () => {
  const psql = async (...commands: string[]) => {
    const bin = await requireClient('psql');
    const args = ['-X', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose', `host=127.0.0.1 port=${ledger.port} user=analyst dbname=ledger`];
    for (const c of commands) args.push('-c', c);
    return run(bin, args, { env: { ...process.env, PGCONNECT_TIMEOUT: '10' } });
  };

  test('simple queries: rows, exact money, the chargeback view', async () => {
    const { stdout } = await psql(
      'SELECT team_id, count(*), sum(request_cost_usd) FROM genai_calls WHERE team_id = \'team-search\' AND unit_price_snapshot <> \'synthetic\' GROUP BY team_id',
      'SELECT count(*) FROM genai_chargeback_monthly',
      'SHOW server_version',
    );
    const lines = stdout.trim().split('\n');
    assert.equal(lines[0], 'team-search|5|0.000617250000');
    assert.match(lines[1]!, /^\d+$/);
    assert.equal(lines[2], '15.0 (genai-ledger)');
  });

  test('\\copy (SELECT …) TO STDOUT WITH CSV HEADER', async () => {
    const { stdout } = await psql(
      "\\copy (SELECT team_id, request_cost_usd, exceptions, 'a,\"b\"' AS tricky, NULL AS none FROM genai_calls WHERE unit_price_snapshot <> 'synthetic' LIMIT 2) TO STDOUT WITH CSV HEADER",
    );
    assert.equal(stdout, 'team_id,request_cost_usd,exceptions,tricky,none\nteam-search,0.000123450000,{},"a,""b""",\nteam-search,0.000123450000,{},"a,""b""",\n');
  });

  test('an error: exit status 1, the SQLSTATE and DuckDB’s message; the endpoint answers the next query', async () => {
    await assert.rejects(psql('SELECT * FROM no_such_table'), (err: { code: number; stderr: string }) => {
      assert.equal(err.code, 1);
      assert.match(err.stderr, /ERROR: {2}42P01: .*no_such_table/);
      return true;
    });
    assert.equal((await psql('SELECT 41 + 1')).stdout.trim(), '42');
  });
});

describe('node-postgres', () => {
  let client: pg.Client;
  before(async () => {
    client = new pg.Client(clientConfig());
    await client.connect();
  });
  after(() => client.end());

  test('extended protocol with $1 parameters (text, numbers, timestamps, NULL)', async () => {
    const result = await client.query(
      `SELECT team_id, count(*) AS calls FROM genai_calls
       WHERE team_id = $1 AND "timestamp" >= $2 AND "timestamp" < $3 AND ($4::VARCHAR IS NULL) AND input_tokens > $5
       GROUP BY team_id`,
      ['team-ads', new Date('2026-11-01T00:00:00Z'), '2026-12-01T00:00:00Z', null, 0],
    );
    assert.equal(result.rows.length, 1);
    assert.equal(result.rows[0].team_id, 'team-ads');
    assert.ok(Number(result.rows[0].calls) > 0);
    // The same statement again, and an untyped parameter read as text (PostgreSQL's rule).
    assert.deepEqual((await client.query('SELECT $1 AS echo, $2::INTEGER + 1 AS next', ['hello', '41'])).rows, [{ echo: 'hello', next: 42 }]);
  });

  test('every type: PostgreSQL OIDs and text forms', async () => {
    const result = await client.query({ text: 'SELECT * FROM type_samples', types: raw });
    assert.deepEqual(
      result.fields.map((f) => [f.name, f.dataTypeID]),
      [
        ['big', 20], ['int', 23], ['small', 21], ['huge', 1700], ['money', 1700], ['wide', 1700], ['dbl', 701], ['flt', 700],
        ['txt', 25], ['flag', 16], ['tstz', 1184], ['ts', 1114], ['day', 1082], ['list', 1009], ['nothing', 25],
      ],
    );
    assert.deepEqual(result.rows[0], {
      big: '9223372036854775807',
      int: '-2147483648',
      small: '-32768',
      huge: '170141183460469231731687303715884105727',
      money: '0.000000000001',
      wide: '1234567890123456789012345678.0123456789',
      dbl: '0.1',
      flt: '0.1',
      txt: 'héllo "world"',
      flag: 't',
      tstz: '2026-11-05 10:00:00.123456+00',
      ts: '2026-11-05 10:00:00',
      day: '2026-11-05',
      list: '{a,"b,c",NULL,"","q\\"uote","back\\\\slash"}',
      nothing: null,
    });
    // node-postgres's own parsers read them back as the same values.
    const parsed = (await client.query('SELECT flag, list, tstz, day FROM type_samples')).rows[0];
    assert.equal(parsed.flag, true);
    assert.deepEqual(parsed.list, ['a', 'b,c', null, '', 'q"uote', 'back\\slash']);
    assert.equal(parsed.tstz.toISOString(), '2026-11-05T10:00:00.123Z');
  });

  test('binary results (format code 1) carry the same values', async () => {
    const text = (await client.query('SELECT big, int, small, money, wide, dbl, flag, tstz, day, list FROM type_samples')).rows[0];
    const binary = (await client.query({ text: 'SELECT big, int, small, money, wide, dbl, flag, tstz, day, list FROM type_samples', binary: true } as pg.QueryConfig)).rows[0];
    assert.deepEqual(binary, text);
  });

  test('DECIMAL sums stay exact: 100k × $0.000000000001, and 100k synthetic ledger rows to the pico-dollar', async () => {
    const tiny = await client.query({ text: 'SELECT sum(usd) AS total, sum(usd::DOUBLE) AS float_total FROM tiny_costs', types: raw });
    assert.equal(tiny.rows[0].total, '0.000000100000');
    assert.notEqual(tiny.rows[0].float_total, '1e-07', 'a float sum drifts (this is why money is DECIMAL)');
    let expected = 0n;
    for (let i = 1_000_000; i < 1_000_000 + SYNTHETIC_ROWS; i++) {
      const p = syntheticCostParts(i);
      expected += p.input + p.cached + p.cacheWrite + p.output;
    }
    const total = await client.query({ text: "SELECT sum(request_cost_usd) AS usd FROM genai_calls WHERE unit_price_snapshot = 'synthetic'", types: raw });
    assert.equal(total.rows[0].usd, formatPicoUsd(expected));
    const viaParam = await client.query({ text: 'SELECT $1::numeric * 1000000 AS x', values: ['0.000000000001'], types: raw });
    assert.equal(viaParam.rows[0].x, '0.000001000000');
  });

  test('a statement returning no rows still describes its columns', async () => {
    const result = await client.query('SELECT "timestamp", request_cost_usd, exceptions FROM genai_calls WHERE false');
    assert.deepEqual(result.fields.map((f) => f.dataTypeID), [1184, 1700, 1009]);
    assert.equal(result.rows.length, 0);
  });
});

test('Describe (statement) answers parameter and row types without running the query', async () => {
  const raw = await RawPgClient.connect(ledger.port);
  try {
    // A query that would run for hours: Describe must come back at once, without executing it.
    const sql = 'SELECT count(*) AS n, max(a.range) AS m, $1::TIMESTAMPTZ AS since FROM range(1000000000000) a, genai_calls';
    const started = Date.now();
    raw.send((w) => {
      w.begin('P').cstring('s1').cstring(sql).int16(0).end();
      w.begin('D').int8('S'.charCodeAt(0)).cstring('s1').end();
      w.begin('S').end();
    });
    const messages = await raw.until('Z');
    assert.deepEqual(messages.map((m) => m.type), ['1', 't', 'T', 'Z']);
    assert.deepEqual(rowDescription(messages[2]!.body), [
      { name: 'n', oid: 20 },
      { name: 'm', oid: 20 },
      { name: 'since', oid: 1184 },
    ]);
    assert.ok(Date.now() - started < 5000);
    const select = await raw.query('SELECT 7');
    assert.deepEqual(dataRow(select.find((m) => m.type === 'D')!.body), ['7']);
  } finally {
    raw.close();
  }
});

test('psycopg2 (a third driver; pandas reads through it): parameters, types, errors, transactions', async () => {
  const python = await requireClient('psycopg2');
  const script = `
import json, sys, psycopg2
conn = psycopg2.connect(host="127.0.0.1", port=${ledger.port}, user="analyst", dbname="ledger")
cur = conn.cursor()
cur.execute("SELECT team_id, sum(request_cost_usd), max(\\"timestamp\\"), exceptions FROM genai_calls WHERE team_id = %s AND unit_price_snapshot <> 'synthetic' GROUP BY team_id, exceptions", ("team-search",))
team, cost, ts, exc = cur.fetchone()
out = {"team": team, "cost": str(cost), "ts": ts.isoformat(), "exceptions": exc, "types": [d.type_code for d in cur.description]}
try:
    cur.execute("DELETE FROM genai_calls")
except psycopg2.Error as e:
    out["delete"] = e.pgcode
conn.rollback()
cur.execute("SELECT 1 + 1")
out["after"] = cur.fetchone()[0]
print(json.dumps(out))
`;
  const { stdout } = await run(python, ['-c', script]);
  assert.deepEqual(JSON.parse(stdout), {
    team: 'team-search',
    cost: '0.000617250000',
    ts: '2025-01-01T12:00:00.123456+00:00',
    exceptions: [],
    types: [25, 1700, 1184, 1009],
    delete: '25006',
    after: 2,
  });
});

test('an oversized query is refused with 54000, the connection and the endpoint go on', async () => {
  const raw = await RawPgClient.connect(ledger.port);
  try {
    const error = await raw.query(`SELECT '${'x'.repeat(2 * 1024 * 1024)}'`);
    const e = errorFields(error.find((m) => m.type === 'E')!.body);
    assert.equal(e.C, '54000');
    const ok = await raw.query('SELECT 1');
    assert.deepEqual(dataRow(ok.find((m) => m.type === 'D')!.body), ['1']);
  } finally {
    raw.close();
  }
});
