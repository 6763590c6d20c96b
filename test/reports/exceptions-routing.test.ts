/**
 * Ownership field by field, and the exceptions queue routed with the context found up the trace, through real
 * OTLP: spans made by the OpenTelemetry SDK (server span → internal span → GenAI call) are sent to a running
 * genai-ledger; the rows and `report exceptions` are read back from the file.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { SpanKind, context, trace, type Attributes, type Context, type Tracer } from '@opentelemetry/api';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { recordSpans } from '../helpers/genai-traffic.js';
import { readLedgerRows } from '../helpers/ledger-rows.js';
import { sendSpans } from './helpers/seed-traffic.js';
import { openReportLedger } from '../../src/reports/ledger-reader.js';
import { exceptionsReport } from '../../src/reports/exceptions-report.js';
import { monthOf } from '../../src/reports/report-period.js';
import { formatReport } from '../../src/reports/report-table.js';

const START = Date.parse('2026-05-12T09:00:00Z');

const chat = (model: string, extra: Attributes = {}, tokens = true): Attributes => ({
  'gen_ai.operation.name': 'chat',
  'gen_ai.provider.name': 'openai',
  'gen_ai.request.model': model,
  ...(tokens ? { 'gen_ai.usage.input_tokens': 10_000, 'gen_ai.usage.output_tokens': 1_000 } : {}),
  ...extra,
});

/** server span(s) → an internal span → the GenAI call; returns nothing, the SDK records the spans. */
function request(tracer: Tracer, o: { routes: string[]; rootAttributes?: Attributes; call: Attributes; at: number }): void {
  let ctx: Context = context.active();
  const open = [];
  for (const [i, route] of o.routes.entries()) {
    const span = tracer.startSpan(`POST ${route}`, {
      kind: SpanKind.SERVER,
      startTime: new Date(o.at),
      attributes: { 'http.route': route, ...(i === 0 ? o.rootAttributes : {}) },
    }, ctx);
    open.push(span);
    ctx = trace.setSpan(ctx, span);
  }
  const step = tracer.startSpan('handle', { kind: SpanKind.INTERNAL, startTime: new Date(o.at) }, ctx);
  open.push(step);
  const call = tracer.startSpan('chat', { kind: SpanKind.CLIENT, startTime: new Date(o.at + 10), attributes: o.call }, trace.setSpan(ctx, step));
  call.end(new Date(o.at + 900));
  for (const span of open.reverse()) span.end(new Date(o.at + 1000));
}

let server: TestServer;
before(async () => {
  server = await startTestServer();
  const batches = [
    // An app that names no team: its calls go to platform with service, route and API key alias.
    recordSpans({ 'service.name': 'orphan-worker' }, (t) => {
      for (let i = 0; i < 3; i++) {
        request(t, { routes: ['/jobs/{id}/summarize'], call: chat('gpt-4o', { 'metadata.user_api_key_alias': 'orphan-key' }), at: START + i * 60_000 });
      }
    }),
    // The AI SDK call carries its team; the project is only on the app's root span (ownership field by field).
    // Behind a gateway: the nearest server span's route wins.
    recordSpans({ 'service.name': 'chat-app' }, (t) => {
      request(t, {
        routes: ['/gateway/*', '/api/chat'],
        rootAttributes: { project_id: 'proj-root', 'deployment.environment.name': 'staging' },
        call: chat('gpt-4o-mini', { 'ai.telemetry.metadata.team_id': 'search' }),
        at: START,
      });
    }),
    // A team FinOps has not mapped (no cost center) and a model without a price: finops.
    recordSpans({ 'service.name': 'ghost-service' }, (t) => {
      request(t, { routes: ['/ghost'], call: chat('gpt-4o-mini', { team_id: 'ghost-team' }), at: START });
    }),
    recordSpans({ 'service.name': 'checkout-assistant' }, (t) => {
      request(t, { routes: ['/checkout/help'], call: chat('acme-finetuned-7b'), at: START });
      request(t, { routes: ['/checkout/help'], call: chat('gpt-4o-mini'), at: START + 1000 });
    }),
    // No token counts: the application team (known from the service mapping) fixes its instrumentation.
    recordSpans({ 'service.name': 'support-bot' }, (t) => {
      request(t, { routes: ['/tickets/{id}/reply'], call: chat('gpt-4o-mini', {}, false), at: START });
    }),
  ];
  for (const spans of batches) await sendSpans(server.httpUrl, spans);
  await server.server.shutdown();
});
after(() => server?.close());

