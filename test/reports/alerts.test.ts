/**
 * Alerts while serving: budget thresholds crossed over several evaluations and a restart give exactly one webhook
 * request per threshold (to a local HTTP sink), deliveries are retried with backoff and survive a restart, the
 * forecast and the budget status match hand-computed figures, and the `GET /v1/budgets` handler answers.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { parseTeamsCsv } from '../../processors/attribution/mapping-tables.js';
import { recordMappingTables } from '../../src/reports/record-mapping-tables.js';
import { AlertsService } from '../../src/alerts/alerts-service.js';
import { AlertsConfig, type AlertsConfigInput } from '../../src/alerts/alerts-config.js';
import type { AlertPayload } from '../../src/alerts/alert-payload.js';
import { queryRows } from '../../src/reports/ledger-reader.js';
import { emptyLedger, insertCalls } from './helpers/ledger-fixture.js';
import { startWebhookSink, type WebhookSink } from './helpers/webhook-sink.js';

let dir: string;
let sink: WebhookSink;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'genai-ledger-alerts-'));
  sink = await startWebhookSink();
});
after(async () => {
  await sink.close();
  await rm(dir, { recursive: true, force: true });
});

const TEAMS = `team_id,cost_center,owner,monthly_budget_usd
support-ops,CC-2001,ana@example.com,1000
growth,CC-2001,sam@example.com,500
data-platform,CC-2003,mei@example.com,
`;
/** Wednesday 2026-05-20, noon UTC. */
const NOW = Date.parse('2026-05-20T12:00:00Z');
/** A clock that starts at NOW and runs (retry times must come). */
const clock = (): (() => number) => {
  const started = Date.now();
  return () => NOW + (Date.now() - started);
};
const DAY = 86_400_000;

async function openLedger(path: string): Promise<{ instance: DuckDBInstance; connection: DuckDBConnection }> {
  const instance = await DuckDBInstance.create(path);
  return { instance, connection: await instance.connect() };
}

function fastDelivery(webhooks: AlertsConfigInput['webhooks']) {
  return {
    forecast: false,
    anomalies: false,
    evaluateIntervalSeconds: 3600,
    webhooks,
    delivery: { initialBackoffSeconds: 0.05, maxBackoffSeconds: 0.2, maxAttempts: 5, timeoutSeconds: 2 },
  };
}

const bodies = () => sink.received.map((r) => r.body as AlertPayload);

test('config: defaults, strict keys, exactly one URL source', () => {
  const c = AlertsConfig.parse({});
  assert.equal(c.evaluateIntervalSeconds, 60);
  assert.deepEqual(c.budgetThresholdsPercent, [75, 90, 100]);
  assert.equal(c.forecast, true);
  assert.equal(c.anomalies, true);
  assert.deepEqual(c.webhooks, []);
  assert.equal(AlertsConfig.safeParse({ thresholds: [1] }).success, false);
  assert.equal(AlertsConfig.safeParse({ webhooks: [{ url: 'http://x.example/', urlEnv: 'X' }] }).success, false);
  assert.equal(AlertsConfig.safeParse({ webhooks: [{}] }).success, false);
  const w = AlertsConfig.parse({ webhooks: [{ urlEnv: 'SLACK_URL', format: 'slack' }] }).webhooks[0]!;
  assert.deepEqual(w, { urlEnv: 'SLACK_URL', format: 'slack', headers: {} });
});

