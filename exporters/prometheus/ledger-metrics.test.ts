import { test } from 'node:test';
import assert from 'node:assert/strict';
import { register as globalRegistry } from 'prom-client';
import { LedgerMetrics, TOKEN_CLASSES, type LedgerGauges } from './ledger-metrics.js';
import { parseExposition, sampleOf, samplesOf } from './testing/exposition.js';
import { ledgerRow } from './testing/rows.js';
import { ledgerReadiness } from './readiness.js';

const scrape = async (m: LedgerMetrics) => parseExposition(await m.metrics());
const SEARCH = { team_id: 'search', cost_center: 'CC-1001', project_id: 'ranking', service: 'search-api', environment: 'production', provider: 'openai', model: 'gpt-4o-mini' };

test('ledger counters: exact labels, NULL as the empty value, token classes that add up to the total', async () => {
  const m = new LedgerMetrics({ processMetrics: false });
  const unpriced = ledgerRow({
    teamId: null, costCenter: null, projectId: null, environment: null, service: 'orphan', model: 'acme-7b', provider: 'openai',
    requestCostPicoUsd: null, attributionStatus: 'unpriced_model', exceptions: ['missing_team', 'unpriced_model'],
    inputTokens: 10, cachedInputTokens: null, cacheWriteTokens: null, outputTokens: 5, reasoningTokens: null, totalTokens: 15,
  });
  m.recordRows([ledgerRow(), ledgerRow()]);
  m.recordRows([unpriced]);
  const e = await scrape(m);

  assert.equal(e.type.get('genai_ledger_cost_usd_total'), 'counter');
  assert.equal(e.type.get('genai_ledger_tokens_total'), 'counter');
  assert.equal(e.type.get('genai_ledger_calls_total'), 'counter');
  assert.equal(sampleOf(e, 'genai_ledger_cost_usd_total', SEARCH).text, '0.00246913578');
  const orphan = { team_id: '', cost_center: '', project_id: '', service: 'orphan', environment: '', provider: 'openai', model: 'acme-7b' };
  assert.deepEqual(sampleOf(e, 'genai_ledger_cost_usd_total', orphan).labels, orphan, 'every label present, NULL as ""');
  assert.equal(sampleOf(e, 'genai_ledger_cost_usd_total', orphan).value, 0, 'unpriced adds 0, never a guess');

  const tokens = Object.fromEntries(TOKEN_CLASSES.map((c) => [c, sampleOf(e, 'genai_ledger_tokens_total', { ...SEARCH, token_class: c }).value]));
  // per row: input 1000 (incl. 200 cached, 100 cache write), output 300 (incl. 50 reasoning)
  assert.deepEqual(tokens, { input: 1400, cached_input: 400, cache_write: 200, output: 500, reasoning: 100 });
  assert.equal(Object.values(tokens).reduce((a, b) => a + b, 0), 2 * 1300, 'sum over token_class = total_tokens');
  assert.equal(sampleOf(e, 'genai_ledger_tokens_total', { ...orphan, token_class: 'input' }).value, 10);
  assert.equal(sampleOf(e, 'genai_ledger_tokens_total', { ...orphan, token_class: 'output' }).value, 5);

  assert.equal(sampleOf(e, 'genai_ledger_calls_total', { ...SEARCH, attribution_status: 'attributed' }).value, 2);
  assert.equal(sampleOf(e, 'genai_ledger_calls_total', { ...orphan, attribution_status: 'unpriced_model' }).value, 1);
  assert.equal(samplesOf(e, 'genai_ledger_calls_total').length, 2);
});

test('label values that need escaping come back exactly', async () => {
  const m = new LedgerMetrics({ processMetrics: false });
  const model = 'weird "model" \\ with\nnewline';
  m.recordRows([ledgerRow({ model, teamId: 'tëam ✓' })]);
  const e = await scrape(m);
  const s = sampleOf(e, 'genai_ledger_cost_usd_total', { model });
  assert.equal(s.labels['team_id'], 'tëam ✓');
});

