/**
 * "The FinOps month", end to end: the seed's April and May traffic (src/reports/testing/finops-month-seed.ts) is
 * made by the OpenTelemetry SDK and sent over real OTLP/HTTP to a running genai-ledger with the mapping tables
 * of examples/finops-month/; the mapping tables are recorded into the ledger as the server does at start; then the
 * `genai-ledger report` CLI reads the file. Every amount is checked to the pico-dollar against the hand-computed
 * list-price figures in the seed's comment.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { runCli } from '../helpers/cli-process.js';
import { FINOPS_MONTH_SEED } from '../../src/reports/testing/finops-month-seed.js';
import { loadMappingTables } from '../../processors/attribution/mapping-tables.js';
import { recordMappingTables } from '../../src/reports/record-mapping-tables.js';
import { sendSeed } from './helpers/seed-traffic.js';

const EXAMPLES = path.resolve(fileURLToPath(import.meta.url), '../../../../examples/finops-month');
const teamsFile = path.join(EXAMPLES, 'teams.csv');
const servicesFile = path.join(EXAMPLES, 'services.csv');

let server: TestServer;

before(async () => {
  server = await startTestServer({ attribution: { teamsFile, servicesFile } });
  await sendSeed(server.httpUrl, FINOPS_MONTH_SEED);
  await server.server.shutdown();
  // The serving process recorded the mapping tables at start (recordMappingTables); doing it again with the
  // same files records nothing new.
  const instance = await DuckDBInstance.create(server.dbPath);
  try {
    const connection = await instance.connect();
    const tables = await loadMappingTables({ teamsFile, servicesFile });
    const recorded = await recordMappingTables(connection, tables, new Date());
    assert.deepEqual(recorded, { teams: { outcome: 'unchanged', version: 1 }, services: { outcome: 'unchanged', version: 1 } });
    connection.closeSync();
  } finally {
    instance.closeSync();
  }
});

after(async () => {
  await server?.close();
  if (server !== undefined) await rm(server.dir, { recursive: true, force: true });
});

interface JsonReport {
  sections: Record<string, { rows: Record<string, unknown>[]; totals: Record<string, unknown> | null }>;
}

async function report(...args: string[]): Promise<JsonReport> {
  const { code, stdout, stderr } = await runCli(['report', ...args, '--db', server.dbPath, '--format', 'json']);
  assert.equal(code, 0, stderr);
  return JSON.parse(stdout) as JsonReport;
}

const usd = (n: number) => `${n}.000000000000`;

test('variance May against April: every line and the total, exact', async () => {
  const r = await report('variance', '--month', '2026-05');
  const lines = r.sections['lines']!.rows.map((l) => [l['bucket'], l['team_id'], l['previous_usd'], l['current_usd'], l['delta_usd'], l['driver']]);
  assert.deepEqual(lines, [
    ['team', 'support-ops', usd(1900), usd(5470), usd(3570), 'cost per call'],
    ['team', 'growth', usd(2300), usd(2710), usd(410), 'volume and cost per call'],
    ['team', 'data-platform', usd(3800), usd(3800), usd(0), 'flat'],
    ['shared', 'incident-response', usd(0), usd(2000), usd(2000), 'new'],
    ['unattributed', '(unattributed)', usd(200), usd(620), usd(420), 'volume'],
  ]);
  const totals = r.sections['lines']!.totals!;
  assert.equal(totals['previous_usd'], usd(8200));
  assert.equal(totals['current_usd'], usd(14600));
  assert.equal(totals['delta_usd'], usd(6400));

  const support = r.sections['lines']!.rows[0]!;
  // 1,900 → 2,735 calls at $1.00 → $2.00 a call: volume (835 × $1.00) and cost per call (2,735 × $1.00).
  assert.equal(support['previous_calls'], 1900);
  assert.equal(support['current_calls'], 2735);
  assert.equal(support['volume_effect_usd'], usd(835));
  assert.equal(support['cost_per_call_effect_usd'], usd(2735));
  assert.equal(support['share_of_change'], 3570 / 6400);
  assert.equal(support['models_moved'], 'gpt-4o +$3,570.00');
  assert.equal(r.sections['lines']!.rows[1]!['models_moved'], 'gpt-4o-mini +$210.00; gpt-4o +$200.00');

  const summary = r.sections['summary']!.rows.map((s) => String(s['line']));
  assert.match(summary[0]!, /^support-ops: \$1,900\.00 → \$5,470\.00 /);
  assert.match(summary[1]!, /^growth: \$2,300\.00 → \$2,710\.00 /);
  assert.match(summary[2]!, /^data-platform: \$3,800\.00 → \$3,800\.00 \(\$0\.00, flat/);
  assert.match(summary[3]!, /^incident-response \(shared\): \$0\.00 → \$2,000\.00 /);
  assert.match(summary[4]!, /^\(unattributed\): \$200\.00 → \$620\.00 /);
  assert.equal(summary[5], 'total: $8,200.00 → $14,600.00 (+$6,400.00, +78.0%)');
});

test('the same numbers are in the ledger view genai_variance_monthly', async () => {
  const { code, stdout, stderr } = await runCli([
    'query',
    '--db',
    server.dbPath,
    '--format',
    'csv',
    `SELECT bucket, team_id, previous_usd, current_usd FROM genai_variance_monthly WHERE "month" = DATE '2026-05-01'`,
  ]);
  assert.equal(code, 0, stderr);
  assert.deepEqual(stdout.trim().split('\r\n'), [
    'bucket,team_id,previous_usd,current_usd',
    'team,support-ops,1900.000000000000,5470.000000000000',
    'team,growth,2300.000000000000,2710.000000000000',
    'team,data-platform,3800.000000000000,3800.000000000000',
    'shared,incident-response,0.000000000000,2000.000000000000',
    'unattributed,,200.000000000000,620.000000000000',
  ]);
});

test('chargeback May: three buckets apart, coverage, shared allocation as its own column', async () => {
  const r = await report('chargeback', '--month', '2026-05', '--by', 'team_id', '--allocate-shared');
  const lines = r.sections['lines']!.rows.map((l) => [l['bucket'], l['team_id'], l['calls'], l['cost_usd'], l['shared_allocation_usd']]);
  // $2,000 shared spread over 11,980 of team usage: 5470/11980, 2710/11980, 3800/11980 of it, to the pico-dollar.
  assert.deepEqual(lines, [
    ['team', 'support-ops', 2735, usd(5470), '913.188647746244'],
    ['team', 'data-platform', 1900, usd(3800), '634.390651085142'],
    ['team', 'growth', 6000, usd(2710), '452.420701168614'],
    ['shared', 'incident-response', 1000, usd(2000), null],
    ['unattributed', null, 620, usd(620), null],
  ]);
  assert.equal(r.sections['lines']!.totals!['shared_allocation_usd'], usd(2000));
  assert.equal(r.sections['lines']!.totals!['cost_usd'], usd(14600));
  assert.equal(r.sections['lines']!.totals!['coverage'], 13980 / 14600);
  assert.deepEqual(
    r.sections['buckets']!.rows.map((b) => [b['bucket'], b['cost_usd']]),
    [
      ['team', usd(11980)],
      ['shared', usd(2000)],
      ['unattributed', usd(620)],
    ],
  );
});

test('exceptions May: the unattributed batch job is routed to platform with its service, route and API key alias', async () => {
  const r = await report('exceptions', '--month', '2026-05', '--owner', 'platform');
  const rows = r.sections['queue']!.rows;
  assert.equal(rows.length, 1);
  const line = rows[0]!;
  assert.deepEqual(
    [line['owner'], line['reason'], line['service'], line['route'], line['api_key_alias'], line['calls'], line['estimated_cost_usd']],
    ['platform', 'missing_team', 'legacy-batch', 'POST /batch/classify', 'batch-classifier-key', 620, usd(620)],
  );
  assert.equal(line['first_seen'], '2026-05-01T00:00:00.000Z');
});

test('savings May: gpt-4o → gpt-4o-mini for support-ops and growth, at list prices computed by hand', async () => {
  const r = await report('savings', '--month', '2026-05', '--policy', path.join(EXAMPLES, 'savings-policy.yaml'));
  const lines = r.sections['lines']!.rows.map((l) => [l['team_id'], l['calls'], l['current_usd'], l['projected_usd'], l['savings_usd']]);
  // support-ops: 2,735 calls of 400k in + 100k out: gpt-4o-mini 400,000 × $0.15/M + 100,000 × $0.60/M = $0.12 a call.
  // growth: 2,500 gpt-4o calls of 200k in + 50k out: $0.06 a call on gpt-4o-mini (its gpt-4o-mini calls do not match).
  assert.deepEqual(lines, [
    ['support-ops', 2735, usd(5470), '328.200000000000', '5141.800000000000'],
    ['growth', 2500, usd(2500), usd(150), usd(2350)],
  ]);
  assert.equal(r.sections['lines']!.totals!['savings_usd'], '7491.800000000000');
});

test('table and markdown formats print the same lines for people', async () => {
  const table = await runCli(['report', 'variance', '--db', server.dbPath, '--month', '2026-05']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /support-ops\s+\|\s+1,900\.00 \|\s+5,470\.00 \|/);
  assert.match(table.stdout, /TOTAL\s+\|\s+\|\s+8,200\.00 \|\s+14,600\.00 \|/);
  const md = await runCli(['report', 'variance', '--db', server.dbPath, '--month', '2026-05', '--format', 'markdown']);
  assert.equal(md.code, 0, md.stderr);
  assert.match(md.stdout, /\| team \| support-ops \| \$1,900\.00 \| \$5,470\.00 \| \+?\$3,570\.00 \|/);
  assert.match(md.stdout, /total: \$8,200\.00 → \$14,600\.00/);
});
