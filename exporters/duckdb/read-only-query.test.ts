import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBDecimalValue } from '@duckdb/node-api';
import { runReadOnlyQuery } from './read-only-query.js';
import { snapshot, tempDir, writeLedgerRows } from './testing/ledger-test-utils.js';
import { sampleLedgerRows } from './testing/sample-rows.js';

let dir: string;
let cleanup: () => Promise<void>;
let ledger: string;

before(async () => {
  ({ dir, cleanup } = await tempDir());
  ledger = join(dir, 'ledger.duckdb');
  await writeLedgerRows(ledger, sampleLedgerRows(5));
});
after(() => cleanup());

describe('runReadOnlyQuery', () => {
  it('returns column names and DuckDB values (money as exact decimals)', async () => {
    const result = await runReadOnlyQuery(ledger, 'SELECT team_id, count(*) AS calls, sum(request_cost_usd) AS cost FROM genai_calls GROUP BY team_id');
    assert.deepEqual(result.columns, ['team_id', 'calls', 'cost']);
    assert.equal(result.rows.length, 1);
    const [team, calls, cost] = result.rows[0]!;
    assert.equal(team, 'team-search');
    assert.equal(calls, 5n);
    assert.ok(cost instanceof DuckDBDecimalValue);
    assert.equal(cost.toString(), '0.000617250000');
  });

  it('says "no ledger at <path>" for a missing file, and does not create it', async () => {
    const missing = join(dir, 'nope.duckdb');
    await assert.rejects(runReadOnlyQuery(missing, 'SELECT 1'), { message: `no ledger at ${missing}` });
    await assert.rejects(snapshot(missing), /ENOENT/);
  });

  it('reports SQL errors from DuckDB', async () => {
    await assert.rejects(runReadOnlyQuery(ledger, 'SELECT no_such_column FROM genai_calls'), /no_such_column/);
  });

  const forbidden: [string, string][] = [
    ['COPY TO a file', `COPY genai_calls TO '${'/tmp'}/genai-ledger-exfil.csv'`],
    ['read_csv of /etc/passwd', `SELECT * FROM read_csv('/etc/passwd', sep = ':')`],
    ['read_text of /etc/passwd', `SELECT * FROM read_text('/etc/passwd')`],
    ['ATTACH another database', `ATTACH '${'/tmp'}/genai-ledger-other.duckdb' AS other`],
    ['INSTALL an extension', 'INSTALL httpfs'],
    ['LOAD an extension', 'LOAD httpfs'],
    ['SET enable_external_access=true', 'SET enable_external_access = true'],
    ['RESET lock_configuration', 'SET lock_configuration = false'],
    ['CREATE TABLE', 'CREATE TABLE t (a INTEGER)'],
    ['DELETE', 'DELETE FROM genai_calls'],
    ['UPDATE', `UPDATE genai_calls SET team_id = 'x'`],
    ['DROP', 'DROP TABLE genai_calls'],
  ];
  for (const [what, sql] of forbidden) {
    it(`cannot ${what}`, async () => {
      const before = await snapshot(ledger);
      await assert.rejects(runReadOnlyQuery(ledger, sql));
      // Nor in a multi-statement string after a harmless one.
      await assert.rejects(runReadOnlyQuery(ledger, `SELECT 1; ${sql}`));
      const afterwards = await snapshot(ledger);
      assert.ok(afterwards.bytes.equals(before.bytes), 'ledger bytes unchanged');
    });
  }

  it('left no files behind from the attempts above', async () => {
    await assert.rejects(snapshot('/tmp/genai-ledger-exfil.csv'), /ENOENT/);
    await assert.rejects(snapshot('/tmp/genai-ledger-other.duckdb'), /ENOENT/);
  });
});
