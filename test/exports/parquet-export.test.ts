import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { holdLedgerInChild, queryFile, tempDir, writeLedgerRows } from '../../exporters/duckdb/testing/ledger-test-utils.js';
import { sampleLedgerRows } from '../../exporters/duckdb/testing/sample-rows.js';
import { runCli } from '../helpers/cli-process.js';
import { june2025LedgerRows } from '../reconcile/june-2025-ledger.js';

async function readLake(dir: string): Promise<{ month: string; rows: number; cost: string }[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const c = await instance.connect();
  try {
    const r = await c.runAndReadAll(
      `SELECT "month", count(*)::INTEGER, CAST(sum(request_cost_usd) AS VARCHAR), count(DISTINCT (trace_id, span_id))::INTEGER
       FROM read_parquet('${dir}/**/*.parquet', hive_partitioning = true) GROUP BY 1 ORDER BY 1`,
    );
    return r.getRows().map((row) => {
      assert.equal(row[1], row[3], 'no (trace_id, span_id) twice');
      return { month: String(row[0]), rows: Number(row[1]), cost: String(row[2]) };
    });
  } finally {
    c.closeSync();
    instance.closeSync();
  }
}

const files = async (dir: string) => (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.parquet')).sort();

const july = (count: number, seed: number) =>
  sampleLedgerRows(count, { startTimeUnixNano: BigInt(Date.parse('2025-07-15T10:00:00Z')) * 1_000_000n, endTimeUnixNano: null }, seed);

describe('export parquet: genai_calls as a Hive-partitioned lake', () => {
  it('writes month=YYYY-MM partitions DuckDB reads back with every row and the exact cost; a re-run changes nothing', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const db = join(dir, 'ledger.duckdb');
      const lake = join(dir, 'lake');
      await writeLedgerRows(db, [...june2025LedgerRows(), ...july(5, 7)]);
      const first = await runCli(['export', 'parquet', '--db', db, '--out', lake]);
      assert.equal(first.code, 0, first.stderr);
      const written = await files(lake);
      assert.equal(written.length, 2);
      assert.ok(written.every((f) => /^month=2025-0[67]\/part-[0-9a-f]{16}\.parquet$/.test(f)), written.join(', '));
      const ledger = await queryFile(
        db,
        `SELECT strftime(timezone('UTC', "timestamp"), '%Y-%m'), count(*)::INTEGER, CAST(sum(request_cost_usd) AS VARCHAR) FROM genai_calls GROUP BY 1 ORDER BY 1`,
      );
      assert.deepEqual(
        await readLake(lake),
        ledger.map((r) => ({ month: String(r[0]), rows: Number(r[1]), cost: String(r[2]) })),
      );
      const again = await runCli(['export', 'parquet', '--db', db, '--out', lake]);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stderr, /0 files written, 2 unchanged/);
      assert.deepEqual(await files(lake), written);
    } finally {
      await cleanup();
    }
  });

  it('a month that changed is replaced, never duplicated; other months are left alone; --from/--to select months', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const db = join(dir, 'ledger.duckdb');
      const lake = join(dir, 'lake');
      await writeLedgerRows(db, [...june2025LedgerRows(), ...july(5, 7)]);
      assert.equal((await runCli(['export', 'parquet', '--db', db, '--out', lake])).code, 0);
      const before = await files(lake);
      await writeLedgerRows(db, july(8, 7)); // 5 already there (same ids), 3 new
      const r = await runCli(['export', 'parquet', '--db', db, '--out', lake, '--from', '2025-07-01', '--to', '2025-07-31']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /1 months, 8 rows; 1 files written, 0 unchanged, 1 superseded files removed/);
      const after = await files(lake);
      assert.equal(after.length, 2);
      assert.equal(after[0], before[0], 'June untouched');
      assert.notEqual(after[1], before[1], 'July has a new content-named file');
      assert.deepEqual((await readLake(lake)).map((m) => [m.month, m.rows]), [
        ['2025-06', 115],
        ['2025-07', 8],
      ]);
    } finally {
      await cleanup();
    }
  });

  it('instances sharing one lake each own their files', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const lake = join(dir, 'lake');
      const a = join(dir, 'a.duckdb');
      const b = join(dir, 'b.duckdb');
      await writeLedgerRows(a, july(4, 1));
      await writeLedgerRows(b, july(6, 2));
      assert.equal((await runCli(['export', 'parquet', '--db', a, '--out', lake, '--instance', 'collector-a'])).code, 0);
      assert.equal((await runCli(['export', 'parquet', '--db', b, '--out', lake, '--instance', 'collector-b'])).code, 0);
      await writeLedgerRows(a, july(5, 1));
      assert.equal((await runCli(['export', 'parquet', '--db', a, '--out', lake, '--instance', 'collector-a'])).code, 0);
      const names = await files(lake);
      assert.equal(names.length, 2);
      assert.ok(names[0]!.startsWith('month=2025-07/part-collector-a-') && names[1]!.startsWith('month=2025-07/part-collector-b-'));
      assert.deepEqual((await readLake(lake)).map((m) => m.rows), [11]);
      assert.equal((await runCli(['export', 'parquet', '--db', a, '--out', lake, '--instance', '../x'])).code, 1);
    } finally {
      await cleanup();
    }
  });

  it('works while a server holds the ledger, from a point-in-time copy', async () => {
    const { dir, cleanup } = await tempDir();
    const db = join(dir, 'ledger.duckdb');
    const { release } = await holdLedgerInChild(db, 25);
    try {
      const lake = join(dir, 'lake');
      const r = await runCli(['export', 'parquet', '--db', db, '--out', lake]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /held by a running server; exporting from a point-in-time copy/);
      assert.equal((await readLake(lake)).reduce((n, m) => n + m.rows, 0), 25);
      const focus = await runCli(['export', 'focus', '--db', db, '--month', '2025-01', '--out', join(dir, 'f.csv')]);
      assert.equal(focus.code, 0, focus.stderr);
      assert.match(focus.stderr, /equal/);
    } finally {
      await release();
      await cleanup();
    }
  });
});