test('cost is summed exactly in pico-USD: a million 1e-12 USD calls expose 1e-6, not float drift', async () => {
  const m = new LedgerMetrics({ processMetrics: false });
  const row = ledgerRow({ requestCostPicoUsd: 1n });
  const chunk: readonly typeof row[] = new Array(10_000).fill(row);
  let naive = 0;
  for (let i = 0; i < 100; i++) {
    m.recordRows(chunk);
    for (let j = 0; j < chunk.length; j++) naive += 1e-12;
  }
  assert.notEqual(naive, 1e-6, 'float increments drift (this is what the test guards against)');
  const e = await scrape(m);
  assert.equal(sampleOf(e, 'genai_ledger_cost_usd_total', SEARCH).text, '0.000001');
  assert.equal(sampleOf(e, 'genai_ledger_calls_total', SEARCH).value, 1_000_000);

  const big = new LedgerMetrics({ processMetrics: false });
  big.recordRows([0, 1, 2].map(() => ledgerRow({ requestCostPicoUsd: 333_333_333_333_333n })));
  big.recordRows([ledgerRow({ requestCostPicoUsd: 1n })]);
  assert.equal(sampleOf(await scrape(big), 'genai_ledger_cost_usd_total', SEARCH).text, '1000', '3 × 333.333333333333 + 1e-12 = 1000 exactly');
});

test('series limit: new label sets beyond it go to one __overflow__ series, counted; kept series keep counting', async () => {
  const m = new LedgerMetrics({
    processMetrics: false,
    maxSeriesPerMetric: 2,
    maxSeries: { genai_ledger_tokens_total: 10 }, // two label sets × five token classes
  });
  const team = (teamId: string, extra: Partial<Parameters<typeof ledgerRow>[0]> = {}) =>
    ledgerRow({ teamId, requestCostPicoUsd: 1_000_000_000_000n, ...extra });
  m.recordRows([team('a'), team('b'), team('c'), team('d', { attributionStatus: 'missing_cost_center' }), team('a')]);
  const e = await scrape(m);
  const OVER = '__overflow__';
  const overflowLabels = { team_id: OVER, cost_center: OVER, project_id: OVER, service: OVER, environment: OVER, provider: OVER, model: OVER };

  const cost = samplesOf(e, 'genai_ledger_cost_usd_total');
  assert.deepEqual(cost.map((s) => [s.labels['team_id'], s.value]).sort(), [[OVER, 2], ['a', 2], ['b', 1]]);
  assert.deepEqual(sampleOf(e, 'genai_ledger_cost_usd_total', { team_id: OVER }).labels, overflowLabels);
  assert.equal(cost.reduce((sum, s) => sum + s.value, 0), 5, 'the total is still right');

  const tokens = samplesOf(e, 'genai_ledger_tokens_total');
  assert.equal(tokens.length, 15, 'two kept label sets and the overflow, five classes each');
  assert.equal(sampleOf(e, 'genai_ledger_tokens_total', { team_id: OVER, token_class: 'input' }).value, 1400, 'token_class is kept in the overflow');

  const calls = samplesOf(e, 'genai_ledger_calls_total');
  assert.deepEqual(
    calls.map((s) => [s.labels['team_id'], s.labels['attribution_status'], s.value]).sort(),
    [[OVER, 'attributed', 1], [OVER, 'missing_cost_center', 1], ['a', 'attributed', 2], ['b', 'attributed', 1]],
    'attribution_status is kept in the overflow',
  );
  for (const metric of ['genai_ledger_cost_usd_total', 'genai_ledger_tokens_total', 'genai_ledger_calls_total']) {
    assert.equal(sampleOf(e, 'genai_ledger_metric_series_overflow_total', { metric }).value, 2, metric);
  }
  assert.equal(sampleOf(e, 'genai_ledger_metric_series_overflow_total', { metric: 'genai_ledger_monthly_budget_usd' }).value, 0, 'pre-initialized');
});

const gauges = (over: Partial<LedgerGauges> = {}): LedgerGauges => ({
  monthToDate: [
    { teamId: 'search', costCenter: 'CC-1001', costUsd: '1234.500000000000' },
    { teamId: null, costCenter: null, costUsd: 10.25 },
  ],
  budgets: [{ teamId: 'search', costCenter: 'CC-1001', budgetUsd: '5000' }],
  openExceptions: 7,
  ledgerFileBytes: 123_456,
  ...over,
});

