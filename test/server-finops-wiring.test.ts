/**
 * Issue 14 wired into `serve`: the mapping tables are written into the ledger as versioned reference tables
 * (again on reload, only when they changed), the budget status answers on the metrics port at /v1/budgets,
 * and the alerts service has evaluated the ledger into genai_alerts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startTestServer, TEAMS_CSV } from './helpers/test-server.js';
import { syntheticRequest } from './helpers/synthetic-requests.js';
import { encodeTraceRequestProtobuf } from '../receivers/otlp/testing/encode-protobuf.js';

test('serve records reference data, serves /v1/budgets and evaluates alerts', async () => {
  const server = await startTestServer();
  try {
    const res = await fetch(`${server.httpUrl}/v1/traces`, {
      method: 'POST',
      body: encodeTraceRequestProtobuf(syntheticRequest({ spans: 100, genAiShare: 1 })),
      headers: { 'content-type': 'application/x-protobuf' },
    });
    assert.equal(res.status, 200);
    await res.arrayBuffer();

    const metrics = server.server.listeners.find((l) => l.name === 'metrics')!;
    const budgets = await fetch(`http://127.0.0.1:${metrics.port}/v1/budgets`);
    assert.equal(budgets.status, 200);
    const body = (await budgets.json()) as { teams: { team_id: string; budget_usd: string | number | null }[] };
    const search = body.teams.find((t) => t.team_id === 'search');
    assert.ok(search, JSON.stringify(body).slice(0, 500));
    assert.equal(Number(search.budget_usd), 5000);
    assert.equal((await fetch(`http://127.0.0.1:${metrics.port}/v1/budgets/no-such-team`)).status, 404);

    const count = async (sql: string) => {
      const reader = await server.server.openReader();
      try {
        return Number((await reader.runAndReadAll(sql)).getRows()[0]![0]);
      } finally {
        reader.closeSync();
      }
    };
    assert.equal(await count('SELECT count(*) FROM genai_teams WHERE valid_to IS NULL'), 3, 'the teams in force');
    // A reload with the same content records nothing; a changed file records a new version.
    await server.server.reloadMappings();
    assert.equal(await count('SELECT count(DISTINCT valid_from) FROM genai_teams'), 1);
    await writeFile(join(server.dir, 'teams.csv'), `${TEAMS_CSV}platform,CC-1009,dana@example.com,800\n`);
    await server.server.reloadMappings();
    assert.equal(await count('SELECT count(*) FROM genai_teams WHERE valid_to IS NULL'), 4);
    assert.ok((await count('SELECT count(*) FROM genai_teams WHERE valid_to IS NOT NULL')) >= 3, 'the old version is closed, not overwritten');
    // The alerts service runs on the ledger: a team over its (tiny) budget alerts at 75, 90 and 100% once.
    const reader = await server.server.openReader();
    let team: string;
    try {
      const rows = (await reader.runAndReadAll(`SELECT team_id FROM genai_calls WHERE team_id IS NOT NULL AND request_cost_usd > 0 LIMIT 1`)).getRows();
      team = String(rows[0]![0]);
    } finally {
      reader.closeSync();
    }
    const others = TEAMS_CSV.split('\n').filter((line) => line !== '' && !line.startsWith(`${team},`)).join('\n');
    await writeFile(join(server.dir, 'teams.csv'), `${others}\n${team},CC-1,owner@example.com,0.000001\n`);
    await server.server.reloadMappings();
    const alerts = server.server.alertsService!;
    await alerts.evaluateNow();
    await alerts.evaluateNow();
    const thresholds = `SELECT count(*) FROM genai_alerts WHERE kind = 'budget_threshold' AND team_id = '${team}'`;
    assert.equal(await count(thresholds), 3, 'one alert per threshold, not one per evaluation');
    const scrape = await (await fetch(`http://127.0.0.1:${metrics.port}/metrics`)).text();
    assert.match(scrape, /genai_ledger_config_info\{kind="teams",version="sha256:[0-9a-f]{64}"\} 1/);
  } finally {
    await server.close();
  }
});
