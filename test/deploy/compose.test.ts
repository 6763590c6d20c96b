import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, posix } from 'node:path';
import { parse } from 'yaml';
import { loadLedgerConfig } from '../../src/config/ledger-config.js';
import { findTool, output, REPO_ROOT, repoPath, run } from './deploy-tools.js';

/**
 * docker-compose.yml and what it mounts, checked as far as possible without a Docker daemon: every bind
 * mount exists in the repository, the files agree with each other (ports, token path, dashboard path), a
 * real compose implementation accepts the file, and the image build compiles no test or benchmark.
 */
interface Service {
  build?: string;
  image?: string;
  command?: string[];
  entrypoint?: string[] | string;
  profiles?: string[];
  volumes?: string[];
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  environment?: Record<string, string>;
}
interface Compose {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
}

const loadCompose = async () => parse(await readFile(repoPath('docker-compose.yml'), 'utf8')) as Compose;

/** `source:target[:mode]` of a short-syntax volume entry. */
function mount(entry: string): { source: string; target: string; readOnly: boolean } {
  const [source, target, mode] = entry.split(':');
  assert.ok(source !== undefined && target !== undefined, entry);
  return { source, target, readOnly: mode === 'ro' };
}

const ONE_SHOT_OR_TOOL = new Set(['token-init', 'demo', 'query']);

test('every file or directory docker-compose.yml mounts exists in the repository; named volumes are declared', async () => {
  const compose = await loadCompose();
  const binds: string[] = [];
  for (const [name, service] of Object.entries(compose.services)) {
    for (const entry of service.volumes ?? []) {
      const { source } = mount(entry);
      if (source.startsWith('./') || source.startsWith('../') || isAbsolute(source)) {
        assert.ok(!isAbsolute(source), `${name}: ${source} must be relative to the repository`);
        assert.ok(existsSync(join(REPO_ROOT, source)), `${name}: ${source} does not exist`);
        binds.push(source);
      } else {
        assert.ok(source in compose.volumes, `${name}: volume ${source} is not declared under volumes:`);
      }
    }
    if (service.build !== undefined) assert.ok(existsSync(join(REPO_ROOT, service.build, 'Dockerfile')), `${name}: no Dockerfile in ${service.build}`);
  }
  for (const expected of ['./deploy/prometheus', './deploy/alertmanager', './deploy/grafana/provisioning', './deploy/grafana/dashboards', './deploy/tempo/tempo.yml']) {
    assert.ok(binds.includes(expected), `${expected} is mounted`);
  }
});

test('services: health checks on every long-running service; genai-ledger non-root, checked on /readyz, forwarding to Tempo', async () => {
  const compose = await loadCompose();
  for (const required of ['genai-ledger', 'prometheus', 'alertmanager', 'grafana', 'tempo', 'datadog-agent']) {
    assert.ok(compose.services[required], `service ${required}`);
  }
  for (const [name, service] of Object.entries(compose.services)) {
    if (!ONE_SHOT_OR_TOOL.has(name)) assert.ok(service.healthcheck?.test.length, `${name} has a health check`);
  }
  const ledger = compose.services['genai-ledger']!;
  const args = ledger.command ?? [];
  const flag = (name: string) => args[args.indexOf(name) + 1];
  assert.equal(flag('--host'), '0.0.0.0');
  assert.equal(flag('--metrics-port'), '9464');
  assert.match(flag('--forward') ?? '', /^\$\{GENAI_LEDGER_FORWARD:-http:\/\/tempo:4318\}$/);
  assert.ok(ledger.ports?.every((p) => p.startsWith('127.0.0.1:')), 'published on the host loopback only');
  assert.ok(ledger.ports?.includes('127.0.0.1:9464:9464'));
  const health = ledger.healthcheck!.test.join(' ');
  assert.match(health, /^CMD node -e /, 'no curl in the slim image: node does the request');
  assert.match(health, /http:\/\/127\.0\.0\.1:9464\/readyz/);
  assert.equal(ledger.depends_on?.['token-init']?.condition, 'service_completed_successfully');

  const dockerfile = await readFile(repoPath('Dockerfile'), 'utf8');
  assert.match(dockerfile, /^USER node$/m, 'the image runs as the unprivileged node user');
  assert.match(dockerfile, /EXPOSE 4317 4318 9464/);

  const datadog = compose.services['datadog-agent']!;
  assert.deepEqual(datadog.profiles, ['datadog']);
  assert.equal(datadog.environment?.['DD_OTLP_CONFIG_RECEIVER_PROTOCOLS_GRPC_ENDPOINT'], '0.0.0.0:4317');
  assert.equal(datadog.environment?.['DD_OTLP_CONFIG_RECEIVER_PROTOCOLS_HTTP_ENDPOINT'], '0.0.0.0:4318');
  assert.equal(datadog.environment?.['DD_API_KEY'], '${DD_API_KEY:-}');
});