test('thresholds: one alert per threshold and team/cost center, across evaluations and a restart', async () => {
  sink.received.length = 0;
  const path = await emptyLedger(dir, 'thresholds.duckdb');
  let { instance, connection } = await openLedger(path);
  await recordMappingTables(connection, { teams: parseTeamsCsv(TEAMS, 'teams.csv'), services: null }, new Date(NOW - 30 * DAY));
  const at = (d: number) => Date.parse(`2026-05-${String(d).padStart(2, '0')}T09:00:00Z`);
  const config = fastDelivery([{ url: sink.url, name: 'finops-hook' }]);
  const start = async () => {
    const s = new AlertsService(config, instance, { now: clock(), autoEvaluate: false });
    await s.start();
    return s;
  };

  // 70% of support-ops' $1,000: nothing yet.
  await insertCalls(connection, [{ atMs: at(4), teamId: 'support-ops', costCenter: 'CC-2001', costUsd: '700' }]);
  let service = await start();
  assert.deepEqual((await service.evaluateNow()).created, []);

  // 80%: the 75% threshold, once, however often it is evaluated.
  await insertCalls(connection, [{ atMs: at(12), teamId: 'support-ops', costCenter: 'CC-2001', costUsd: '100' }]);
  assert.deepEqual((await service.evaluateNow()).created, ['budget_threshold/team/support-ops/2026-05/75']);
  assert.deepEqual((await service.evaluateNow()).created, []);
  await sink.waitFor(1);
  await service.shutdown();

  // Restart (the file closed and opened again): nothing is sent again.
  connection.closeSync();
  instance.closeSync();
  ({ instance, connection } = await openLedger(path));
  service = await start();
  assert.deepEqual((await service.evaluateNow()).created, []);

  // 105% for support-ops (90 and 100 at once) and 81% of cost center CC-2001's $1,500 (support-ops + growth).
  await insertCalls(connection, [
    { atMs: at(18), teamId: 'support-ops', costCenter: 'CC-2001', costUsd: '250' },
    { atMs: at(19), teamId: 'growth', costCenter: 'CC-2001', costUsd: '170.5' },
  ]);
  assert.deepEqual((await service.evaluateNow()).created.sort(), [
    'budget_threshold/cost_center/CC-2001/2026-05/75',
    'budget_threshold/team/support-ops/2026-05/100',
    'budget_threshold/team/support-ops/2026-05/90',
  ]);
  await sink.waitFor(4);
  await service.evaluateNow();
  await service.shutdown();
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(sink.received.length, 4, 'exactly one request per threshold');

  const sent = bodies().map((b) => b.alert_id).sort();
  assert.deepEqual(sent, [
    'budget_threshold/cost_center/CC-2001/2026-05/75',
    'budget_threshold/team/support-ops/2026-05/100',
    'budget_threshold/team/support-ops/2026-05/75',
    'budget_threshold/team/support-ops/2026-05/90',
  ]);
  const first = bodies().find((b) => b.alert_id.endsWith('/75') && b.scope === 'team')!;
  assert.equal(first.kind, 'budget_threshold');
  assert.equal(first.team_id, 'support-ops');
  assert.equal(first.cost_center, 'CC-2001');
  assert.equal(first.month, '2026-05');
  assert.equal(first.threshold_percent, 75);
  assert.equal(first.month_to_date_usd, '800.000000000000');
  assert.equal(first.budget_usd, '1000.000000000000');
  assert.equal(first.percent_used, 80);
  assert.equal(first.owner, 'ana@example.com');
  assert.ok('forecast_usd' in first);
  const cc = bodies().find((b) => b.scope === 'cost_center')!;
  assert.equal(cc.month_to_date_usd, '1220.500000000000');
  assert.equal(cc.budget_usd, '1500.000000000000');
  assert.equal(cc.team_id, null);

  const rows = await queryRows(connection, `SELECT alert_id, delivery_status FROM genai_alerts ORDER BY alert_id`);
  assert.deepEqual(rows.map((r) => r['delivery_status']), ['delivered', 'delivered', 'delivered', 'delivered']);
  connection.closeSync();
  instance.closeSync();
});

