import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { output, repoPath, requireTool, run } from './deploy-tools.js';

/**
 * The Prometheus and Alertmanager files in deploy/ checked by the real tools: promtool (config, rules with
 * every linter, rule unit tests) and amtool. A missing tool fails with the command that installs it.
 */
const INSTALL_PROMETHEUS = 'apt-get install -y prometheus';
const INSTALL_ALERTMANAGER = 'apt-get install -y prometheus-alertmanager';
const RULES_DIR = repoPath('deploy', 'prometheus', 'rules');
const TESTS_DIR = repoPath('deploy', 'prometheus', 'tests');

const yamlFiles = async (dir: string) => (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).map((f) => join(dir, f));

test('promtool check config: deploy/prometheus/prometheus.yml, and its rule files', async () => {
  const promtool = requireTool('promtool', INSTALL_PROMETHEUS);
  const config = repoPath('deploy', 'prometheus', 'prometheus.yml');
  const syntax = await run(promtool, ['check', 'config', '--syntax-only', config]);
  assert.equal(syntax.code, 0, output(syntax));

  // The full check also stats the token file, which only exists in the container (the ledger-token volume):
  // check a copy whose credentials_file points at a temporary token, rules alongside as in the container.
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-promtool-'));
  try {
    const text = await readFile(config, 'utf8');
    assert.match(text, /credentials_file: \/run\/genai-ledger\/token/);
    await writeFile(join(dir, 'token'), 'token-0123456789abcdef\n');
    await writeFile(join(dir, 'prometheus.yml'), text.replace('/run/genai-ledger/token', join(dir, 'token')));
    await cp(RULES_DIR, join(dir, 'rules'), { recursive: true });
    const full = await run(promtool, ['check', 'config', '--lint=all', '--lint-fatal', join(dir, 'prometheus.yml')]);
    assert.equal(full.code, 0, output(full));
    assert.match(full.stdout, /SUCCESS: 1 rule files found/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('promtool check rules: every rule file, all linters fatal', async () => {
  const promtool = requireTool('promtool', INSTALL_PROMETHEUS);
  const files = await yamlFiles(RULES_DIR);
  assert.ok(files.length > 0);
  const r = await run(promtool, ['check', 'rules', '--lint=all', '--lint-fatal', ...files]);
  assert.equal(r.code, 0, output(r));
});

test('promtool test rules: budget alerts fire at 75/90/100% and not below; every other alert on its condition', async () => {
  const promtool = requireTool('promtool', INSTALL_PROMETHEUS);
  const files = await yamlFiles(TESTS_DIR);
  assert.ok(files.length > 0);
  const r = await run(promtool, ['test', 'rules', ...files], { timeoutMs: 300_000 });
  assert.equal(r.code, 0, output(r));
  assert.doesNotMatch(r.stdout + r.stderr, /FAILED/);
});

test('every alert rule has a firing case in the promtool tests', async () => {
  const alerts = new Set<string>();
  for (const file of await yamlFiles(RULES_DIR)) {
    const doc = parse(await readFile(file, 'utf8')) as { groups: { rules: { alert?: string }[] }[] };
    for (const group of doc.groups) for (const rule of group.rules) if (rule.alert !== undefined) alerts.add(rule.alert);
  }
  const fired = new Set<string>();
  for (const file of await yamlFiles(TESTS_DIR)) {
    const doc = parse(await readFile(file, 'utf8')) as { tests: { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] }[] };
    for (const t of doc.tests) for (const a of t.alert_rule_test ?? []) if ((a.exp_alerts ?? []).length > 0) fired.add(a.alertname);
  }
  assert.deepEqual([...alerts].filter((a) => !fired.has(a)), [], 'alerts without a test that makes them fire');
  for (const required of ['GenAIBudget75PercentUsed', 'GenAIBudget90PercentUsed', 'GenAIBudgetExceeded', 'GenAIBudgetForecastOverrun',
    'GenAIUnattributedSpendShareHigh', 'GenAIUnpricedCalls', 'GenAILedgerRefusingLoad', 'GenAILedgerForwarderDropping', 'GenAILedgerCommitsFailing']) {
    assert.ok(alerts.has(required), `${required} is defined`);
  }
});

test('amtool check-config: deploy/alertmanager/alertmanager.yml', async () => {
  const amtool = requireTool('amtool', INSTALL_ALERTMANAGER);
  const r = await run(amtool, ['check-config', repoPath('deploy', 'alertmanager', 'alertmanager.yml')]);
  assert.equal(r.code, 0, output(r));
  assert.match(r.stdout, /SUCCESS/);
});
