/**
 * More attacks on the read-only query interface (beyond exporters/duckdb/read-only-query.test.ts): every
 * file-reading table function, EXPORT/IMPORT DATABASE, secrets, extensions, profiling/log output files, and
 * statements DuckDB accepts on a read-only file (CHECKPOINT, VACUUM, temp tables) — none may read a file
 * or change a byte of the ledger.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { access, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDbExporter } from '../../exporters/duckdb/duckdb-exporter.js';
import { runReadOnlyQuery } from '../../exporters/duckdb/read-only-query.js';
import { sampleLedgerRows } from '../../exporters/duckdb/testing/sample-rows.js';
import { runCli } from '../helpers/cli-process.js';

let dir: string;
let ledger: string;
let outside: string;
const bytes = () => readFile(ledger);
const exists = (p: string) => access(p).then(() => true, () => false);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'genai-ledger-query-attacks-'));
  outside = join(dir, 'outside');
  ledger = join(dir, 'ledger.duckdb');
  const exporter = new DuckDbExporter({ path: ledger });
  await exporter.start();
  await exporter.write(sampleLedgerRows(3));
  await exporter.shutdown();
});
after(() => rm(dir, { recursive: true, force: true }));

describe('read-only query: refused', () => {
  const refused: [string, () => string][] = [
    ['read_parquet', () => `SELECT * FROM read_parquet('/etc/passwd')`],
    ['read_json', () => `SELECT * FROM read_json('/etc/passwd')`],
    ['read_blob', () => `SELECT * FROM read_blob('/etc/passwd')`],
    ['glob', () => `SELECT * FROM glob('/etc/*')`],
    ['sniff_csv', () => `SELECT * FROM sniff_csv('/etc/passwd')`],
    ['a file path as a table', () => `SELECT * FROM '/etc/passwd'`],
    ['an HTTP URL', () => `SELECT * FROM read_csv_auto('https://example.com/x.csv')`],
    ['getenv', () => `SELECT getenv('HOME')`],
    ['EXPORT DATABASE', () => `EXPORT DATABASE '${outside}-export'`],
    ['IMPORT DATABASE', () => `IMPORT DATABASE '${outside}-export'`],
    ['CREATE SECRET (persistent store on disk)', () => `CREATE PERSISTENT SECRET s (TYPE S3, KEY_ID 'x', SECRET 'y')`],
    ['FORCE INSTALL', () => 'FORCE INSTALL httpfs'],
    ['ATTACH in-memory', () => `ATTACH ':memory:' AS m`],
    ['PRAGMA enable_profiling', () => `PRAGMA enable_profiling = 'json'`],
    ['SET profiling_output', () => `SET profiling_output = '${outside}-profile.json'`],
    ['SET log_query_path', () => `SET log_query_path = '${outside}-log.sql'`],
    ['SET temp_directory', () => `SET temp_directory = '${outside}-tmp'`],
    ['INSERT', () => 'INSERT INTO genai_calls SELECT * FROM genai_calls'],
    ['ALTER', () => 'ALTER TABLE genai_calls ADD COLUMN x INTEGER'],
    ['indirect through query()', () => `SELECT * FROM query('COPY genai_calls TO ''${outside}-q.csv''')`],
  ];
  for (const [what, sql] of refused) {
    it(what, async () => {
      const before = await bytes();
      await assert.rejects(runReadOnlyQuery(ledger, sql()));
      assert.ok((await bytes()).equals(before));
    });
  }
});

describe('read-only query: accepted by DuckDB but harmless', () => {
  for (const sql of ['CHECKPOINT', 'VACUUM', 'CREATE TEMP TABLE t AS SELECT 1 AS a; SELECT * FROM t', 'PRAGMA database_size', 'CALL pragma_version()']) {
    it(sql, async () => {
      const before = await bytes();
      await runReadOnlyQuery(ledger, sql);
      assert.ok((await bytes()).equals(before), 'ledger bytes unchanged');
    });
  }
});

// DuckDB 1.5 aborts the process (std::terminate on a PermissionException thrown off the main thread) when
// file logging is enabled with external access disabled. No file is written; the `query` process dies with
// an error. Run in the CLI's own process so the abort is contained, and prove nothing was written.
describe('read-only query: enable_logging to a file', () => {
  for (const [what, sql] of [
    ['CALL enable_logging(storage = file)', () => `CALL enable_logging(storage = 'file', storage_path = '${outside}-logs'); SELECT 1`],
    ['enable_logging hidden in query()', () => `SELECT * FROM query('SELECT * FROM enable_' || 'logging(storage_path=''${outside}-logs2'')'); SELECT 1`],
  ] as const) {
    it(what, async () => {
      const before = await bytes();
      const result = await runCli(['query', '--db', ledger, sql()]);
      assert.notEqual(result.code, 0);
      assert.match(result.stderr, /file system operations are disabled/);
      assert.ok((await bytes()).equals(before));
    });
  }
});

describe('afterwards', () => {
  it('no file was created outside the ledger', async () => {
    const names = (await readdir(dir)).sort();
    assert.deepEqual(names, ['ledger.duckdb']);
    assert.equal(await exists(`${outside}-export`), false);
  });
});
