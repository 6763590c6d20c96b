/**
 * Savings: a target model with context-size tiers is priced call by call (the tier is chosen by each call's input,
 * not by a sum), and the policy file is refused with file, line and key.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { PriceBook } from '../../processors/pricing/price-book.js';
import { savingsLines } from '../../src/reports/savings-report.js';
import { loadSavingsPolicy } from '../../src/reports/savings-policy.js';
import { parseMonth } from '../../src/reports/report-period.js';
import { emptyLedger, insertCalls } from './helpers/ledger-fixture.js';

let dir: string;
before(async () => (dir = await mkdtemp(join(tmpdir(), 'genai-ledger-savings-'))));
after(() => rm(dir, { recursive: true, force: true }));

test('a tiered target is priced per call: each call in its own tier', async () => {
  const path = await emptyLedger(dir);
  const instance = await DuckDBInstance.create(path);
  const connection = await instance.connect();
  try {
    const at = Date.parse('2026-05-03T10:00:00Z');
    await insertCalls(connection, [
      { atMs: at, teamId: 'search', costCenter: 'CC-1', model: 'gpt-4o', inputTokens: 100_000, outputTokens: 1_000, costUsd: '0.26' },
      { atMs: at + 1000, teamId: 'search', costCenter: 'CC-1', model: 'gpt-4o-2024-08-06', inputTokens: 300_000, outputTokens: 1_000, costUsd: '0.76' },
      // Not gpt-4o: not in the rule.
      { atMs: at + 2000, teamId: 'search', costCenter: 'CC-1', model: 'gpt-4o-mini', inputTokens: 300_000, outputTokens: 1_000, costUsd: '0.0456' },
      // No cost: not compared.
      { atMs: at + 3000, teamId: 'search', costCenter: 'CC-1', model: 'gpt-4o', inputTokens: null, outputTokens: null, costUsd: null },
    ]);
    const { lines, excluded, problems } = await savingsLines(connection, {
      month: parseMonth('2026-05')!,
      policy: { version: '1.0', rules: [{ from: 'gpt-4o', to: 'gemini-2.5-pro', toProvider: 'gcp.gemini' }] },
      policyFile: 'inline',
      priceBook: await PriceBook.loadDefault(),
    });
    // gemini-2.5-pro: ≤ 200k input $1.25/M in, $10/M out; above, $2.50/M and $15/M for the whole call.
    // 100,000 × 1.25 + 1,000 × 10 = $0.135; 300,000 × 2.50 + 1,000 × 15 = $0.765. Together: $0.900
    // (priced as one 400k-token call it would be $1.03).
    assert.deepEqual(lines, [
      { teamId: 'search', from: 'gpt-4o', to: 'gemini-2.5-pro', calls: 2n, currentPicoUsd: 1_020_000_000_000n, projectedPicoUsd: 900_000_000_000n },
    ]);
    assert.equal(excluded, 1n);
    assert.deepEqual(problems, []);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
});

test('policy file: version and keys checked, problems named with their line', async () => {
  const file = join(dir, 'policy.yaml');
  await writeFile(file, 'version: "2.0"\nrules:\n  - from: gpt-4o\n    too: gpt-4o-mini\n');
  await assert.rejects(loadSavingsPolicy(file), (err: Error) => {
    assert.match(err.message, /policy\.yaml:1: version: expected version "1\.x"/);
    assert.match(err.message, /policy\.yaml:4: rules\.0\.too: unknown key/);
    return true;
  });
});