test('delivery: a failing webhook is retried with backoff, visible in stats, and resumed after a restart', async () => {
  sink.received.length = 0;
  sink.refused = 0;
  const path = await emptyLedger(dir, 'retries.duckdb');
  const { instance, connection } = await openLedger(path);
  await recordMappingTables(connection, { teams: parseTeamsCsv(TEAMS, 'teams.csv'), services: null }, new Date(NOW - 30 * DAY));
  await insertCalls(connection, [{ atMs: NOW - DAY, teamId: 'growth', costCenter: 'CC-2001', costUsd: '400' }]);
  const logs: string[] = [];
  const config = { ...fastDelivery([{ url: sink.url, name: 'generic' }]), budgetThresholdsPercent: [75] };

  // Two failures, then delivered: three attempts, one request received.
  sink.failNext(2);
  let service = new AlertsService(config, () => instance.connect(), { now: clock(), log: (l, m) => logs.push(`${l} ${m}`) });
  await service.start();
  await sink.waitFor(1);
  await new Promise((r) => setTimeout(r, 50));
  let stats = service.stats;
  assert.equal(stats.webhooks[0]!.failedAttempts, 2);
  assert.equal(stats.webhooks[0]!.delivered, 1);
  assert.equal(stats.webhooks[0]!.healthy, true);
  assert.equal(sink.refused, 2);
  assert.ok(logs.some((l) => l.startsWith('warn alerts: webhook generic is failing: HTTP 500')), logs.join('\n'));
  let [delivery] = await queryRows(connection, `SELECT status, attempts, last_error FROM genai_alert_deliveries`);
  assert.deepEqual([delivery!['status'], delivery!['attempts'], delivery!['last_error']], ['delivered', 3, 'HTTP 500']);

  // The webhook goes down; two new alerts (support-ops at 80%, and so cost center CC-2001 at 80% of $1,500) keep
  // failing until shutdown...
  sink.setDown(true);
  await insertCalls(connection, [{ atMs: NOW - DAY, teamId: 'support-ops', costCenter: 'CC-2001', costUsd: '800' }]);
  await service.evaluateNow();
  await new Promise((r) => setTimeout(r, 300));
  stats = service.stats;
  assert.equal(stats.webhooks[0]!.healthy, false);
  assert.ok(stats.webhooks[0]!.consecutiveFailures >= 2);
  assert.equal(stats.webhooks[0]!.lastError, 'HTTP 500');
  await service.shutdown();
  assert.equal(sink.received.length, 1);

  // ...and are delivered, once each, by the next process when the webhook is back.
  sink.setDown(false);
  service = new AlertsService(config, instance, { now: clock() });
  await service.start();
  await sink.waitFor(3);
  await service.evaluateNow();
  await new Promise((r) => setTimeout(r, 200));
  await service.shutdown();
  assert.deepEqual(bodies().map((b) => b.alert_id).sort(), [
    'budget_threshold/cost_center/CC-2001/2026-05/75',
    'budget_threshold/team/growth/2026-05/75',
    'budget_threshold/team/support-ops/2026-05/75',
  ]);
  [delivery] = await queryRows(connection, `SELECT count(*) FILTER (WHERE status = 'delivered') AS delivered, count(*) AS n FROM genai_alert_deliveries`);
  assert.equal(Number(delivery!['delivered']), Number(delivery!['n']));
  connection.closeSync();
  instance.closeSync();
});