test('the files agree: token path, metrics port, genai-ledger config, dashboards path, data source uids', async () => {
  const compose = await loadCompose();
  const tokenFile = '/run/genai-ledger/token';
  const mountsToken = (service: string) =>
    (compose.services[service]!.volumes ?? []).map(mount).some((m) => m.source === 'ledger-token' && tokenFile.startsWith(`${m.target}/`));
  for (const service of ['token-init', 'genai-ledger', 'prometheus', 'datadog-agent', 'demo']) assert.ok(mountsToken(service), `${service} mounts the token volume`);
  assert.equal(compose.services['token-init']!.command?.at(-1), tokenFile);

  // genai-ledger's config file loads with the real loader (strict schema: unknown keys fail) and points at the token
  const configMount = (compose.services['genai-ledger']!.volumes ?? []).map(mount).find((m) => m.target === '/etc/genai-ledger')!;
  const config = await loadLedgerConfig(join(REPO_ROOT, configMount.source, 'genai-ledger.yaml'));
  assert.equal(config.receivers.otlp.auth.tokenFile, tokenFile);

  // Prometheus scrapes the metrics port with the token
  const prometheus = parse(await readFile(repoPath('deploy', 'prometheus', 'prometheus.yml'), 'utf8')) as {
    scrape_configs: { job_name: string; authorization?: { credentials_file?: string }; static_configs: { targets: string[] }[] }[];
  };
  const job = prometheus.scrape_configs.find((j) => j.job_name === 'genai-ledger')!;
  assert.deepEqual(job.static_configs[0]!.targets, ['genai-ledger:9464']);
  assert.equal(job.authorization?.credentials_file, tokenFile);

  // the Datadog Agent's OpenMetrics check scrapes the same endpoint with the same token
  const openmetrics = parse(await readFile(repoPath('deploy', 'datadog', 'conf.d', 'openmetrics.d', 'conf.yaml'), 'utf8')) as {
    instances: { openmetrics_endpoint: string; auth_token: { reader: { path: string } } }[];
  };
  assert.equal(openmetrics.instances[0]!.openmetrics_endpoint, 'http://genai-ledger:9464/metrics');
  assert.equal(openmetrics.instances[0]!.auth_token.reader.path, tokenFile);

  // Grafana loads the dashboards from where compose mounts them, and they only use provisioned data sources
  const provider = parse(await readFile(repoPath('deploy', 'grafana', 'provisioning', 'dashboards', 'genai-ledger.yml'), 'utf8')) as {
    providers: { options: { path: string } }[];
  };
  const grafanaMounts = (compose.services['grafana']!.volumes ?? []).map(mount);
  assert.ok(grafanaMounts.some((m) => m.source === './deploy/grafana/dashboards' && m.target === provider.providers[0]!.options.path));
  const datasources = parse(await readFile(repoPath('deploy', 'grafana', 'provisioning', 'datasources', 'genai-ledger.yml'), 'utf8')) as {
    datasources: { uid: string; type: string; url: string }[];
  };
  const uids = new Map(datasources.datasources.map((d) => [d.uid, d]));
  assert.equal(uids.get('prometheus')?.url, 'http://prometheus:9090');
  assert.equal(uids.get('tempo')?.url, 'http://tempo:3200');
  assert.equal(uids.get('genai-ledger-sql')?.url, 'genai-ledger:5433');
  for (const file of ['ai-spend.json', 'genai-ledger-health.json']) {
    const text = await readFile(repoPath('deploy', 'grafana', 'dashboards', file), 'utf8');
    for (const m of text.matchAll(/"uid": "([^"]+)"/g)) {
      if (m[1] === '-- Grafana --' || m[1]!.startsWith('genai-ledger-')) continue; // built-in annotations, dashboard uids
      assert.ok(uids.has(m[1]!), `${file}: data source ${m[1]} is not provisioned`);
    }
  }
  const home = compose.services['grafana']!.environment?.['GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH'] ?? '';
  assert.equal(posix.dirname(home), provider.providers[0]!.options.path);
  assert.ok(existsSync(repoPath('deploy', 'grafana', 'dashboards', posix.basename(home))));
});

