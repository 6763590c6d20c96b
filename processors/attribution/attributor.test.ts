import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KeyValue } from '../../core/otlp.js';
import type { OwnershipHints } from '../genai/extract-genai-call.js';
import { Attributor, isSdkDefaultServiceName, type Ownership } from './attributor.js';
import { loadMappingTables, parseServicesCsv, parseTeamsCsv, type MappingTables } from './mapping-tables.js';

const EXAMPLES = path.resolve(fileURLToPath(import.meta.url), '../../../../examples');

const teams = parseTeamsCsv(
  ['team_id,cost_center', 'search,CC-1001', 'support-bot,CC-1002', 'ml-platform,CC-1003', 'growth,CC-1004'].join('\n'),
  'teams.csv',
);
const services = parseServicesCsv(
  [
    'service,team_id,project_id',
    'checkout-assistant,growth,checkout',
    'search-api,search,semantic-search',
    'model-gateway,ml-platform,',
    'orphan-service,ghost-team,ghost-project',
  ].join('\n'),
  'services.csv',
);
const TABLES: MappingTables = { teams, services };

const NO_HINTS: OwnershipHints = { teamId: null, projectId: null, costCenter: null, environment: null, service: null, userId: null };
const hints = (h: Partial<OwnershipHints>): OwnershipHints => ({ ...NO_HINTS, ...h });
const resource = (attrs: Record<string, string | number>): KeyValue[] =>
  Object.entries(attrs).map(([key, value]) => ({ key, value }));

interface Case {
  name: string;
  resource: Record<string, string | number>;
  hints?: Partial<OwnershipHints>;
  tables?: MappingTables;
  expected: Ownership;
}

const CASES: Case[] = [
  {
    name: 'span hint wins over resource and mapping',
    resource: { 'service.name': 'checkout-assistant', team_id: 'search', 'deployment.environment.name': 'production' },
    hints: { teamId: 'support-bot', projectId: 'helpdesk' },
    expected: {
      teamId: 'support-bot', costCenter: 'CC-1002', projectId: 'helpdesk', service: 'checkout-assistant',
      environment: 'production', attributionSource: 'span', exceptions: [],
    },
  },
  {
    name: 'resource wins over the services mapping',
    resource: { 'service.name': 'checkout-assistant', 'team.id': 'search', 'project.id': 'search-relevance' },
    expected: {
      teamId: 'search', costCenter: 'CC-1001', projectId: 'search-relevance', service: 'checkout-assistant',
      environment: null, attributionSource: 'resource', exceptions: [],
    },
  },
  {
    name: 'services mapping by service.name',
    resource: { 'service.name': 'checkout-assistant', 'deployment.environment': 'staging' },
    expected: {
      teamId: 'growth', costCenter: 'CC-1004', projectId: 'checkout', service: 'checkout-assistant',
      environment: 'staging', attributionSource: 'service_mapping', exceptions: [],
    },
  },
  {
    name: 'services mapping uses the span service hint over resource service.name',
    resource: { 'service.name': 'gateway' },
    hints: { service: 'search-api' },
    expected: {
      teamId: 'search', costCenter: 'CC-1001', projectId: 'semantic-search', service: 'search-api',
      environment: null, attributionSource: 'service_mapping', exceptions: [],
    },
  },
  {
    name: 'project: hint > resource > mapping, independently of where the team came from',
    resource: { 'service.name': 'checkout-assistant', 'app.project_id': 'from-resource' },
    hints: { teamId: 'growth' },
    expected: {
      teamId: 'growth', costCenter: 'CC-1004', projectId: 'from-resource', service: 'checkout-assistant',
      environment: null, attributionSource: 'span', exceptions: [],
    },
  },
  {
    name: 'mapping without project_id leaves project null',
    resource: { 'service.name': 'model-gateway' },
    expected: {
      teamId: 'ml-platform', costCenter: 'CC-1003', projectId: null, service: 'model-gateway',
      environment: null, attributionSource: 'service_mapping', exceptions: [],
    },
  },
  {
    name: 'environment: hint > deployment.environment.name > deployment.environment',
    resource: { 'service.name': 'search-api', 'deployment.environment.name': 'prod', 'deployment.environment': 'old' },
    hints: { environment: 'canary' },
    expected: {
      teamId: 'search', costCenter: 'CC-1001', projectId: 'semantic-search', service: 'search-api',
      environment: 'canary', attributionSource: 'service_mapping', exceptions: [],
    },
  },
  {
    name: 'no team anywhere → missing_team, nothing guessed',
    resource: { 'service.name': 'legacy-etl' },
    expected: {
      teamId: null, costCenter: null, projectId: null, service: 'legacy-etl',
      environment: null, attributionSource: null, exceptions: ['missing_team'],
    },
  },
  {
    name: 'team not in the teams table → missing_cost_center',
    resource: { 'service.name': 'x', team_id: 'data-science' },
    expected: {
      teamId: 'data-science', costCenter: null, projectId: null, service: 'x',
      environment: null, attributionSource: 'resource', exceptions: ['missing_cost_center'],
    },
  },
  {
    name: 'no teams table at all → missing_cost_center',
    resource: { 'service.name': 'checkout-assistant' },
    tables: { teams: null, services },
    expected: {
      teamId: 'growth', costCenter: null, projectId: 'checkout', service: 'checkout-assistant',
      environment: null, attributionSource: 'service_mapping', exceptions: ['missing_cost_center'],
    },
  },
  {
    name: 'a cost center on the span is ignored: FinOps owns cost centers',
    resource: { 'service.name': 'search-api' },
    hints: { costCenter: 'CC-9999' },
    expected: {
      teamId: 'search', costCenter: 'CC-1001', projectId: 'semantic-search', service: 'search-api',
      environment: null, attributionSource: 'service_mapping', exceptions: [],
    },
  },
  {
    name: 'empty and whitespace resource values count as absent; numeric ids are text',
    resource: { 'service.name': '  ', team_id: '', 'team.id': 42 },
    expected: {
      teamId: '42', costCenter: null, projectId: null, service: null,
      environment: null, attributionSource: 'resource', exceptions: ['missing_cost_center'],
    },
  },
  {
    name: 'SDK default service name is a real value (matched only if FinOps mapped it)',
    resource: { 'service.name': 'unknown_service:node' },
    expected: {
      teamId: null, costCenter: null, projectId: null, service: 'unknown_service:node',
      environment: null, attributionSource: null, exceptions: ['missing_team'],
    },
  },
  {
    name: 'no resource attributes and no tables',
    resource: {},
    tables: { teams: null, services: null },
    hints: { teamId: 'search' },
    expected: {
      teamId: 'search', costCenter: null, projectId: null, service: null,
      environment: null, attributionSource: 'span', exceptions: ['missing_cost_center'],
    },
  },
];

