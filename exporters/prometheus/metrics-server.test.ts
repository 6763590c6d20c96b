import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { BearerTokenVerifier } from '../../src/security/bearer-auth.js';
import { LedgerMetrics } from './ledger-metrics.js';
import { MetricsServer } from './metrics-server.js';
import { PrometheusExporterConfig } from './prometheus-config.js';
import { ledgerReadiness, type LedgerReadinessState } from './readiness.js';
import { parseExposition, sampleOf } from './testing/exposition.js';
import { ledgerRow } from './testing/rows.js';

const TOKEN = 'metrics-token-0123456789';

async function started(options: { token?: boolean; state?: () => LedgerReadinessState } = {}) {
  const metrics = new LedgerMetrics({ processMetrics: false });
  const readiness = options.state === undefined ? undefined : ledgerReadiness(options.state);
  metrics.setSources(readiness === undefined ? {} : { readiness });
  const server = new MetricsServer(
    { port: 0 },
    { registry: metrics.registry, readiness, verifier: options.token === true ? new BearerTokenVerifier([TOKEN]) : null },
  );
  await server.start();
  const base = `http://127.0.0.1:${server.address!.port}`;
  return { metrics, server, base };
}

test('/metrics over a real socket: Prometheus text format with its content type', async () => {
  const { metrics, server, base } = await started();
  try {
    metrics.recordRows([ledgerRow()]);
    const res = await fetch(`${base}/metrics`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const e = parseExposition(await res.text());
    assert.equal(sampleOf(e, 'genai_ledger_cost_usd_total', { team_id: 'search' }).text, '0.00123456789');
    const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    const post = await fetch(`${base}/metrics`, { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    assert.equal((await fetch(`${base}/nope`)).status, 404);
  } finally {
    await server.shutdown();
  }
});

test('/healthz is 200 while the process runs; /readyz is 200 only when every check passes, else 503 with the reasons', async () => {
  let state: LedgerReadinessState = { listenersUp: false, ledgerOpen: true, ledgerCommitting: true, refusingLoad: false };
  const { server, base } = await started({ state: () => state });
  try {
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    let res = await fetch(`${base}/readyz`);
    assert.equal(res.status, 503);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    let body = (await res.json()) as { status: string; reasons: string[] };
    assert.equal(body.status, 'not ready');
    assert.deepEqual(body.reasons, ['listeners: the OTLP receivers are not listening']);

    state = { listenersUp: true, ledgerOpen: true, ledgerCommitting: false, refusingLoad: true };
    res = await fetch(`${base}/readyz`);
    body = (await res.json()) as { status: string; reasons: string[] };
    assert.equal(res.status, 503);
    assert.equal(body.reasons.length, 2);
    assert.match(body.reasons[0]!, /^commits: /);
    assert.match(body.reasons[1]!, /^load: refusing load/);
    const gauge = parseExposition(await (await fetch(`${base}/metrics`)).text());
    assert.equal(sampleOf(gauge, 'genai_ledger_ready').value, 0, 'the gauge tells the same story');

    state = { listenersUp: true, ledgerOpen: true, ledgerCommitting: true, refusingLoad: false };
    res = await fetch(`${base}/readyz`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { status: string }).status, 'ready');
  } finally {
    await server.shutdown();
  }
});

test('a readiness probe that throws or hangs means not ready', async () => {
  const metrics = new LedgerMetrics({ processMetrics: false });
  const server = new MetricsServer({ port: 0 }, { registry: metrics.registry, readiness: () => { throw new Error('ledger closed'); } });
  await server.start();
  try {
    const res = await fetch(`http://127.0.0.1:${server.address!.port}/readyz`);
    assert.equal(res.status, 503);
    assert.deepEqual(((await res.json()) as { reasons: string[] }).reasons, ['probe: ledger closed']);
  } finally {
    await server.shutdown();
  }
});

test('bearer token guards /metrics and added routes, never the probes', async () => {
  const { server, base } = await started({ token: true });
  try {
    server.addRoute('/v1/budgets', (_req, res, url) => {
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ path: url.pathname, team: url.searchParams.get('team') }));
    });
    server.addRoute('/public', (_req, res) => {
      res.end('hi');
    }, { public: true });
    const unauth = await fetch(`${base}/metrics`);
    assert.equal(unauth.status, 401);
    assert.equal(unauth.headers.get('www-authenticate'), 'Bearer');
    assert.equal((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status, 401);
    const auth = { authorization: `Bearer ${TOKEN}` };
    assert.equal((await fetch(`${base}/metrics`, { headers: auth })).status, 200);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/readyz`)).status, 200);
    assert.equal((await fetch(`${base}/v1/budgets`)).status, 401);
    const budgets = await fetch(`${base}/v1/budgets/search?team=search`, { headers: auth });
    assert.deepEqual(await budgets.json(), { path: '/v1/budgets/search', team: 'search' });
    assert.equal((await fetch(`${base}/v1/budgetsX`, { headers: auth })).status, 404, 'a prefix matches whole path segments');
    assert.equal(await (await fetch(`${base}/public`)).text(), 'hi');
    assert.throws(() => server.addRoute('/metrics', () => {}), /served by the metrics server itself/);
    assert.throws(() => server.addRoute('/v1/budgets/', () => {}), /already registered/);
  } finally {
    await server.shutdown();
  }
});

test('a throwing route answers 500 and the server keeps serving', async () => {
  const { server, base } = await started();
  try {
    server.addRoute('/boom', () => {
      throw new Error('kaput');
    });
    const res = await fetch(`${base}/boom`);
    assert.equal(res.status, 500);
    assert.match(await res.text(), /kaput/);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
  } finally {
    await server.shutdown();
  }
});

test('lifecycle: shutdown without start, twice; disabled does not listen; a taken port is a clear error', async () => {
  const metrics = new LedgerMetrics({ processMetrics: false });
  const idle = new MetricsServer({}, { registry: metrics.registry });
  await idle.shutdown();
  await idle.shutdown();

  const disabled = new MetricsServer({ enabled: false, port: 0 }, { registry: metrics.registry });
  await disabled.start();
  assert.equal(disabled.address, null);

  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as { port: number }).port;
  try {
    const clash = new MetricsServer({ port }, { registry: metrics.registry });
    await assert.rejects(clash.start(), new RegExp(`metrics server: cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
    await clash.shutdown();
  } finally {
    blocker.close();
  }

  const { server, base } = await started();
  const keepAlive = await fetch(`${base}/healthz`);
  assert.equal(keepAlive.status, 200);
  await server.shutdown();
  await server.shutdown();
  await assert.rejects(fetch(`${base}/healthz`));
});

test('config: strict, defaults to 127.0.0.1:9464, one block feeds both classes', () => {
  const config = PrometheusExporterConfig.parse({});
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.port, 9464);
  assert.equal(config.enabled, true);
  assert.equal(config.maxSeriesPerMetric, 2000);
  assert.throws(() => PrometheusExporterConfig.parse({ prot: 1 }), /prot/);
  assert.throws(() => PrometheusExporterConfig.parse({ maxSeries: { genai_ledger_nope: 5 } }));
  const parsed = PrometheusExporterConfig.parse({ port: 0, maxSeries: { genai_ledger_calls_total: 10 } });
  new LedgerMetrics({ ...parsed, processMetrics: false });
  new MetricsServer(parsed, { registry: new LedgerMetrics({ processMetrics: false }).registry });
});