test('ownership field by field: team from the call, project and environment from the root span, route from the nearest server span', async () => {
  const [row] = await readLedgerRows(server.dbPath, `service = 'chat-app'`);
  assert.ok(row !== undefined);
  assert.deepEqual(
    [row['team_id'], row['attribution_source'], row['cost_center'], row['project_id'], row['environment'], row['route'], row['attribution_status']],
    ['search', 'span', 'CC-1001', 'proj-root', 'staging', '/api/chat', 'attributed'],
  );
});

test('exceptions: routed to platform / finops / application with context from ancestor spans, by money at stake', async () => {
  const ledger = await openReportLedger(server.dbPath);
  try {
    const report = await exceptionsReport(ledger.connection, ledger.shape, { period: monthOf(START), owner: null });
    const queue = report.sections.find((s) => s.name === 'queue')!;
    const col = (key: string) => queue.columns.findIndex((c) => c.key === key);
    const pick = (r: unknown[]) =>
      ['owner', 'reason', 'team_id', 'service', 'route', 'api_key_alias', 'model', 'calls', 'estimated_cost_usd'].map((k) => r[col(k)]);
    // gpt-4o: 10,000 × $2.50/M + 1,000 × $10/M = $0.035 a call; gpt-4o-mini: 10,000 × $0.15/M + 1,000 × $0.60/M = $0.0021.
    // A call without a cost is estimated at the average priced call of its model: the token-less gpt-4o-mini call at
    // $0.0021; the unpriced model, which has none, at the average of the 6 priced calls: (3 × 0.035 + 3 × 0.0021) / 6.
    // Equal amounts: by owner name.
    assert.deepEqual(queue.rows.map(pick), [
      ['platform', 'missing_team', null, 'orphan-worker', '/jobs/{id}/summarize', 'orphan-key', 'gpt-4o', 3n, 105_000_000_000n],
      ['finops', 'unpriced_model', 'growth', 'checkout-assistant', '/checkout/help', null, 'acme-finetuned-7b', 1n, 18_550_000_000n],
      ['application', 'missing_tokens', 'support-bot', 'support-bot', '/tickets/{id}/reply', null, 'gpt-4o-mini', 1n, 2_100_000_000n],
      ['finops', 'missing_cost_center', 'ghost-team', 'ghost-service', '/ghost', null, 'gpt-4o-mini', 1n, 2_100_000_000n],
    ]);
    const first = queue.rows[0]!;
    assert.equal(first[col('first_seen')], '2026-05-12T09:00:00.010Z');
    assert.equal(first[col('last_seen')], '2026-05-12T09:02:00.010Z');
    const owners = report.sections.find((s) => s.name === 'owners')!.rows.map((r) => [r[0], r[2]]);
    assert.deepEqual(owners, [
      ['platform', 3n],
      ['finops', 2n],
      ['application', 1n],
    ]);
    const finops = await exceptionsReport(ledger.connection, ledger.shape, { period: monthOf(START), owner: 'finops' });
    assert.deepEqual(finops.sections.find((s) => s.name === 'queue')!.rows.map((r) => r[1]), ['unpriced_model', 'missing_cost_center']);
    assert.match(formatReport(report, 'markdown'), /\| platform \| missing_team \|  \|  \| orphan-worker \| \/jobs\/\{id\}\/summarize \| orphan-key \|/);
  } finally {
    await ledger.close();
  }
});