test('ledger gauges: read once per scrape at scrape time; a failed read serves the last values and is counted', async () => {
  let reads = 0;
  let next: () => Promise<LedgerGauges> = async () => gauges();
  const m = new LedgerMetrics({ processMetrics: false, ledgerGaugesTimeoutMs: 200 }, {
    ledgerGauges: () => {
      reads++;
      return next();
    },
  });
  let e = await scrape(m);
  assert.equal(reads, 1, 'four gauges, one ledger read');
  assert.equal(sampleOf(e, 'genai_ledger_month_to_date_cost_usd', { team_id: 'search', cost_center: 'CC-1001' }).value, 1234.5);
  assert.equal(sampleOf(e, 'genai_ledger_month_to_date_cost_usd', { team_id: '', cost_center: '' }).value, 10.25);
  assert.equal(sampleOf(e, 'genai_ledger_monthly_budget_usd', { team_id: 'search' }).value, 5000);
  assert.equal(sampleOf(e, 'genai_ledger_open_exceptions').value, 7);
  assert.equal(sampleOf(e, 'genai_ledger_ledger_file_bytes').value, 123_456);
  assert.equal(sampleOf(e, 'genai_ledger_ledger_gauges_failures_total').value, 0);

  next = async () => {
    throw new Error('ledger is busy');
  };
  e = await scrape(m);
  assert.equal(sampleOf(e, 'genai_ledger_open_exceptions').value, 7, 'last values served');
  assert.equal(sampleOf(e, 'genai_ledger_ledger_gauges_failures_total').value, 1);

  next = () => new Promise(() => {}); // never answers
  e = await scrape(m);
  assert.equal(sampleOf(e, 'genai_ledger_monthly_budget_usd', { team_id: 'search' }).value, 5000);
  assert.equal(sampleOf(e, 'genai_ledger_ledger_gauges_failures_total').value, 2, 'a hung read times out');

  next = async () => gauges({ monthToDate: [{ teamId: 'x', costCenter: null, costUsd: 'not money' }] });
  e = await scrape(m);
  assert.equal(sampleOf(e, 'genai_ledger_ledger_gauges_failures_total').value, 3, 'a value that is not money is refused whole');
  assert.equal(samplesOf(e, 'genai_ledger_month_to_date_cost_usd', { team_id: 'x' }).length, 0);

  next = async () => gauges({ monthToDate: [] });
  e = await scrape(m);
  assert.equal(samplesOf(e, 'genai_ledger_month_to_date_cost_usd').length, 0, 'a new month starts empty');
});

test('ledger gauges: beyond the series limit the smallest are summed into __overflow__', async () => {
  const m = new LedgerMetrics({ processMetrics: false, maxSeries: { genai_ledger_month_to_date_cost_usd: 2 } }, {
    ledgerGauges: async () =>
      gauges({
        monthToDate: [1, 5, 3, 2].map((usd, i) => ({ teamId: `t${i}`, costCenter: 'CC', costUsd: usd })),
      }),
  });
  const e = await scrape(m);
  const mtd = samplesOf(e, 'genai_ledger_month_to_date_cost_usd').map((s) => [s.labels['team_id'], s.value]);
  assert.deepEqual(mtd.sort(), [['__overflow__', 3], ['t1', 5], ['t2', 3]], 't0 (1) and t3 (2) folded');
  assert.equal(sampleOf(e, 'genai_ledger_metric_series_overflow_total', { metric: 'genai_ledger_month_to_date_cost_usd' }).value, 2);
});

