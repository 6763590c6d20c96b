import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { repoPath } from './deploy-tools.js';

/**
 * The dashboards' structure: valid layout, and a panel for each question the issue asks them to answer
 * (which metric each uses). test/deploy/prometheus-e2e.test.ts runs every query against a real Prometheus.
 */
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: { refId: string; expr?: string; rawSql?: string }[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; allValue?: string }[] };
}

const load = async (file: string) => JSON.parse(await readFile(repoPath('deploy', 'grafana', 'dashboards', file), 'utf8')) as Dashboard;

for (const file of ['ai-spend.json', 'genai-ledger-health.json']) {
  test(`${file}: unique panel ids, panels inside the 24-column grid, every query panel on the Prometheus or ledger SQL data source`, async () => {
    const d = await load(file);
    assert.match(d.uid, /^genai-ledger-/);
    const ids = d.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const p of d.panels) {
      assert.ok(p.gridPos.x >= 0 && p.gridPos.w > 0 && p.gridPos.x + p.gridPos.w <= 24, `${p.title}: ${JSON.stringify(p.gridPos)}`);
      if (p.type === 'row') continue;
      if (p.datasource?.uid === 'genai-ledger-sql') {
        assert.deepEqual(p.datasource, { type: 'grafana-postgresql-datasource', uid: 'genai-ledger-sql' }, p.title);
        assert.ok((p.targets ?? []).length > 0 && p.targets!.every((t) => (t.rawSql ?? '').trim() !== ''), `${p.title} has SQL`);
        continue;
      }
      assert.deepEqual(p.datasource, { type: 'prometheus', uid: 'prometheus' }, p.title);
      assert.ok((p.targets ?? []).length > 0 && p.targets!.every((t) => (t.expr ?? '').trim() !== ''), `${p.title} has queries`);
    }
    for (const v of d.templating.list) assert.equal(v.allValue, '.*', `$${v.name}: "All" must match the empty (NULL) value too`);
  });
}

const panelFor = (d: Dashboard, title: RegExp, metric: string) => {
  const p = d.panels.find((x) => title.test(x.title));
  assert.ok(p, `a panel titled ${title}`);
  assert.ok(p.targets!.some((t) => (t.expr ?? '').includes(metric)), `${p.title} uses ${metric}`);
};

test('AI spend answers: cost by team, cost center, model, provider; budgets; unattributed and unpriced share; top models; tokens per call', async () => {
  const d = await load('ai-spend.json');
  assert.equal(d.title, 'AI spend');
  panelFor(d, /^Cost by team/, 'genai_ledger_cost_usd_total');
  panelFor(d, /^Cost by cost center/, 'genai_ledger_cost_usd_total');
  panelFor(d, /^Cost by model/, 'genai_ledger_cost_usd_total');
  panelFor(d, /^Cost by provider/, 'genai_ledger_cost_usd_total');
  panelFor(d, /share of the monthly budget/, 'genai_ledger_monthly_budget_usd');
  panelFor(d, /Month-to-date spend and budget per team/, 'genai_ledger_month_to_date_cost_usd');
  panelFor(d, /^Unattributed share/, 'team_id=""');
  panelFor(d, /^Unpriced/, 'attribution_status="unpriced_model"');
  panelFor(d, /^Top models/, 'topk(10,');
  panelFor(d, /^Tokens per call by model/, 'genai_ledger_tokens_total');
  panelFor(d, /^Tokens per call by service/, 'genai_ledger_calls_total');
  for (const v of ['team', 'cost_center', 'provider', 'model', 'environment']) assert.ok(d.templating.list.some((x) => x.name === v), `$${v}`);
});

test('genai-ledger health answers: ingest, refusals, commit latency, rows per commit, queues, forwarder outcomes, exceptions, file size', async () => {
  const d = await load('genai-ledger-health.json');
  panelFor(d, /^Spans received/, 'genai_ledger_spans_received_total');
  panelFor(d, /^Spans refused/, 'genai_ledger_spans_refused_total');
  panelFor(d, /^Commit latency/, 'genai_ledger_commit_duration_seconds_bucket');
  panelFor(d, /^Rows per commit/, 'genai_ledger_rows_per_commit');
  panelFor(d, /^Request bytes in flight/, 'genai_ledger_in_flight_bytes');
  panelFor(d, /^Forward queue size/, 'genai_ledger_forward_queue_bytes');
  panelFor(d, /^Forwarded spans by outcome/, 'genai_ledger_forward_spans_total');
  panelFor(d, /^Open exceptions/, 'genai_ledger_open_exceptions');
  panelFor(d, /^Ledger file size/, 'genai_ledger_ledger_file_bytes');
  panelFor(d, /^Commits and failures/, 'genai_ledger_commit_failures_total');
  panelFor(d, /^Ready/, 'genai_ledger_ready');
});
