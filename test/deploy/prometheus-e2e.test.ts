import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse, stringify } from 'yaml';
import type { LedgerRow } from '../../core/ledger-row.js';
import { BearerTokenVerifier } from '../../src/security/bearer-auth.js';
import { LedgerMetrics, type LedgerGauges } from '../../exporters/prometheus/ledger-metrics.js';
import { MetricsServer } from '../../exporters/prometheus/metrics-server.js';
import { picoUsdToNumber } from '../../exporters/prometheus/usd.js';
import { ledgerRow } from '../../exporters/prometheus/testing/rows.js';
import { repoPath, requireTool } from './deploy-tools.js';
import { freePort, PromApi, startPrometheus } from './prometheus-process.js';

/**
 * The real Prometheus binary scraping a real MetricsServer + LedgerMetrics (what genai-ledger serves once
 * wired), with the genai-ledger scrape job taken from deploy/prometheus/prometheus.yml and the real rule
 * files loaded. Proves: the cost totals Prometheus stores equal the rows fed; every PromQL expression of
 * the dashboards and the rules evaluates; every dashboard query returns data; a 10× tokens-per-call spike
 * shows as 10× on the dashboard's panel query; every rule evaluates with health "ok".
 */
const TOKEN = 'e2e-token-0123456789abcdef';