test('a real compose implementation accepts docker-compose.yml (every profile)', async () => {
  const v1 = findTool('docker-compose');
  let command: string;
  let prefix: string[];
  if (v1 !== null) {
    command = v1;
    prefix = [];
  } else {
    const docker = findTool('docker');
    const plugin = docker === null ? null : await run(docker, ['compose', 'version']);
    if (docker === null || plugin === null || plugin.code !== 0) {
      throw new Error('neither docker-compose nor the docker compose plugin is installed: install it: apt-get install -y docker-compose');
    }
    command = docker;
    prefix = ['compose'];
  }
  for (const profile of [[], ['--profile', 'datadog', '--profile', 'tools']]) {
    const r = await run(command, [...prefix, '-f', 'docker-compose.yml', ...profile, 'config', '-q'], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, output(r));
  }
});

test('the image build compiles only what runs: no test, test helper or benchmark', async () => {
  const tsc = repoPath('node_modules', 'typescript', 'bin', 'tsc');
  const r = await run(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--listFilesOnly'], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, output(r));
  const ours = r.stdout.split('\n').filter((f) => f !== '' && !f.includes('/node_modules/')).map((f) => f.slice(REPO_ROOT.length + 1));
  assert.ok(ours.includes('src/cli/main.ts'));
  assert.ok(ours.includes('exporters/prometheus/metrics-server.ts'));
  assert.deepEqual(ours.filter((f) => /(^|\/)(test|bench|testing)\/|\.test\.ts$/.test(f)), []);

  const dockerfile = await readFile(repoPath('Dockerfile'), 'utf8');
  assert.match(dockerfile, /tsc -p tsconfig\.build\.json/);
  assert.doesNotMatch(dockerfile, /COPY (test|bench) /);
  const ignored = (await readFile(repoPath('.dockerignore'), 'utf8')).split('\n').map((l) => l.trim());
  for (const entry of ['node_modules', 'dist', '**/*.duckdb', '**/*.userid.key', '.git', 'test', 'bench']) {
    assert.ok(ignored.includes(entry), `.dockerignore keeps ${entry} out`);
  }
});

test('token-init: writes GENAI_LEDGER_TOKEN, otherwise keeps the token or generates one; refuses a weak token', async () => {
  const script = repoPath('deploy', 'genai-ledger', 'init-token.mjs');
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-token-'));
  const file = join(dir, 'token');
  const env = (token?: string) => ({ ...process.env, GENAI_LEDGER_TOKEN: token ?? '' });
  try {
    let r = await run(process.execPath, [script, file], { env: env() });
    assert.equal(r.code, 0, output(r));
    const generated = (await readFile(file, 'utf8')).trim();
    assert.match(generated, /^[0-9a-f]{48}$/);
    assert.equal((await stat(file)).mode & 0o777, 0o644);

    r = await run(process.execPath, [script, file], { env: env() });
    assert.equal((await readFile(file, 'utf8')).trim(), generated, 'kept across restarts');

    r = await run(process.execPath, [script, file], { env: env('my-own-token-0123456789') });
    assert.equal(r.code, 0, output(r));
    assert.equal(await readFile(file, 'utf8'), 'my-own-token-0123456789\n');

    r = await run(process.execPath, [script, file], { env: env('short') });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /at least 16 characters/);
    assert.equal(await readFile(file, 'utf8'), 'my-own-token-0123456789\n', 'unchanged');

    await writeFile(file, '');
    r = await run(process.execPath, [script, file], { env: env() });
    assert.match((await readFile(file, 'utf8')).trim(), /^[0-9a-f]{48}$/, 'an empty file gets a token');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
