/**
 * The SQL panels the AI spend dashboard ships (deploy/grafana/dashboards, data source genai-ledger-sql) run
 * through the live SQL endpoint, with Grafana's $__timeFilter macro expanded as Grafana documents it, and
 * return the ledger's rows: the monthly chargeback and the open exceptions queue.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { startLiveLedger } from '../../src/sql-endpoint/testing/live-ledger.js';
import { sampleLedgerRows } from '../../exporters/duckdb/testing/sample-rows.js';
import { repoPath } from '../deploy/deploy-tools.js';

interface Panel {
  title: string;
  datasource?: { uid: string };
  targets?: { rawSql?: string }[];
}

/** `$__timeFilter(col)` → `col BETWEEN '<from>' AND '<to>'`, the PostgreSQL data source's expansion. */
const expand = (sql: string, from: string, to: string) => sql.replace(/\$__timeFilter\(([^)]+)\)/g, (_m, col: string) => `${col} BETWEEN '${from}' AND '${to}'`);

test('the AI spend dashboard’s SQL panels answer from the ledger', async () => {
  const dashboard = JSON.parse(await readFile(repoPath('deploy', 'grafana', 'dashboards', 'ai-spend.json'), 'utf8')) as { panels: Panel[] };
  const panels = dashboard.panels.filter((p) => p.datasource?.uid === 'genai-ledger-sql');
  assert.deepEqual(panels.map((p) => p.title).sort(), ['Monthly chargeback (ledger)', 'Open exceptions (ledger)']);
  const rows = [
    ...sampleLedgerRows(3),
    ...sampleLedgerRows(2, { teamId: null, costCenter: null, attributionStatus: 'missing_team', exceptions: ['missing_team'] }, 1),
  ];
  const ledger = await startLiveLedger({ rows });
  const client = new pg.Client({ host: '127.0.0.1', port: ledger.port, user: 'grafana', database: 'genai_ledger' });
  await client.connect();
  try {
    for (const panel of panels) {
      const sql = expand(panel.targets![0]!.rawSql!, '2025-01-01T00:00:00Z', '2025-01-31T23:59:59Z');
      const result = await client.query(sql);
      assert.ok(result.rows.length > 0, `${panel.title} returns rows`);
      if (panel.title.startsWith('Monthly')) {
        assert.equal(result.rows.reduce((n, r: { calls: string }) => n + Number(r.calls), 0), 5);
      } else {
        assert.deepEqual(result.rows.map((r: { attribution_status: string; calls: string }) => [r.attribution_status, Number(r.calls)]), [['missing_team', 2]]);
      }
    }
  } finally {
    await client.end();
    await ledger.close();
  }
});