test('real Prometheus: scrape, cost totals, every dashboard and rule expression, tokens-per-call spike', { timeout: 240_000 }, async (t) => {
  const prometheusBin = requireTool('prometheus', 'apt-get install -y prometheus');
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-prometheus-'));
  const cleanup: (() => Promise<void>)[] = [() => rm(dir, { recursive: true, force: true })];
  t.after(async () => {
    for (const step of cleanup.reverse()) await step(); // Prometheus first, the temp dir last
  });

  // ---- the genai-ledger side: metrics fed with rows, served with a bearer token
  const rows: LedgerRow[] = [];
  const metrics = new LedgerMetrics({ processMetrics: true });
  const feed = (batch: LedgerRow[]) => {
    rows.push(...batch);
    metrics.recordRows(batch);
    metrics.commitSucceeded(0.002 + batch.length / 10_000, batch.length);
    metrics.spansReceived('http', batch.length * 2);
  };
  metrics.setSources({
    ledgerGauges: async (): Promise<LedgerGauges> => ({
      monthToDate: monthToDate(rows),
      budgets: [
        { teamId: 'search', costCenter: 'CC-1001', budgetUsd: '5000' },
        { teamId: 'support-bot', costCenter: 'CC-1002', budgetUsd: '12000.00' },
      ],
      openExceptions: rows.filter((r) => r.attributionStatus !== 'attributed').length,
      ledgerFileBytes: 1_048_576,
    }),
    inFlightBytes: () => 0,
    readiness: () => [{ name: 'listeners', ok: true }],
  });
  metrics.addForwarder('tempo', () => ({ queuedBytes: 0, sentSpans: rows.length, failedSpans: 0, droppedSpans: 0 }));
  metrics.setConfigInfo('prices', 'genai-prices@0.1.8');
  metrics.setConfigInfo('teams', 'sha256:0123');
  const server = new MetricsServer({ port: 0 }, { registry: metrics.registry, verifier: new BearerTokenVerifier([TOKEN]) });
  await server.start();
  cleanup.push(() => server.shutdown());

  feed([
    ledgerRow({ teamId: 'search', costCenter: 'CC-1001', requestCostPicoUsd: 1_234_567_890_123n }),
    ledgerRow({ teamId: 'search', costCenter: 'CC-1001', model: 'gpt-4.1', requestCostPicoUsd: 987_654_321n }),
    ledgerRow({ teamId: 'support-bot', costCenter: 'CC-1002', service: 'support-bot', provider: 'anthropic', model: 'claude-sonnet-4', requestCostPicoUsd: 42_000_000_000_001n }),
    ledgerRow({ teamId: null, costCenter: null, projectId: null, service: 'orphan', attributionStatus: 'missing_team', exceptions: ['missing_team'], requestCostPicoUsd: 3_300_000_000_000n }),
    ledgerRow({ teamId: 'growth', costCenter: null, service: 'checkout', attributionStatus: 'missing_cost_center', exceptions: ['missing_cost_center'], requestCostPicoUsd: 1n }),
    ledgerRow({ teamId: 'finance', costCenter: 'CC-1005', model: 'acme-7b', attributionStatus: 'unpriced_model', exceptions: ['unpriced_model'], requestCostPicoUsd: null }),
  ]);

  // ---- Prometheus with the genai-ledger job from the repository's config, 1 s intervals, the real rules
  const repoConfig = parse(await readFile(repoPath('deploy', 'prometheus', 'prometheus.yml'), 'utf8')) as {
    scrape_configs: { job_name: string; authorization?: { credentials_file?: string }; static_configs: { targets: string[] }[] }[];
  };
  const job = repoConfig.scrape_configs.find((j) => j.job_name === 'genai-ledger');
  assert.ok(job?.authorization?.credentials_file, 'the genai-ledger job sends the bearer token');
  await writeFile(join(dir, 'token'), `${TOKEN}\n`);
  job.authorization.credentials_file = join(dir, 'token');
  job.static_configs = [{ targets: [`127.0.0.1:${server.address!.port}`] }];
  const rulesDir = repoPath('deploy', 'prometheus', 'rules');
  const ruleFiles = (await readdir(rulesDir)).filter((f) => /\.ya?ml$/.test(f)).map((f) => join(rulesDir, f));
  await writeFile(join(dir, 'prometheus.yml'), stringify({
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    rule_files: ruleFiles,
    scrape_configs: [job],
  }));
  const port = await freePort();
  const prom = startPrometheus(prometheusBin, ['--config.file', join(dir, 'prometheus.yml'), '--storage.tsdb.path', join(dir, 'data'), `--web.listen-address=127.0.0.1:${port}`]);
  cleanup.push(() => prom.stop());
  const api = new PromApi(`http://127.0.0.1:${port}`, prom);
  await api.waitFor('Prometheus ready', async () => (await fetch(`${api.base}/-/ready`).catch(() => null))?.ok === true);
  await api.waitFor('two scrapes of genai-ledger', async () => {
    const r = await api.query('count_over_time(genai_ledger_ready[1m])');
    return r.length === 1 && Number(r[0]!.value[1]) >= 2;
  });

  // ---- steady traffic, then the same calls with 10× the tokens
  const steady = () => ledgerRow({ teamId: 'search', costCenter: 'CC-1001', model: 'spike-model', requestCostPicoUsd: 1_000_000_000n });
  const tenfold = () => ledgerRow({
    teamId: 'search', costCenter: 'CC-1001', model: 'spike-model', requestCostPicoUsd: 10_000_000_000n,
    inputTokens: 10_000, cachedInputTokens: 2000, cacheWriteTokens: 1000, outputTokens: 3000, reasoningTokens: 500, totalTokens: 13_000,
  });
  const normalEnd = await trickle(steady, feed, 7000);
  const spikeEnd = await trickle(tenfold, feed, 7000);
  await api.waitFor('the spike scraped', async () => {
    const r = await api.query('sum(genai_ledger_calls_total{model="spike-model"})');
    return r.length === 1 && Number(r[0]!.value[1]) === rows.filter((x) => x.model === 'spike-model').length;
  });

  // ---- what Prometheus stores equals the rows fed, per team (NULL team = the group without team_id)
  const byTeam = await api.query('sum by (team_id) (genai_ledger_cost_usd_total)');
  const expected = new Map<string, bigint>();
  for (const r of rows) expected.set(r.teamId ?? '', (expected.get(r.teamId ?? '') ?? 0n) + (r.requestCostPicoUsd ?? 0n));
  assert.deepEqual(byTeam.map((s) => s.metric['team_id'] ?? '').sort(), [...expected.keys()].sort());
  for (const s of byTeam) {
    const want = picoUsdToNumber(expected.get(s.metric['team_id'] ?? '')!);
    const got = Number(s.value[1]);
    assert.ok(Math.abs(got - want) <= 1e-12 * Math.max(1, Math.abs(want)), `team "${s.metric['team_id'] ?? ''}": ${got} vs ${want}`);
  }

  // ---- every dashboard query and variable evaluates and returns data; the rules' expressions evaluate
  const dashboards = await loadDashboardQueries();
  assert.ok(dashboards.length > 30, `${dashboards.length} dashboard queries`);
  for (const q of dashboards) {
    const result = await api.query(promql(q.expr), undefined, `${q.where}: ${q.expr}`);
    assert.ok(result.length > 0, `no data for ${q.where}:\n${promql(q.expr)}`);
  }
  const rules = await loadRuleExpressions(ruleFiles);
  assert.ok(rules.length >= 13);
  for (const r of rules) await api.query(r.expr, undefined, r.where);

  // ---- the tokens-per-call panel shows the spike as 10×
  const panel = dashboards.find((q) => q.where.includes('Tokens per call by model'));
  assert.ok(panel, 'the AI spend dashboard has a tokens-per-call-by-model panel');
  const perCall = async (at: number) => {
    const result = await api.query(promql(panel.expr, '4s'), at / 1000, 'tokens per call');
    const s = result.find((x) => x.metric['model'] === 'spike-model');
    assert.ok(s, `spike-model at ${new Date(at).toISOString()}: ${JSON.stringify(result)}`);
    return Number(s.value[1]);
  };
  const before = await perCall(normalEnd);
  const during = await perCall(spikeEnd);
  assert.ok(Math.abs(before - 1300) < 1e-6, `normal calls: 1300 tokens each, got ${before}`);
  assert.ok(Math.abs(during - 13_000) < 1e-6, `spike: 13000 tokens per call (10×, visible on the panel), got ${during}`);

  // ---- every rule is evaluated by Prometheus without error
  await api.waitFor('every rule evaluated', async () => (await api.rules()).every((r) => r.lastEvaluation !== '0001-01-01T00:00:00Z'));
  const evaluated = await api.rules();
  assert.equal(evaluated.length, rules.length);
  for (const r of evaluated) assert.equal(r.health, 'ok', `${r.name}: ${r.lastError ?? ''}`);
});