test('forecast and budget status: weekday-aware month-end forecast, hand-computed; slack format; /v1/budgets', async () => {
  sink.received.length = 0;
  const path = await emptyLedger(dir, 'forecast.duckdb');
  const { instance, connection } = await openLedger(path);
  await recordMappingTables(
    connection,
    { teams: parseTeamsCsv('team_id,cost_center,owner,monthly_budget_usd\ngrowth,CC-2002,sam@example.com,200\n', 'teams.csv'), services: null },
    new Date(NOW - 60 * DAY),
  );
  // Every day from April 1: $10 on weekdays, $2 on weekends, at 00:00 UTC.
  const calls = [];
  for (let t = Date.parse('2026-04-01T00:00:00Z'); t <= Date.parse('2026-05-20T00:00:00Z'); t += DAY) {
    const dow = new Date(t).getUTCDay();
    calls.push({ atMs: t, teamId: 'growth', costCenter: 'CC-2002', costUsd: dow === 0 || dow === 6 ? '2' : '10' });
  }
  await insertCalls(connection, calls);
  const urlFile = join(dir, 'slack-url');
  await writeFile(urlFile, `${sink.url}\n`);
  const service = new AlertsService(
    { ...fastDelivery([{ urlFile, format: 'slack' }]), forecast: true, budgetThresholdsPercent: [75, 90] },
    instance,
    { now: () => NOW, autoEvaluate: false },
  );
  await service.start();
  const created = (await service.evaluateNow()).created.sort();
  // Month to date (May 1–20: 14 weekdays × $10 + 6 weekend days × $2) = $152 = 76% of $200.
  // Forecast: $152 + half of Wednesday at $10 + 7 weekdays × $10 + 4 weekend days × $2 (May 21–31) = $152 + $5 + $78 = $235.
  // (Rates from the 28 complete days April 22 – May 19: 20 weekdays × $10 / 20, 8 weekend days × $2 / 8.)
  // The cost center CC-2002 (growth alone, the same budget) crosses the same lines.
  assert.deepEqual(created, [
    'budget_forecast/cost_center/CC-2002/2026-05',
    'budget_forecast/team/growth/2026-05',
    'budget_threshold/cost_center/CC-2002/2026-05/75',
    'budget_threshold/team/growth/2026-05/75',
  ]);
  await sink.waitFor(4);
  const texts = sink.received.map((r) => (r.body as { text: string }).text).filter((t) => t.includes('Team growth')).sort();
  assert.deepEqual(texts, [
    ':chart_with_upwards_trend: genai-ledger: Team growth (CC-2002) is forecast to spend $235.00 in May 2026, over its budget of $200.00 ' +
      '($152.00 month to date, 11 day(s) left). Owner: sam@example.com.',
    ':warning: genai-ledger: Team growth (CC-2002) has used 76% of its May 2026 budget of $200.00: $152.00 month to date; ' +
      'month-end forecast $235.00 (threshold 75%). Owner: sam@example.com.',
  ]);

  const all = await service.budgetsHandler('/v1/budgets');
  assert.equal(all?.status, 200);
  const body = all!.body as { month: string; teams: Record<string, unknown>[]; cost_centers: Record<string, unknown>[] };
  assert.equal(body.month, '2026-05');
  assert.deepEqual(body.teams, [
    {
      month: '2026-05',
      scope: 'team',
      team_id: 'growth',
      cost_center: 'CC-2002',
      owner: 'sam@example.com',
      budget_usd: '200.000000000000',
      month_to_date_usd: '152.000000000000',
      percent_used: 76,
      forecast_usd: '235.000000000000',
      forecast_percent: 117.5,
      days_left: 11,
      status: 'forecast_over_budget',
      as_of: '2026-05-20T12:00:00.000Z',
    },
  ]);
  assert.equal(body.cost_centers[0]!['budget_usd'], '200.000000000000');
  const one = await service.budgetsHandler('/v1/budgets/growth?x=1');
  assert.equal(one?.status, 200);
  assert.equal((one!.body as { team: { forecast_usd: string } }).team.forecast_usd, '235.000000000000');
  assert.equal((await service.budgetsHandler('/v1/budgets/nobody'))?.status, 404);
  assert.equal(await service.budgetsHandler('/metrics'), null);
  await service.shutdown();
  await service.shutdown();
  connection.closeSync();
  instance.closeSync();
});

test('start refuses a webhook whose urlEnv is not set; shutdown without start is safe', async () => {
  const instance = await DuckDBInstance.create(':memory:');
  const service = new AlertsService({ webhooks: [{ urlEnv: 'GENAI_LEDGER_TEST_NO_SUCH_VAR' }] }, instance, { env: {} });
  await assert.rejects(service.start(), /alerts\.webhooks\[0\]\.urlEnv: environment variable GENAI_LEDGER_TEST_NO_SUCH_VAR is not set/);
  await service.shutdown();
  await new AlertsService({}, instance).shutdown();
  instance.closeSync();
});
