/**
 * Report output: money printed exactly or to the cent, CSV and Markdown escaping; and a property of the shared
 * allocation: whatever the costs, it adds up to the shared total to the pico-dollar, each team's part within one
 * pico-dollar of its exact proportion.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DuckDBInstance } from '@duckdb/node-api';
import { createLedgerStatements } from '../../exporters/duckdb/schema.js';
import { formatReport, formatUsdCents, formatUsdMicros, type Report } from '../../src/reports/report-table.js';
import { chargebackSql } from '../../src/reports/report-sql.js';
import { queryRows } from '../../src/reports/ledger-reader.js';
import { formatPicoUsd } from '../../processors/pricing/decimal.js';
import { insertCalls } from './helpers/ledger-fixture.js';

test('money: cents half away from zero with separators; micro-dollars; exact in json and csv', () => {
  assert.equal(formatUsdCents(1_234_567_005_000_000_000n), '1,234,567.01');
  assert.equal(formatUsdCents(4_999_999_999n), '0.00');
  assert.equal(formatUsdCents(5_000_000_000n), '0.01');
  assert.equal(formatUsdCents(-5_000_000_000n), '-0.01');
  assert.equal(formatUsdCents(-4_000_000_000n), '0.00');
  assert.equal(formatUsdMicros(5_555_023_019n), '0.005555');
  const report: Report = {
    kind: 'test',
    title: 'T',
    parameters: { a: 'b' },
    sections: [
      {
        name: 's',
        title: 'S',
        columns: [
          { key: 'name', kind: 'text' },
          { key: 'usd', kind: 'usd' },
          { key: 'share', kind: 'ratio' },
          { key: 'tags', kind: 'list' },
        ],
        rows: [['a, "b" | c', 1_500_000_000_001n, 0.25, ['x', 'y']]],
        totals: ['TOTAL', 1_500_000_000_001n, 1, null],
      },
    ],
    notes: ['n'],
  };
  assert.equal(formatReport(report, 'csv'), 'name,usd,share,tags\r\n"a, ""b"" | c",1.500000000001,0.25,x;y\r\nTOTAL,1.500000000001,1,\r\n');
  const json = JSON.parse(formatReport(report, 'json')) as { sections: { s: { rows: unknown[]; totals: unknown } } };
  assert.deepEqual(json.sections.s.rows, [{ name: 'a, "b" | c', usd: '1.500000000001', share: 0.25, tags: ['x', 'y'] }]);
  assert.match(formatReport(report, 'markdown'), /\| a, "b" \\\| c \| \$1\.50 \| 25\.0% \| x, y \|/);
  assert.match(formatReport(report, 'table'), /TOTAL\s+\|\s+1\.50 \| 100\.0%/);
});

test('property: the shared allocation adds up to the shared cost exactly, in proportion to team cost', async () => {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run(createLedgerStatements('test', new Date()).join(';\n'));
    await connection.run(`INSERT INTO genai_teams VALUES ('shared-team', 'CC-S', NULL, NULL, 'shared', MAP {}, 1, TIMESTAMPTZ '2020-01-01 00:00:00+00', NULL, NULL, NULL, 'x')`);
    // One call costs less than $1,000,000 (DECIMAL(18,12)).
    const pico = fc.bigInt({ min: 1n, max: 10n ** 18n - 1n });
    await fc.assert(
      fc.asyncProperty(fc.array(pico, { minLength: 1, maxLength: 12 }), pico, async (teamCosts, sharedCost) => {
        await connection.run('DELETE FROM genai_calls');
        const at = Date.parse('2026-05-03T00:00:00Z');
        await insertCalls(connection, [
          ...teamCosts.map((c, i) => ({ atMs: at, teamId: `t${i}`, costCenter: 'CC-1', costUsd: formatPicoUsd(c) })),
          { atMs: at, teamId: 'shared-team', costCenter: 'CC-S', costUsd: formatPicoUsd(sharedCost) },
        ]);
        const rows = await queryRows(connection, chargebackSql({ dims: ['team_id'], allocationPer: 'all' }));
        const teamRows = rows.filter((r) => r['bucket'] === 'team');
        const total = teamCosts.reduce((a, b) => a + b, 0n);
        let sum = 0n;
        for (const r of teamRows) {
          const share = r['shared_allocation_usd'] as bigint;
          const cost = r['cost_usd'] as bigint;
          sum += share;
          const exactTimesTotal = sharedCost * cost;
          // |share − shared × cost / total| < 1 pico-dollar
          const diff = share * total - exactTimesTotal;
          assert.ok(diff < total && diff > -total, `team ${String(r['team_id'])}: ${share} for ${cost}/${total} of ${sharedCost}`);
        }
        assert.equal(sum, sharedCost);
        assert.equal(rows.find((r) => r['bucket'] === 'shared')!['shared_allocation_usd'], null);
      }),
      { numRuns: 40 },
    );
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
});
