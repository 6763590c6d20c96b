/**
 * `node dist/bench/reports-bench.js [rows]`: how long each `genai-ledger report` (and the views behind them) takes
 * on a large ledger (default 10,000,000 calls over a year: 20 teams — one of them shared — in 5 cost centers,
 * 60 services, 10 models, 3 environments, 2% unattributed, 1 model unpriced). The ledger is generated once by
 * DuckDB into a cache file under the OS temp dir and reused by later runs (delete it to regenerate). Each report
 * runs 3 times on a file opened read-only, as the CLI opens it; the table shows the fastest and the median.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { createLedgerStatements } from '../exporters/duckdb/schema.js';
import type { MappingTables, TeamRecord } from '../processors/attribution/mapping-tables.js';
import { PriceBook } from '../processors/pricing/price-book.js';
import { anomaliesReport } from '../src/reports/anomalies-report.js';
import { budgetsReport } from '../src/reports/budget-status.js';
import { chargebackReport } from '../src/reports/chargeback-report.js';
import { exceptionsReport } from '../src/reports/exceptions-report.js';
import { openReportLedger, queryRows } from '../src/reports/ledger-reader.js';
import { recordMappingTables } from '../src/reports/record-mapping-tables.js';
import { parseMonth, previousMonth, rangePeriod } from '../src/reports/report-period.js';
import { formatReport, type Report } from '../src/reports/report-table.js';
import { REPORT_VIEW_SQL } from '../src/reports/ledger-views.js';
import { savingsReport } from '../src/reports/savings-report.js';
import { varianceReport } from '../src/reports/variance-report.js';

const rows = Number(process.argv[2] ?? 10_000_000);
const START = Date.parse('2025-06-01T00:00:00Z');
const END = Date.parse('2026-06-01T00:00:00Z');
const cacheDir = join(tmpdir(), 'genai-ledger-bench');
const path = join(cacheDir, `reports-${rows}-v1.duckdb`);

const TEAMS = Array.from({ length: 20 }, (_, i) => `team-${String(i).padStart(2, '0')}`);
const MODELS: [provider: string, model: string, inputUsdPerMtok: string, outputUsdPerMtok: string][] = [
  ['openai', 'gpt-4o', '2.5', '10'],
  ['openai', 'gpt-4o-mini', '0.15', '0.6'],
  ['openai', 'gpt-4.1', '2', '8'],
  ['openai', 'gpt-4.1-mini', '0.4', '1.6'],
  ['anthropic', 'claude-sonnet-4-20250514', '3', '15'],
  ['anthropic', 'claude-3-5-haiku-20241022', '0.8', '4'],
  ['gcp.gemini', 'gemini-2.5-pro', '1.25', '10'],
  ['gcp.gemini', 'gemini-2.5-flash', '0.3', '2.5'],
  ['openai', 'o3', '2', '8'],
  ['acme', 'acme-internal-llm', '', ''],
];

const lit = (s: string) => `'${s.replaceAll("'", "''")}'`;
const list = (xs: readonly string[]) => `[${xs.map(lit).join(', ')}]`;

async function generate(): Promise<void> {
  await mkdir(cacheDir, { recursive: true });
  const tmp = `${path}.partial`;
  await rm(tmp, { force: true });
  await rm(`${tmp}.wal`, { force: true });
  const t = performance.now();
  const instance = await DuckDBInstance.create(tmp);
  try {
    const c = await instance.connect();
    await c.run(['BEGIN', ...createLedgerStatements('bench', new Date()), 'COMMIT'].join(';\n'));
    const stepUs = Math.floor(((END - START) * 1000) / rows);
    const priceIn = `[${MODELS.map((m) => (m[2] === '' ? 'NULL' : `CAST('${m[2]}' AS DECIMAL(18,12))`)).join(', ')}]`;
    const priceOut = `[${MODELS.map((m) => (m[3] === '' ? 'NULL' : `CAST('${m[3]}' AS DECIMAL(18,12))`)).join(', ')}]`;
    const services = Array.from({ length: 60 }, (_, i) => `svc-${String(i).padStart(2, '0')}`);
    // In chunks of 1M rows, in time order (so DuckDB's zone maps prune by timestamp as in a real ledger).
    for (let from = 0; from < rows; from += 1_000_000) {
      const n = Math.min(1_000_000, rows - from);
      await c.run(`INSERT INTO genai_calls ("timestamp", trace_id, span_id, provider, model, operation, team_id, cost_center, project_id,
  service, environment, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, unit_price_snapshot,
  request_cost_usd, attribution_status, exceptions, status, route, api_key_alias)
SELECT make_timestamptz(${START * 1000} + i * ${stepUs}),
  lpad(printf('%x', i), 32, '0'), lpad(printf('%x', i + 1), 16, '0'),
  ${list(MODELS.map((m) => m[0]))}[m + 1], ${list(MODELS.map((m) => m[1]))}[m + 1], 'chat',
  CASE WHEN unattributed THEN NULL ELSE ${list(TEAMS)}[s // 3 + 1] END,
  CASE WHEN unattributed THEN NULL ELSE 'CC-' || ((s // 3) % 5) END,
  'proj-' || (s // 2), ${list(services)}[s + 1], ['production', 'staging', 'dev'][CAST((h >> 40) % 3 AS INTEGER) + 1],
  input, 0, 0, output, 0, CASE WHEN m = 9 THEN NULL ELSE 'bench' END,
  CAST(input * ${priceIn}[m + 1] / 1000000 + output * ${priceOut}[m + 1] / 1000000 AS DECIMAL(18,12)),
  CASE WHEN unattributed THEN 'missing_team' WHEN m = 9 THEN 'unpriced_model' ELSE 'attributed' END,
  CASE WHEN unattributed THEN ['missing_team'] WHEN m = 9 THEN ['unpriced_model'] ELSE CAST([] AS VARCHAR[]) END,
  'ok', '/api/v' || (s % 4) || '/chat', CASE WHEN unattributed THEN 'key-' || (s % 7) END
FROM (
  SELECT i, h, CAST(h % 60 AS INTEGER) AS s, CAST((h >> 16) % 10 AS INTEGER) AS m, (h >> 8) % 50 = 0 AS unattributed,
    200 + CAST((h >> 24) % 4000 AS BIGINT) AS input, 20 + CAST((h >> 32) % 800 AS BIGINT) AS output
  FROM (SELECT range + ${from} AS i, hash(range + ${from}) AS h FROM range(${n}))
)`);
      process.stderr.write(`\rgenerated ${from + n}/${rows} rows`);
    }
    process.stderr.write('\n');
    const teams = new Map<string, TeamRecord>(
      TEAMS.map((teamId, i) => [
        teamId,
        {
          teamId,
          costCenter: `CC-${i % 5}`,
          owner: `${teamId}@example.com`,
          monthlyBudgetUsd: String(2000 + i * 100),
          allocation: i === 19 ? 'shared' : 'direct',
          extra: {},
          line: i + 2,
        },
      ]),
    );
    const tables: MappingTables = { teams, services: null };
    await recordMappingTables(c, tables, new Date(START));
    await c.run('CHECKPOINT');
    c.closeSync();
  } finally {
    instance.closeSync();
  }
  const { rename } = await import('node:fs/promises');
  await rename(tmp, path);
  console.log(`generated ${rows} rows in ${((performance.now() - t) / 1000).toFixed(0)} s → ${path} (${((await stat(path)).size / 1e6).toFixed(0)} MB)`);
}

if (!existsSync(path)) await generate();
else console.log(`reusing ${path} (${((await stat(path)).size / 1e6).toFixed(0)} MB); delete it to regenerate`);

const month = parseMonth('2026-05')!;
const asOf = Date.parse('2026-05-20T12:00:00Z');
const book = await PriceBook.loadDefault();
const ledger = await openReportLedger(path);
const [count] = await queryRows(ledger.connection, `SELECT count(*) AS n, count(*) FILTER (WHERE "timestamp" >= TIMESTAMPTZ '2026-05-01 00:00:00+00' AND "timestamp" < TIMESTAMPTZ '2026-06-01 00:00:00+00') AS may FROM genai_calls`);
console.log(`${count!['n']} calls in the ledger, ${count!['may']} in ${month.label}`);

const cases: [string, () => Promise<Report | unknown>][] = [
  ['report chargeback --month (cost_center, team_id)', () => chargebackReport(ledger.connection, { period: month, by: ['cost_center', 'team_id'], allocateShared: true })],
  ['report chargeback --month --by all 8 dims + day', () =>
    chargebackReport(ledger.connection, {
      period: month,
      by: ['day', 'cost_center', 'team_id', 'project_id', 'service', 'environment', 'provider', 'model'],
      allocateShared: false,
    })],
  ['report chargeback --from --to (a quarter)', () =>
    chargebackReport(ledger.connection, { period: rangePeriod(Date.parse('2026-03-01T00:00:00Z'), month.toMs), by: ['team_id'], allocateShared: false })],
  ['report variance --month', () => varianceReport(ledger.connection, { month, against: previousMonth(month), by: ['team_id'] })],
  ['report variance --month --against (a year back)', () => varianceReport(ledger.connection, { month, against: parseMonth('2025-06')!, by: ['team_id'] })],
  ['report exceptions --month', () => exceptionsReport(ledger.connection, ledger.shape, { period: month, owner: null })],
  ['report budgets', () => budgetsReport(ledger.connection, { month, asOfMs: asOf })],
  ['report anomalies (28 days)', () => anomaliesReport(ledger.connection, { period: rangePeriod(Date.parse('2026-04-22T00:00:00Z'), Date.parse('2026-05-20T00:00:00Z')) })],
  ['report savings --month (gpt-4o → gpt-4o-mini)', () =>
    savingsReport(ledger.connection, { month, policy: { version: '1.0', rules: [{ from: 'gpt-4o', to: 'gpt-4o-mini' }] }, policyFile: 'bench', priceBook: book })],
  // The views' SQL as this build defines it (the cached file keeps the definitions of the build that generated it).
  ['view genai_usage_daily, one month', () => queryRows(ledger.connection, `SELECT count(*) FROM (${REPORT_VIEW_SQL['genai_usage_daily']}) WHERE "month" = DATE '2026-05-01'`)],
  ['view genai_variance_monthly (every month)', () => queryRows(ledger.connection, `SELECT count(*) FROM (${REPORT_VIEW_SQL['genai_variance_monthly']})`)],
  ['view genai_budget_status', () => queryRows(ledger.connection, `SELECT count(*) FROM (${REPORT_VIEW_SQL['genai_budget_status']})`)],
];

const results: [string, number, number][] = [];
try {
  for (const [label, run] of cases) {
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      const out = await run();
      if (out !== null && typeof out === 'object' && 'sections' in (out as object)) formatReport(out as Report, 'table');
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    results.push([label, times[0]!, times[1]!]);
    process.stderr.write(`${label}: ${times[1]!.toFixed(0)} ms\n`);
  }
} finally {
  await ledger.close();
}
const width = Math.max(...results.map((r) => r[0].length));
console.log(`${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} (other work on the machine slows every figure)`);
console.log(`${'report'.padEnd(width)} | fastest ms | median ms`);
console.log(`${'-'.repeat(width)}-+------------+----------`);
for (const [label, fastest, median] of results) {
  console.log(`${label.padEnd(width)} | ${fastest.toFixed(0).padStart(10)} | ${median.toFixed(0).padStart(9)}`);
}