test('self-metrics: ingest, refusals, commits, in-flight bytes, forwarders, config info, readiness', async () => {
  let inFlight = 0;
  let state = { listenersUp: true, ledgerOpen: true, ledgerCommitting: true, refusingLoad: false };
  const m = new LedgerMetrics({ processMetrics: false }, { inFlightBytes: () => inFlight, readiness: ledgerReadiness(() => state) });
  let e = await scrape(m);
  for (const transport of ['http', 'grpc']) {
    assert.equal(sampleOf(e, 'genai_ledger_spans_received_total', { transport }).value, 0, 'exists before the first span');
    assert.equal(sampleOf(e, 'genai_ledger_spans_refused_total', { transport, reason: 'overloaded' }).value, 0);
  }
  assert.equal(sampleOf(e, 'genai_ledger_commit_failures_total').value, 0);
  assert.equal(sampleOf(e, 'genai_ledger_ready').value, 1);
  assert.equal(m.refusedLoadWithin(60_000), false);

  m.spansReceived('http', 10);
  m.spansReceived('grpc', 3);
  m.spansRefused('grpc', 'overloaded', 4);
  m.spansRefused('http', 'unauthenticated', 1);
  m.commitSucceeded(0.004, 12);
  m.commitSucceeded(0.2, 3000);
  m.commitFailed();
  inFlight = 4096;
  let forwarded = { queuedBytes: 100, sentSpans: 5, failedSpans: 1, droppedSpans: 0 };
  const removeTempo = m.addForwarder('tempo', () => forwarded);
  m.addForwarder('broken', () => {
    throw new Error('boom');
  });
  m.setConfigInfo('prices', 'genai-prices@0.1.8');
  m.setConfigInfo('teams', 'sha256:aaa');
  m.setConfigInfo('teams', 'sha256:bbb');
  state = { ...state, ledgerCommitting: false };

  e = await scrape(m);
  assert.equal(sampleOf(e, 'genai_ledger_spans_received_total', { transport: 'http' }).value, 10);
  assert.equal(sampleOf(e, 'genai_ledger_spans_refused_total', { transport: 'grpc', reason: 'overloaded' }).value, 4);
  assert.equal(sampleOf(e, 'genai_ledger_spans_refused_total', { transport: 'http', reason: 'unauthenticated' }).value, 1);
  assert.equal(m.refusedLoadWithin(60_000), true);
  assert.equal(e.type.get('genai_ledger_commit_duration_seconds'), 'histogram');
  assert.equal(sampleOf(e, 'genai_ledger_commit_duration_seconds_count').value, 2);
  assert.equal(sampleOf(e, 'genai_ledger_commit_duration_seconds_bucket', { le: '0.005' }).value, 1);
  assert.equal(sampleOf(e, 'genai_ledger_rows_per_commit_sum').value, 3012);
  assert.equal(sampleOf(e, 'genai_ledger_commit_failures_total').value, 1);
  assert.equal(sampleOf(e, 'genai_ledger_in_flight_bytes').value, 4096);
  assert.equal(sampleOf(e, 'genai_ledger_forward_queue_bytes', { destination: 'tempo' }).value, 100);
  assert.equal(sampleOf(e, 'genai_ledger_forward_spans_total', { destination: 'tempo', outcome: 'sent' }).value, 5);
  assert.equal(sampleOf(e, 'genai_ledger_forward_spans_total', { destination: 'tempo', outcome: 'failed' }).value, 1);
  assert.equal(sampleOf(e, 'genai_ledger_forward_spans_total', { destination: 'tempo', outcome: 'dropped' }).value, 0);
  assert.equal(samplesOf(e, 'genai_ledger_forward_spans_total', { destination: 'broken' }).length, 0, 'a throwing callback is skipped');
  assert.deepEqual(
    samplesOf(e, 'genai_ledger_config_info').map((s) => [s.labels['kind'], s.labels['version'], s.value]),
    [['prices', 'genai-prices@0.1.8', 1], ['teams', 'sha256:bbb', 1]],
    'a reload replaces the kind\'s version',
  );
  assert.equal(sampleOf(e, 'genai_ledger_ready').value, 0);

  forwarded = { queuedBytes: 0, sentSpans: 50, failedSpans: 1, droppedSpans: 7 };
  e = await scrape(m);
  assert.equal(sampleOf(e, 'genai_ledger_forward_spans_total', { destination: 'tempo', outcome: 'sent' }).value, 50, 'mirrors the cumulative value');
  assert.equal(sampleOf(e, 'genai_ledger_forward_spans_total', { destination: 'tempo', outcome: 'dropped' }).value, 7);
  removeTempo();
  e = await scrape(m);
  assert.equal(samplesOf(e, 'genai_ledger_forward_queue_bytes').length, 0);
});

test('own registry: nothing in prom-client\'s global registry, two instances side by side, process metrics on request', async () => {
  const a = new LedgerMetrics({ processMetrics: true });
  const b = new LedgerMetrics({ processMetrics: false });
  a.recordRows([ledgerRow()]);
  assert.equal(globalRegistry.getSingleMetric('genai_ledger_cost_usd_total'), undefined);
  const ea = await scrape(a);
  const eb = await scrape(b);
  assert.equal(samplesOf(ea, 'genai_ledger_cost_usd_total').length, 1);
  assert.equal(samplesOf(eb, 'genai_ledger_cost_usd_total').length, 0);
  assert.ok(samplesOf(ea, 'process_cpu_user_seconds_total').length === 1);
  assert.equal(samplesOf(eb, 'process_cpu_user_seconds_total').length, 0);
  assert.match(a.contentType, /^text\/plain; version=0\.0\.4/);
});
