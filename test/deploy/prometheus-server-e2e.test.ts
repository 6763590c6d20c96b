/**
 * Issue 12 §3: the real Prometheus scrapes a real, running genai-ledger (the server's own /metrics after OTLP
 * traffic), and what it stores per team equals the ledger's own per-team sums, read with SQL from the file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startTestServer } from '../helpers/test-server.js';
import { syntheticRequest } from '../helpers/synthetic-requests.js';
import { encodeTraceRequestProtobuf } from '../../receivers/otlp/testing/encode-protobuf.js';
import { requireTool } from './deploy-tools.js';
import { freePort, PromApi, startPrometheus } from './prometheus-process.js';

test('real Prometheus scraping a running genai-ledger: cost per team equals the ledger', { timeout: 180_000 }, async (t) => {
  const prometheusBin = requireTool('prometheus', 'apt-get install -y prometheus');
  const server = await startTestServer();
  t.after(() => server.close());
  // Traffic with owned, unowned and unpriced calls (the synthetic requests carry several teams).
  for (let i = 0; i < 20; i++) {
    const res = await fetch(`${server.httpUrl}/v1/traces`, {
      method: 'POST',
      body: encodeTraceRequestProtobuf(syntheticRequest({ spans: 64, genAiShare: 0.5 })),
      headers: { 'content-type': 'application/x-protobuf' },
    });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
  }
  const metrics = server.server.listeners.find((l) => l.name === 'metrics');
  assert.ok(metrics, 'the server serves /metrics');

  await writeFile(
    join(server.dir, 'prometheus.yml'),
    stringify({
      global: { scrape_interval: '1s', evaluation_interval: '1s' },
      scrape_configs: [{ job_name: 'genai-ledger', static_configs: [{ targets: [`127.0.0.1:${metrics.port}`] }] }],
    }),
  );
  const port = await freePort();
  const prom = startPrometheus(prometheusBin, [
    '--config.file',
    join(server.dir, 'prometheus.yml'),
    '--storage.tsdb.path',
    join(server.dir, 'prometheus-data'),
    `--web.listen-address=127.0.0.1:${port}`,
  ]);
  t.after(() => prom.stop());
  const api = new PromApi(`http://127.0.0.1:${port}`, prom);
  await api.waitFor('a scrape of genai-ledger with its costs', async () => (await api.query('sum(genai_ledger_cost_usd_total)')).length === 1);

  const reader = await server.server.openReader();
  let ledger: Map<string, number>;
  let calls: number;
  try {
    const rows = (await reader.runAndReadAll(`SELECT coalesce(team_id, ''), CAST(sum(request_cost_usd) AS VARCHAR), count(*) FROM genai_calls GROUP BY 1`)).getRows();
    ledger = new Map(rows.map(([team, cost]) => [String(team), Number(cost ?? 0)]));
    calls = rows.reduce((n, r) => n + Number(r[2]), 0);
  } finally {
    reader.closeSync();
  }
  assert.ok(ledger.size >= 2, `several teams in the ledger: ${[...ledger.keys()].join(', ')}`);
  const byTeam = await api.query('sum by (team_id) (genai_ledger_cost_usd_total)');
  assert.deepEqual(byTeam.map((s) => s.metric['team_id'] ?? '').sort(), [...ledger.keys()].sort());
  for (const s of byTeam) {
    const want = ledger.get(s.metric['team_id'] ?? '')!;
    assert.ok(Math.abs(Number(s.value[1]) - want) <= 1e-9 * Math.max(1, want), `team "${s.metric['team_id'] ?? ''}": ${s.value[1]} vs ledger ${want}`);
  }
  const [scrapedCalls] = await api.query('sum(genai_ledger_calls_total)');
  assert.equal(Number(scrapedCalls!.value[1]), calls);
  // The gauges read from the ledger itself (so they survive restarts) agree with it too.
  const [monthToDate] = await api.query('sum(genai_ledger_month_to_date_cost_usd)');
  const total = [...ledger.values()].reduce((a, b) => a + b, 0);
  // (The synthetic spans start now, so all of them are in this UTC month.)
  assert.ok(Math.abs(Number(monthToDate!.value[1]) - total) <= 1e-9 * Math.max(1, total), `month to date ${monthToDate!.value[1]} vs ${total}`);
});
