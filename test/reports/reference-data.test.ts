/**
 * Reference data in the ledger: the mapping tables recorded as versions (a new one only when the content changed),
 * the bucket of a team's usage following the version in force on the day, and ledgers written by an older build:
 * opened by the exporter they get the new tables and views; opened read-only by `report` they still report.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { loadMappingTables } from '../../processors/attribution/mapping-tables.js';
import { recordMappingTables } from '../../src/reports/record-mapping-tables.js';
import { openReportLedger, queryRows } from '../../src/reports/ledger-reader.js';
import { chargebackReport } from '../../src/reports/chargeback-report.js';
import { exceptionsReport } from '../../src/reports/exceptions-report.js';
import { parseMonth } from '../../src/reports/report-period.js';
import { REPORT_VIEW_SQL } from '../../src/reports/ledger-views.js';
import { writeLedgerRows } from '../../exporters/duckdb/testing/ledger-test-utils.js';
import { sampleLedgerRow } from '../../exporters/duckdb/testing/sample-rows.js';
import { emptyLedger, insertCalls } from './helpers/ledger-fixture.js';

let dir: string;
before(async () => (dir = await mkdtemp(join(tmpdir(), 'genai-ledger-refdata-'))));
after(() => rm(dir, { recursive: true, force: true }));

async function withLedger<T>(path: string, fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
  const instance = await DuckDBInstance.create(path);
  try {
    const c = await instance.connect();
    try {
      return await fn(c);
    } finally {
      c.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

test('recordMappingTables: versions only on change, with validity, source file and hash; usage follows the version of the day', async () => {
  const path = await emptyLedger(dir, 'versions.duckdb');
  const teamsFile = join(dir, 'teams.csv');
  const servicesFile = join(dir, 'services.csv');
  await writeFile(teamsFile, 'team_id,cost_center,owner,monthly_budget_usd,allocation,slack\nsearch,CC-1,ann,100.50,,#s\nplatform,CC-9,pat,,shared,#p\n');
  await writeFile(servicesFile, 'service,team_id,project_id\nsearch-api,search,ranking\n');
  const t1 = new Date('2026-04-01T00:00:00Z');
  const t2 = new Date('2026-04-10T12:00:00Z');
  const t3 = new Date('2026-04-20T00:00:00Z');
  await withLedger(path, async (c) => {
    const first = await recordMappingTables(c, await loadMappingTables({ teamsFile, servicesFile }), t1);
    assert.deepEqual(first, { teams: { outcome: 'recorded', version: 1 }, services: { outcome: 'recorded', version: 1 } });
    // A reload of the same content — even reformatted — records nothing.
    await writeFile(teamsFile, 'team_id , cost_center,owner,monthly_budget_usd,allocation,slack\r\nplatform,CC-9,pat,,shared,#p\r\nsearch,CC-1,ann,100.50,direct,#s\r\n');
    assert.deepEqual(await recordMappingTables(c, await loadMappingTables({ teamsFile, servicesFile }), t2), {
      teams: { outcome: 'unchanged', version: 1 },
      services: { outcome: 'unchanged', version: 1 },
    });
    // platform becomes a direct team on the 20th: version 2 of the teams only.
    await writeFile(teamsFile, 'team_id,cost_center,owner,monthly_budget_usd,allocation,slack\nsearch,CC-1,ann,100.50,,#s\nplatform,CC-9,pat,,direct,#p\n');
    assert.deepEqual(await recordMappingTables(c, await loadMappingTables({ teamsFile, servicesFile }), t3), {
      teams: { outcome: 'recorded', version: 2 },
      services: { outcome: 'unchanged', version: 1 },
    });
    assert.deepEqual(await recordMappingTables(c, { teams: null, services: null }, t3), {
      teams: { outcome: 'not_configured', version: null },
      services: { outcome: 'not_configured', version: null },
    });

    const teams = await queryRows(
      c,
      `SELECT team_id, "version", allocation, monthly_budget_usd, extra['slack'] AS slack, valid_from, valid_to, source_file, length(source_sha256) AS h
       FROM genai_teams ORDER BY "version", team_id`,
    );
    assert.deepEqual(
      teams.map((t) => [t['team_id'], t['version'], t['allocation'], t['monthly_budget_usd'], t['slack'], t['valid_from'], t['valid_to'], t['source_file'], t['h']]),
      [
        ['platform', 1, 'shared', null, '#p', '2026-04-01T00:00:00.000Z', '2026-04-20T00:00:00.000Z', teamsFile, 64n],
        ['search', 1, 'direct', 100_500_000_000_000n, '#s', '2026-04-01T00:00:00.000Z', '2026-04-20T00:00:00.000Z', teamsFile, 64n],
        ['platform', 2, 'direct', null, '#p', '2026-04-20T00:00:00.000Z', null, teamsFile, 64n],
        ['search', 2, 'direct', 100_500_000_000_000n, '#s', '2026-04-20T00:00:00.000Z', null, teamsFile, 64n],
      ],
    );
    assert.deepEqual((await queryRows(c, 'SELECT team_id FROM genai_teams_current ORDER BY 1')).map((r) => r['team_id']), ['platform', 'search']);

    // platform's usage is shared before the 20th, team usage from the day the new version is in force.
    await insertCalls(c, [
      { atMs: Date.parse('2026-04-18T10:00:00Z'), teamId: 'platform', costCenter: 'CC-9', costUsd: '5' },
      { atMs: Date.parse('2026-04-21T10:00:00Z'), teamId: 'platform', costCenter: 'CC-9', costUsd: '7' },
      { atMs: Date.parse('2026-04-21T11:00:00Z'), teamId: 'search', costCenter: 'CC-1', costUsd: '3' },
    ]);
    const usage = await queryRows(c, `SELECT "day", team_id, bucket, cost_usd FROM genai_usage_daily ORDER BY "day", team_id`);
    assert.deepEqual(
      usage.map((u) => [u['day'], u['team_id'], u['bucket'], u['cost_usd']]),
      [
        ['2026-04-18', 'platform', 'shared', 5_000_000_000_000n],
        ['2026-04-21', 'platform', 'team', 7_000_000_000_000n],
        ['2026-04-21', 'search', 'team', 3_000_000_000_000n],
      ],
    );
  });
});

test('a ledger of an older build: the exporter adds the FinOps tables, views and columns when it opens it', async () => {
  const path = join(dir, 'old.duckdb');
  await writeLedgerRows(path, [sampleLedgerRow({ spanId: '1111111111111111' })]);
  await withLedger(path, async (c) => {
    await c.run(`ALTER TABLE genai_calls DROP COLUMN api_key_alias; ALTER TABLE genai_calls DROP COLUMN route;
      ALTER TABLE genai_duplicate_spans DROP COLUMN api_key_alias; ALTER TABLE genai_duplicate_spans DROP COLUMN route;
      ${Object.keys(REPORT_VIEW_SQL).map((v) => `DROP VIEW ${v};`).join(' ')}
      DROP TABLE genai_teams; DROP TABLE genai_services; DROP TABLE genai_alerts; DROP TABLE genai_alert_deliveries;`);
  });
  await writeLedgerRows(path, [sampleLedgerRow({ spanId: '2222222222222222', route: '/api/x', apiKeyAlias: 'k1' })]);
  await withLedger(path, async (c) => {
    const objects = await queryRows(
      c,
      `SELECT table_name AS name FROM duckdb_tables() WHERE table_name LIKE 'genai_%' UNION ALL SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1`,
    );
    const names = objects.map((o) => String(o['name']));
    for (const name of [...Object.keys(REPORT_VIEW_SQL), 'genai_teams', 'genai_services', 'genai_alerts', 'genai_alert_deliveries']) {
      assert.ok(names.includes(name), `${name} exists`);
    }
    const rows = await queryRows(c, `SELECT span_id, route, api_key_alias FROM genai_calls ORDER BY span_id`);
    assert.deepEqual(rows.map((r) => [r['span_id'], r['route'], r['api_key_alias']]), [
      ['1111111111111111', null, null],
      ['2222222222222222', '/api/x', 'k1'],
    ]);
  });
});

test('report on a ledger of an older build opened read-only (no genai_teams, no route columns)', async () => {
  const path = join(dir, 'old-readonly.duckdb');
  await writeLedgerRows(path, [
    sampleLedgerRow({ spanId: '3333333333333333' }),
    sampleLedgerRow({ spanId: '4444444444444444', teamId: null, costCenter: null, attributionStatus: 'missing_team', exceptions: ['missing_team'] }),
  ]);
  await withLedger(path, async (c) => {
    await c.run(`ALTER TABLE genai_calls DROP COLUMN api_key_alias; ALTER TABLE genai_calls DROP COLUMN route;
      ${Object.keys(REPORT_VIEW_SQL).map((v) => `DROP VIEW ${v};`).join(' ')} DROP TABLE genai_teams;`);
  });
  const ledger = await openReportLedger(path);
  try {
    assert.deepEqual(ledger.shape, { contextColumns: false });
    const month = parseMonth('2025-01')!;
    const chargeback = await chargebackReport(ledger.connection, { period: month, by: ['team_id'], allocateShared: false });
    assert.deepEqual(chargeback.sections[0]!.rows.map((r) => [r[0], r[1], r[2]]), [
      ['team', 'team-search', 1n],
      ['unattributed', null, 1n],
    ]);
    const exceptions = await exceptionsReport(ledger.connection, ledger.shape, { period: month, owner: null });
    const queue = exceptions.sections.find((s) => s.name === 'queue')!;
    assert.equal(queue.rows.length, 1);
    assert.equal(queue.rows[0]![queue.columns.findIndex((c) => c.key === 'route')], null);
  } finally {
    await ledger.close();
  }
});