for (const c of CASES) {
  test(`attribute: ${c.name}`, () => {
    const attributor = new Attributor(c.tables ?? TABLES);
    const attrs = resource(c.resource);
    const h = hints(c.hints ?? {});
    assert.deepEqual(attributor.attribute(attrs, h), c.expected);
    // The hot path (resource resolved once) gives the same answer.
    assert.deepEqual(attributor.attribute(attributor.resolveResource(attrs), h), c.expected);
  });
}

test('resolveResource: first occurrence of a key wins; SDK default service flagged', () => {
  const attributor = new Attributor(TABLES);
  const res = attributor.resolveResource([
    { key: 'service.name', value: 'unknown_service' },
    { key: 'team_id', value: 'search' },
    { key: 'team_id', value: 'growth' },
  ]);
  assert.deepEqual(res, {
    teamId: 'search', projectId: null, service: 'unknown_service', serviceIsSdkDefault: true, environment: null,
  });
  assert.equal(isSdkDefaultServiceName('unknown_service:python3'), true);
  assert.equal(isSdkDefaultServiceName('unknown_service_x'), false);
  assert.equal(isSdkDefaultServiceName('checkout'), false);
});

test('each call returns a fresh exceptions array (callers may append)', () => {
  const attributor = new Attributor(TABLES);
  const res = attributor.resolveResource(resource({ 'service.name': 'legacy' }));
  const a = attributor.attribute(res, NO_HINTS);
  a.exceptions.push('missing_tokens');
  assert.deepEqual(attributor.attribute(res, NO_HINTS).exceptions, ['missing_team']);
});

test('the example mapping files attribute the demo services', async () => {
  const attributor = new Attributor(
    await loadMappingTables({ teamsFile: path.join(EXAMPLES, 'teams.csv'), servicesFile: path.join(EXAMPLES, 'services.csv') }),
  );
  const owner = (service: string) => attributor.attribute(resource({ 'service.name': service }), NO_HINTS);
  assert.deepEqual(
    ['checkout-assistant', 'support-bot', 'search-api', 'ml-batch-eval', 'finance-reports'].map((s) => [s, owner(s).teamId, owner(s).costCenter]),
    [
      ['checkout-assistant', 'growth', 'CC-1004'],
      ['support-bot', 'support-bot', 'CC-1002'],
      ['search-api', 'search', 'CC-1001'],
      ['ml-batch-eval', 'ml-platform', 'CC-1003'],
      ['finance-reports', 'finance-analytics', 'CC-1005'],
    ],
  );
  // legacy-etl is deliberately unmapped: the demo's exceptions queue shows it.
  assert.deepEqual(owner('legacy-etl').exceptions, ['missing_team']);
});
