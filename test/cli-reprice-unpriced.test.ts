/**
 * `genai-ledger reprice`'s per-team summary for a team none of whose calls has a price: `unpriced`, never a
 * silent 0.000000000000 (the ledger stores NULL for such calls, and the summary says so in words).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { createSyntheticLedger } from '../exporters/duckdb/testing/synthetic-ledger.js';
import { tempDir } from '../exporters/duckdb/testing/ledger-test-utils.js';
import { runCli } from './helpers/cli-process.js';

let db: string;
let cleanup: () => Promise<void>;

before(async () => {
  const t = await tempDir();
  cleanup = t.cleanup;
  // 70 calls, 10 per synthetic model; the acme model has no public price. Give its calls a team of their own.
  db = await createSyntheticLedger(t.dir, { count: 70, startMs: Date.parse('2025-05-01T00:00:00Z'), stepMs: 2_000, snapshot: 'old-prices' });
  const instance = await DuckDBInstance.create(db);
  try {
    const connection = await instance.connect();
    await connection.run(`UPDATE genai_calls SET team_id = 'team-acme' WHERE model = 'acme-self-hosted-llm'`);
    connection.closeSync();
  } finally {
    instance.closeSync();
  }
});
after(() => cleanup());

const reprice = (...extra: string[]) => runCli(['reprice', '--db', db, '--from', '2025-05-01', '--to', '2025-05-01', ...extra]);
/** The cells of a team's row in the summary table. */
const teamRow = (stdout: string, team: string) =>
  (stdout.split('\n').find((l) => l.startsWith(`${team} `)) ?? '').split('|').map((cell) => cell.trim());
const MONEY = /^-?\d+\.\d{12}$/;

test('a team whose calls all lose their price: new cost and delta are "unpriced"; once stored unpriced, the old cost is too', async () => {
  const dry = await reprice('--dry-run');
  assert.equal(dry.code, 0, dry.stderr);
  const [, calls, oldCost, ...rest] = teamRow(dry.stdout, 'team-acme');
  assert.equal(calls, '10', dry.stdout);
  assert.match(oldCost!, MONEY);
  assert.deepEqual(rest, ['unpriced', 'unpriced', '0', '10']);
  // teams with priced calls keep their numbers, and so does the total
  for (const team of ['team-search', 'TOTAL']) {
    const costs = teamRow(dry.stdout, team).slice(2, 5);
    assert.equal(costs.length, 3, dry.stdout);
    for (const cost of costs) assert.match(cost, MONEY, team);
  }

  const applied = await reprice();
  assert.equal(applied.code, 0, applied.stderr);
  const again = await reprice('--dry-run');
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(teamRow(again.stdout, 'team-acme'), ['team-acme', '10', 'unpriced', 'unpriced', 'unpriced', '10', '10'], again.stdout);
});