/** Month-to-date rows as the ledger's SQL would give them: per (team, cost center), DECIMAL text. */
function monthToDate(rows: readonly LedgerRow[]): LedgerGauges['monthToDate'] {
  const sums = new Map<string, { teamId: string | null; costCenter: string | null; pico: bigint }>();
  for (const r of rows) {
    const key = `${r.teamId ?? '\u0000'}|${r.costCenter ?? '\u0000'}`;
    const s = sums.get(key) ?? { teamId: r.teamId, costCenter: r.costCenter, pico: 0n };
    s.pico += r.requestCostPicoUsd ?? 0n;
    sums.set(key, s);
  }
  return [...sums.values()].map((s) => ({ teamId: s.teamId, costCenter: s.costCenter, costUsd: decimalText(s.pico) }));
}

const decimalText = (pico: bigint) => `${pico / 10n ** 12n}.${(pico % 10n ** 12n).toString().padStart(12, '0')}`;

/** Feeds one row every 250 ms for `ms`; returns the time of the last one. */
async function trickle(row: () => LedgerRow, feed: (batch: LedgerRow[]) => void, ms: number): Promise<number> {
  const end = Date.now() + ms;
  let last = Date.now();
  while (Date.now() < end) {
    feed([row()]);
    last = Date.now();
    await sleep(250);
  }
  return last;
}

/** A dashboard expression with Grafana's variables replaced as a Prometheus query needs them. */
function promql(expr: string, rateInterval = '1m'): string {
  return expr
    .replaceAll('$__rate_interval', rateInterval)
    .replaceAll('$__interval', '15s')
    .replaceAll('$__range', '1h')
    .replace(/\$\{(\w+)(:\w+)?\}|\$(\w+)/g, '.*');
}

interface Query {
  where: string;
  expr: string;
}

/** Every panel target and every query variable of every dashboard (label_values(m, l) → group by (l) (m)). */
async function loadDashboardQueries(): Promise<Query[]> {
  const dir = repoPath('deploy', 'grafana', 'dashboards');
  const out: Query[] = [];
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.json'))) {
    const d = JSON.parse(await readFile(join(dir, file), 'utf8')) as Dashboard;
    const panels = d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
    // Prometheus targets only: the SQL panels (datasource genai-ledger-sql) are checked in test/sql/dashboard-sql.test.ts.
    for (const p of panels) for (const t of p.targets ?? []) if (t.expr !== undefined) out.push({ where: `${file} "${p.title}" ${t.refId}`, expr: t.expr });
    for (const v of d.templating.list) {
      const m = /^label_values\((.+),\s*(\w+)\)$/.exec(v.definition ?? '');
      if (m !== null) out.push({ where: `${file} variable $${v.name}`, expr: `group by (${m[2]}) (${m[1]})` });
    }
  }
  return out;
}

interface Dashboard {
  panels: { title: string; panels?: Dashboard['panels']; targets?: { refId: string; expr?: string }[] }[];
  templating: { list: { name: string; definition?: string }[] };
}

async function loadRuleExpressions(files: readonly string[]): Promise<Query[]> {
  const out: Query[] = [];
  for (const file of files) {
    const doc = parse(await readFile(file, 'utf8')) as { groups: { rules: { alert?: string; record?: string; expr: string }[] }[] };
    for (const g of doc.groups) for (const r of g.rules) out.push({ where: `rule ${r.alert ?? r.record}`, expr: r.expr });
  }
  return out;
}

