/**
 * Anomalies: three months of synthetic traffic with weekly seasonality (Monday busiest, weekends at a third) and
 * ±10% day-to-day noise, with one planted day where one team's calls to one model use 10× the tokens per call.
 * That day is found — for the team, its service and the model — and nothing else is (a baseline that ignored the
 * weekday would call every weekend a drop). Then a new model and an unattributed jump are found too.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { findAnomalies, anomaliesReport } from '../../src/reports/anomalies-report.js';
import { parseMonth, rangePeriod } from '../../src/reports/report-period.js';
import { formatReport } from '../../src/reports/report-table.js';
import { emptyLedger, insertCalls, type FixtureCall } from './helpers/ledger-fixture.js';

const DAY = 86_400_000;
/** Calls per weekday, Sunday first: a weekly cycle. */
const WEEK = [0.3, 1.1, 1.0, 1.0, 0.95, 0.9, 0.35];
const PLANTED = '2026-05-13';

/** A small deterministic PRNG (mulberry32), so the noise is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function traffic(): FixtureCall[] {
  const random = prng(42);
  const noise = () => 0.9 + 0.2 * random();
  const calls: FixtureCall[] = [];
  const combos = [
    { teamId: 'search', service: 'search-api', model: 'gpt-4o-mini' },
    { teamId: 'search', service: 'search-api', model: 'claude-sonnet-4' },
    { teamId: 'support', service: 'support-bot', model: 'gpt-4o-mini' },
    { teamId: 'support', service: 'support-bot', model: 'claude-sonnet-4' },
  ];
  for (let t = Date.parse('2026-03-01T00:00:00Z'); t < Date.parse('2026-06-01T00:00:00Z'); t += DAY) {
    const day = new Date(t).toISOString().slice(0, 10);
    for (const c of combos) {
      const n = Math.round(60 * WEEK[new Date(t).getUTCDay()]! * noise());
      let tokens = Math.round(1000 * noise());
      if (day === PLANTED && c.teamId === 'support' && c.model === 'claude-sonnet-4') tokens *= 10;
      // $10 per million tokens: cost follows tokens.
      const cost = (tokens * 10) / 1_000_000;
      for (let i = 0; i < n; i++) {
        calls.push({ atMs: t + 3_600_000 + i * 60_000, ...c, costCenter: 'CC-1', costUsd: cost.toFixed(6), inputTokens: tokens - 100, outputTokens: 100 });
      }
    }
  }
  return calls;
}

let dir: string;
let instance: DuckDBInstance;
let connection: DuckDBConnection;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'genai-ledger-anomalies-'));
  const path = await emptyLedger(dir);
  instance = await DuckDBInstance.create(path);
  connection = await instance.connect();
  await insertCalls(connection, traffic());
});
after(async () => {
  connection.closeSync();
  instance.closeSync();
  await rm(dir, { recursive: true, force: true });
});

const may = parseMonth('2026-05')!;

test('a month with weekly seasonality and noise: only the planted 10× tokens-per-call day is found', async () => {
  const findings = await findAnomalies(connection, { period: may });
  assert.ok(findings.length > 0, 'the planted day is found');
  assert.deepEqual([...new Set(findings.map((f) => f.day))], [PLANTED], JSON.stringify(findings, null, 1));
  const found = (dimension: string, entity: string, metric: string) =>
    findings.find((f) => f.dimension === dimension && f.entity === entity && f.metric === metric);
  for (const [dimension, entity] of [
    ['team_id', 'support'],
    ['service', 'support-bot'],
    ['model', 'claude-sonnet-4'],
  ] as const) {
    const f = found(dimension, entity, 'tokens_per_call');
    assert.ok(f !== undefined, `${dimension} ${entity}: tokens per call`);
    assert.equal(f.finding, 'spike');
    // Half of the team's (or model's) calls at 10×: about 5.5× the usual tokens per call.
    assert.ok(f.factor !== null && f.factor > 4 && f.factor < 7, `factor ${f.factor}`);
    assert.ok(f.baseline > 900 && f.baseline < 1100, `baseline ${f.baseline}`);
    assert.ok(f.baselineDays >= 15, 'weekdays of the last 28 days');
    assert.ok(found(dimension, entity, 'cost_usd') !== undefined, `${dimension} ${entity}: cost`);
  }
  assert.equal(found('team_id', 'search', 'tokens_per_call'), undefined, 'the other team is quiet');
  assert.equal(found('model', 'gpt-4o-mini', 'tokens_per_call'), undefined, 'the other model is quiet');
});

test('a new model and a jump of the unattributed share are found on their day', async () => {
  await insertCalls(connection, [
    // A model never called before, a little traffic.
    ...Array.from({ length: 5 }, (_, i): FixtureCall => ({
      atMs: Date.parse('2026-05-20T10:00:00Z') + i * 1000, teamId: 'search', service: 'search-api', costCenter: 'CC-1', model: 'gpt-5-nano', costUsd: '0.001',
    })),
    // On the 27th (a Wednesday) a job without a team spends about as much as all the teams together.
    ...Array.from({ length: 40 }, (_, i): FixtureCall => ({
      atMs: Date.parse('2026-05-27T10:00:00Z') + i * 1000, teamId: null, service: 'legacy-batch', model: 'gpt-4o-mini', costUsd: '0.06', route: 'POST /batch',
    })),
  ]);
  const findings = await findAnomalies(connection, { period: rangePeriod(Date.parse('2026-05-14T00:00:00Z'), may.toMs) });
  const summary = findings.map((f) => [f.day, f.finding, f.dimension, f.entity, f.metric]);
  assert.deepEqual(summary, [
    ['2026-05-20', 'new_model', 'model', 'gpt-5-nano', 'cost_usd'],
    ['2026-05-27', 'spike', 'all', 'unattributed', 'unattributed_share'],
    // The job's $2.40 triples that model's day too: a real finding.
    ['2026-05-27', 'spike', 'model', 'gpt-4o-mini', 'cost_usd'],
  ]);
  const share = findings[1]!;
  assert.equal(share.baseline, 0);
  assert.ok(share.observed > 0.4 && share.observed < 0.6, `share ${share.observed}`);
  const report = formatReport(await anomaliesReport(connection, { period: may }), 'table');
  assert.match(report, /2026-05-13 \| spike\s+\| team_id\s+\| support\s+\| tokens_per_call/);
});
