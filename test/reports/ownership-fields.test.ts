/**
 * Each ownership field resolved on its own up the trace (DESIGN.md, Ownership), through the real LedgerProcessor:
 * the nearest ancestor that has a field gives it, whatever the call itself carries of the others; the route of
 * the nearest SERVER span comes along, also from a root span that arrived in an earlier request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SpanKind } from '../../core/otlp.js';
import { Attributor } from '../../processors/attribution/attributor.js';
import { PriceBook } from '../../processors/pricing/price-book.js';
import { LedgerProcessor } from '../../src/pipeline/ledger-processor.js';
import { specRequest, type SpanSpec } from '../../src/pipeline/testing/trace-spans.js';

const priceBook = await PriceBook.loadDefault();
const teams = new Map(
  [
    ['search', 'CC-1001'],
    ['growth', 'CC-1003'],
  ].map(([teamId, costCenter]) => [teamId!, { teamId: teamId!, costCenter: costCenter!, owner: null, monthlyBudgetUsd: null, line: 1, extra: {} }]),
);
const newProcessor = () => new LedgerProcessor(new Attributor({ teams, services: null }), priceBook);

/** A request whose spans named in `servers` are SERVER spans. */
function request(specs: SpanSpec[], servers: string[] = []) {
  const req = specRequest(specs, 'chat-app');
  for (const rs of req.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) if (servers.includes(s.name)) s.kind = SpanKind.SERVER;
  return req;
}

const owner = (r: { teamId: string | null; attributionSource: string | null; projectId: string | null; environment: string | null; route?: string | null }) => [
  r.teamId,
  r.attributionSource,
  r.projectId,
  r.environment,
  r.route ?? null,
];

test('the call has its team, the root span its project: the row gets both (and the route)', () => {
  const p = newProcessor();
  const { rows } = p.process(
    request(
      [
        { id: 'root', attrs: { project_id: 'proj-root', 'http.route': '/api/chat' } },
        { id: 'step', parent: 'root' },
        { id: 'call', parent: 'step', model: 'gpt-4o-mini', input: 10, output: 5, attrs: { 'ai.telemetry.metadata.team_id': 'search' } },
      ],
      ['root'],
    ),
  );
  assert.deepEqual(rows.map(owner), [['search', 'span', 'proj-root', null, '/api/chat']]);
  assert.equal(rows[0]!.costCenter, 'CC-1001');
});

test('the root span arrived in an earlier request (held in the ring): its project and route still reach the call', () => {
  const p = newProcessor();
  const first = p.process(request([{ id: 'root', attrs: { project_id: 'proj-root', 'http.route': '/api/chat' } }], ['root']), 1000);
  assert.equal(first.rows.length, 0);
  const { rows } = p.process(
    request([{ id: 'call', parent: 'root', model: 'gpt-4o-mini', input: 10, output: 5, attrs: { team_id: 'search' } }]),
    2000,
  );
  assert.deepEqual(rows.map(owner), [['search', 'span', 'proj-root', null, '/api/chat']]);
});

test('nearest ancestor that has the field wins, field by field; the call\'s own values win over any ancestor', () => {
  const p = newProcessor();
  const { rows } = p.process(
    request(
      [
        { id: 'gw', attrs: { 'http.route': '/gateway/*', team_id: 'growth', project_id: 'p-root', 'deployment.environment.name': 'prod' } },
        { id: 'app', parent: 'gw', attrs: { 'http.route': '/api/summarize', project_id: 'p-app' } },
        { id: 'a', parent: 'app', model: 'gpt-4o-mini', input: 10, output: 5 },
        { id: 'b', parent: 'app', model: 'gpt-4o-mini', input: 10, output: 5, attrs: { team_id: 'search', project_id: 'p-own' } },
      ],
      ['gw', 'app'],
    ),
  );
  const byName = Object.fromEntries(rows.map((r) => [r.spanName, owner(r)]));
  assert.deepEqual(byName['a'], ['growth', 'ancestor', 'p-app', 'prod', '/api/summarize']);
  assert.deepEqual(byName['b'], ['search', 'span', 'p-own', 'prod', '/api/summarize']);
});

test('a route only counts on a SERVER span', () => {
  const p = newProcessor();
  const { rows } = p.process(
    request([
      { id: 'root', attrs: { 'http.route': '/not/a/server', team_id: 'search' } },
      { id: 'call', parent: 'root', model: 'gpt-4o-mini', input: 10, output: 5 },
    ]),
  );
  assert.deepEqual(rows.map(owner), [['search', 'ancestor', null, null, null]]);
});
