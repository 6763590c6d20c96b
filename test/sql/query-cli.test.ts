/**
 * `genai-ledger query` while a server holds the ledger: through the server's SQL endpoint (live rows, same
 * output formats), never through another ledger's endpoint, and the plain lock message when no endpoint
 * answers.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import { sampleLedgerRows } from '../../exporters/duckdb/testing/sample-rows.js';
import { startLiveLedger, type LiveLedger } from '../../src/sql-endpoint/testing/live-ledger.js';
import { runCli } from '../helpers/cli-process.js';

const PASSWORD = 'query-cli-password-1';
let ledger: LiveLedger;
before(async () => {
  ledger = await startLiveLedger({ rows: sampleLedgerRows(4), sql: { passwordEnv: 'PW' }, env: { PW: PASSWORD } });
});
after(() => ledger.close());

/** Runs the CLI with extra environment variables. */
async function cli(args: string[], env: Record<string, string>) {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    return await runCli(args);
  } finally {
    for (const k of Object.keys(env)) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
}

test('a held ledger is queried through the running server’s SQL endpoint', async () => {
  const sql = 'SELECT team_id, count(*) AS calls, sum(request_cost_usd) AS usd FROM genai_calls GROUP BY team_id';
  const json = await cli(['query', '--db', ledger.path, '--sql-port', String(ledger.port), '--format', 'json', sql], { GENAI_LEDGER_SQL_PASSWORD: PASSWORD });
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), [{ team_id: 'team-search', calls: 4, usd: '0.000493800000' }]);
  // The port from the environment, the password from PGPASSWORD, table format with numbers aligned.
  const table = await cli(['query', '--db', ledger.path, sql], { GENAI_LEDGER_SQL_PORT: String(ledger.port), PGPASSWORD: PASSWORD });
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^team_id +\| calls \| +usd\n/);
  assert.match(table.stdout, /team-search +\| +4 \| 0\.000493800000/);
});

test('read-only there too: a write through the endpoint is refused', async () => {
  const result = await cli(['query', '--db', ledger.path, '--sql-port', String(ledger.port), 'DELETE FROM genai_calls'], { PGPASSWORD: PASSWORD });
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /DELETE is not allowed: the genai-ledger SQL endpoint is read-only/);
});

test('an endpoint serving another ledger is not used', async () => {
  const other = await startLiveLedger({ rows: sampleLedgerRows(1) });
  try {
    const result = await cli(['query', '--db', ledger.path, '--sql-port', String(other.port), 'SELECT 1'], {});
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /serves .*ledger\.duckdb, not .*ledger\.duckdb; pass --sql-port/);
  } finally {
    await other.close();
  }
});

test('no endpoint answering: the lock message, with both ways out', async () => {
  const free = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
  const result = await cli(['query', '--db', ledger.path, '--sql-port', String(free), 'SELECT 1'], {});
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /held by a running genai-ledger server; stop it, or add --snapshot .*, or enable the server's SQL endpoint \(no answer on 127\.0\.0\.1:\d+/);
});
