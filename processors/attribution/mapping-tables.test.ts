import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadMappingTables, MappingFileError, parseServicesCsv, parseTeamsCsv } from './mapping-tables.js';

const EXAMPLES = path.resolve(fileURLToPath(import.meta.url), '../../../../examples');

/** The error message lines thrown by `fn`. */
function errorLines(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof MappingFileError, `expected MappingFileError, got ${String(err)}`);
    return err.message.split('\n');
  }
  assert.fail('expected a MappingFileError');
}

test('teams: parses required, optional and extra columns, trimming values', () => {
  const teams = parseTeamsCsv(
    '\uFEFFTeam_ID , cost_center,owner,monthly_budget_usd,Slack Channel\r\n' +
      ' search , CC-1001 ,"Raman, Priya",12000, #search \r\n' +
      'growth,CC-1004,,,\r\n',
    'teams.csv',
  );
  assert.deepEqual([...teams.keys()], ['search', 'growth']);
  assert.deepEqual(teams.get('search'), {
    teamId: 'search',
    costCenter: 'CC-1001',
    owner: 'Raman, Priya',
    monthlyBudgetUsd: '12000',
    allocation: 'direct',
    extra: { 'Slack Channel': '#search' },
    line: 2,
  });
  assert.deepEqual(teams.get('growth'), {
    teamId: 'growth',
    costCenter: 'CC-1004',
    owner: null,
    monthlyBudgetUsd: null,
    allocation: 'direct',
    extra: { 'Slack Channel': '' },
    line: 3,
  });
});

test('teams: the example from the brief, exact message', () => {
  const text = [
    'team_id,cost_center',
    'search,CC-1001',
    'support-bot,CC-1002',
    'growth,CC-1004',
    '',
    'finance-analytics,CC-1005',
    'ml-platform,  ',
  ].join('\n');
  assert.deepEqual(errorLines(() => parseTeamsCsv(text, 'teams.csv')), [
    'teams.csv:7: column "cost_center": empty value for team "ml-platform"',
  ]);
});

test('teams: every problem in a file is reported, one per line, with file, line and column', () => {
  const text = [
    'team_id,cost_center,owner,monthly_budget_usd', // 1
    'search,CC-1001,a@example.com,100', // 2
    ',CC-1002,b@example.com,', // 3  empty team_id
    'growth,,c@example.com,', // 4  empty cost_center
    'search,CC-1009,d@example.com,', // 5  duplicate
    'ml-platform,CC-1003,e@example.com,-50', // 6  negative budget
    'finance,CC-1005,f@example.com,1e3', // 7  not a plain decimal
    'support-bot,CC-1006', // 8  too few fields
    'ops,CC-1007,g@example.com,1,extra', // 9  too many fields
    'ok,CC-1008,"h@example.com",12.50,,', // 10 trailing empty cells: fine
    'broken,CC-2000,"unterminated,5', // 11 unterminated quote
  ].join('\n');
  assert.deepEqual(errorLines(() => parseTeamsCsv(text, 'teams.csv')), [
    'teams.csv:3: column "team_id": empty value',
    'teams.csv:4: column "cost_center": empty value for team "growth"',
    'teams.csv:5: column "team_id": duplicate team "search" (first defined on line 2)',
    'teams.csv:6: column "monthly_budget_usd": "-50" is not a non-negative decimal number (write e.g. 2500 or 2500.00)',
    'teams.csv:7: column "monthly_budget_usd": "1e3" is not a non-negative decimal number (write e.g. 2500 or 2500.00)',
    'teams.csv:8: expected 4 fields (team_id, cost_center, owner, monthly_budget_usd), found 2',
    'teams.csv:9: expected 4 fields (team_id, cost_center, owner, monthly_budget_usd), found 5',
    'teams.csv:11: column "owner": unterminated quoted field (no closing ")',
    'teams.csv:11: expected 4 fields (team_id, cost_center, owner, monthly_budget_usd), found 3',
  ]);
});

test('teams: missing required column is named (and rows are not checked against a broken header)', () => {
  assert.deepEqual(errorLines(() => parseTeamsCsv('team_id,owner\nsearch,a\n', 'teams.csv')), [
    'teams.csv:1: missing required column "cost_center" (header is: team_id, owner)',
  ]);
  assert.deepEqual(errorLines(() => parseTeamsCsv('costcenter,teamid\n', 'teams.csv')), [
    'teams.csv:1: missing required column "team_id" (header is: costcenter, teamid)',
    'teams.csv:1: missing required column "cost_center" (header is: costcenter, teamid)',
  ]);
});

test('teams: empty file, duplicate header column, value under a nameless column', () => {
  assert.deepEqual(errorLines(() => parseTeamsCsv('\n\n', 'teams.csv')), [
    'teams.csv:1: file is empty: expected a header row "team_id,cost_center"',
  ]);
  assert.deepEqual(errorLines(() => parseTeamsCsv('team_id,cost_center,TEAM_ID\nsearch,CC-1,search\n', 'teams.csv')), [
    'teams.csv:1: column "TEAM_ID": column appears twice in the header (columns 1 and 3)',
  ]);
  assert.deepEqual(errorLines(() => parseTeamsCsv('team_id,cost_center,\nsearch,CC-1,\ngrowth,CC-2,oops\n', 'teams.csv')), [
    'teams.csv:3: field 3 has a value ("oops") but its column has no header name',
  ]);
});

test('teams: unknown extra columns are allowed; header-only file is an empty table', () => {
  assert.equal(parseTeamsCsv('team_id,cost_center,notes\n', 'teams.csv').size, 0);
});

test('services: parses, optional project_id', () => {
  const services = parseServicesCsv('service,team_id,project_id\ncheckout-assistant,growth,checkout\nmodel-gateway,ml-platform,\n', 'services.csv');
  assert.deepEqual(services.get('checkout-assistant'), { service: 'checkout-assistant', teamId: 'growth', projectId: 'checkout', line: 2 });
  assert.deepEqual(services.get('model-gateway'), { service: 'model-gateway', teamId: 'ml-platform', projectId: null, line: 3 });
  assert.equal(parseServicesCsv('service,team_id\nx,y\n', 'services.csv').get('x')?.projectId, null);
});

test('services: errors, including unknown teams when the teams table is given', () => {
  const text = [
    'service,team_id,project_id', // 1
    'checkout-assistant,growth,checkout', // 2
    'search-api,serch,', // 3 unknown team
    'checkout-assistant,growth,', // 4 duplicate
    ',growth,', // 5 empty service
    'billing-bot,,', // 6 empty team
  ].join('\n');
  const knownTeams = { teamIds: new Set(['growth', 'search']), fileName: 'teams.csv' };
  assert.deepEqual(errorLines(() => parseServicesCsv(text, 'services.csv', knownTeams)), [
    'services.csv:3: column "team_id": unknown team "serch" (not in teams.csv)',
    'services.csv:4: column "service": duplicate service "checkout-assistant" (first defined on line 2)',
    'services.csv:5: column "service": empty value',
    'services.csv:6: column "team_id": empty value for service "billing-bot"',
  ]);
  // Without a teams table there is nothing to check team ids against.
  assert.deepEqual(errorLines(() => parseServicesCsv(text, 'services.csv')).length, 3);
  assert.deepEqual(errorLines(() => parseServicesCsv('team_id\n', 'services.csv')), [
    'services.csv:1: missing required column "service" (header is: team_id)',
  ]);
});

test('loadMappingTables: the shipped examples load and cross-check', async () => {
  const tables = await loadMappingTables({
    teamsFile: path.join(EXAMPLES, 'teams.csv'),
    servicesFile: path.join(EXAMPLES, 'services.csv'),
  });
  assert.deepEqual([...(tables.teams?.keys() ?? [])], ['search', 'support-bot', 'ml-platform', 'growth', 'finance-analytics']);
  assert.equal(tables.teams?.get('support-bot')?.owner, 'Alvarez, Diego <diego.alvarez@example.com>');
  assert.equal(tables.services?.get('checkout-assistant')?.teamId, 'growth');
  for (const service of tables.services?.values() ?? []) assert.ok(tables.teams?.has(service.teamId), service.service);
});

test('loadMappingTables: no files → no tables', async () => {
  assert.deepEqual(await loadMappingTables({}), { teams: null, services: null, sources: { teams: null, services: null } });
});

test('loadMappingTables: problems in both files are reported together; unreadable file named', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'genai-ledger-mapping-'));
  try {
    const teamsFile = path.join(dir, 'teams.csv');
    const servicesFile = path.join(dir, 'services.csv');
    await writeFile(teamsFile, 'team_id,cost_center\nsearch,CC-1001\ngrowth,\n');
    await writeFile(servicesFile, 'service,team_id\nsearch-api,search\ncheckout-assistant,growth\nlegacy,nobody\n');
    await assert.rejects(loadMappingTables({ teamsFile, servicesFile }), (err: unknown) => {
      assert.ok(err instanceof MappingFileError);
      assert.deepEqual(err.message.split('\n'), [
        `${teamsFile}:3: column "cost_center": empty value for team "growth"`,
        // growth is named in the teams file (its row is broken, which is reported above), so it is not unknown
        `${servicesFile}:4: column "team_id": unknown team "nobody" (not in ${teamsFile})`,
      ]);
      assert.equal(err.issues.length, 2);
      return true;
    });
    const missing = path.join(dir, 'nope.csv');
    await assert.rejects(loadMappingTables({ teamsFile: missing }), (err: unknown) => {
      assert.ok(err instanceof MappingFileError);
      assert.match(err.message, new RegExp(`^${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot read file: ENOENT`));
      return true;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('teams: the optional allocation column is direct (default) or shared; anything else is refused', () => {
  const teams = parseTeamsCsv('team_id,cost_center,Allocation\nsearch,CC-1,\nincident-response,CC-9,Shared\nsre,CC-9,direct\n', 'teams.csv');
  assert.deepEqual(
    [...teams.values()].map((t) => [t.teamId, t.allocation]),
    [
      ['search', 'direct'],
      ['incident-response', 'shared'],
      ['sre', 'direct'],
    ],
  );
  assert.deepEqual(errorLines(() => parseTeamsCsv('team_id,cost_center,allocation\nsearch,CC-1,split\n', 'teams.csv')), [
    'teams.csv:2: column "allocation": "split" is not one of direct, shared (empty means direct)',
  ]);
});

test('loadMappingTables: records each file and the SHA-256 of its bytes', async () => {
  const teamsFile = path.join(EXAMPLES, 'teams.csv');
  const tables = await loadMappingTables({ teamsFile });
  assert.equal(tables.sources?.teams?.file, teamsFile);
  assert.match(tables.sources?.teams?.sha256 ?? '', /^[0-9a-f]{64}$/);
  assert.equal(tables.sources?.services, null);
});
