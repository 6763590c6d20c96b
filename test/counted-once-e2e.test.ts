/**
 * Counted once and ownership across the trace, end to end: OTLP/HTTP protobuf requests over real sockets to
 * a running genai-ledger, a parent and its child in two separate export requests (either order), then the
 * DuckDB file read back. Also across a restart: parent before it, child after.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { startTestServer, type TestServer } from './helpers/test-server.js';
import { encodeTraceRequestProtobuf } from '../receivers/otlp/testing/encode-protobuf.js';
import { specRequest, type SpanSpec } from '../src/pipeline/testing/trace-spans.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'genai-ledger-counted-once-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function send(server: TestServer, specs: SpanSpec[]): Promise<void> {
  const response = await fetch(`${server.httpUrl}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf' },
    body: encodeTraceRequestProtobuf(specRequest(specs)),
  });
  assert.equal(response.status, 200, await response.text());
}

async function query(dbPath: string, sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(dbPath, { access_mode: 'READ_ONLY' });
  try {
    const connection = await instance.connect();
    const rows = (await connection.runAndReadAll(sql)).getRowObjectsJS();
    connection.closeSync();
    return rows;
  } finally {
    instance.closeSync();
  }
}

const LEDGER_SQL = `SELECT span_name, is_duplicate, duplicate_reason, team_id, cost_center, attribution_source,
    attribution_status, request_cost_usd::VARCHAR AS cost, attribution_updated_at IS NOT NULL AS attributed_late
  FROM genai_all_spans ORDER BY span_name`;

// The AI SDK shape: a wrapper span repeating the usage of the provider call inside it, a plain span between.
const WRAPPER: SpanSpec = { trace: 'e2e', id: 'ai.generateText', parent: 'request', model: 'gpt-4o-mini', input: 1000, cached: 200, output: 500 };
const STEP: SpanSpec = { trace: 'e2e', id: 'step', parent: 'ai.generateText' };
const CALL: SpanSpec = { trace: 'e2e', id: 'doGenerate', parent: 'step', model: 'gpt-4o-mini', input: 1000, cached: 200, output: 500 };
const REQUEST: SpanSpec = { trace: 'e2e', id: 'request', attrs: { 'http.route': '/chat', team_id: 'search' } };

const EXPECTED = [
  { span_name: 'ai.generateText', is_duplicate: true, duplicate_reason: 'outer_span', team_id: 'search', cost_center: 'CC-1001', attribution_source: 'ancestor', attribution_status: 'attributed', cost: '0.000435000000' },
  { span_name: 'doGenerate', is_duplicate: false, duplicate_reason: null, team_id: 'search', cost_center: 'CC-1001', attribution_source: 'ancestor', attribution_status: 'attributed', cost: '0.000435000000' },
];
const strip = (rows: Record<string, unknown>[]) => rows.map(({ attributed_late: _late, ...rest }) => rest);

for (const [name, order] of [
  ['child first, then parent (and the request span last)', [[CALL, STEP], [WRAPPER], [REQUEST]]],
  ['parent first, then child', [[REQUEST, WRAPPER], [STEP], [CALL]]],
  ['interleaved', [[STEP], [REQUEST, CALL], [WRAPPER]]],
] as const) {
  test(`counted once over OTLP/HTTP, ${name}: one billed row, the wrapper in genai_duplicate_spans`, async () => {
    const server = await startTestServer();
    try {
      for (const specs of order) await send(server, [...specs]);
    } finally {
      await server.server.shutdown();
    }
    try {
      assert.deepEqual(strip(await query(server.dbPath, LEDGER_SQL)), EXPECTED);
      const [sum] = await query(server.dbPath, 'SELECT sum(request_cost_usd)::VARCHAR AS s, count(*)::INT AS n FROM genai_calls');
      assert.deepEqual(sum, { s: '0.000435000000', n: 1 }, 'SUM(request_cost_usd) over genai_calls is the bill');
    } finally {
      await server.close();
    }
  });
}

test('a request span arriving after the call attributes the committed row late, visibly', async () => {
  const server = await startTestServer();
  try {
    await send(server, [{ trace: 'late', id: 'chat', parent: 'handler', model: 'gpt-4o-mini', input: 100, output: 10 }]);
    await send(server, [{ trace: 'late', id: 'handler', parent: 'req' }]);
    await send(server, [{ trace: 'late', id: 'req', attrs: { 'app.team_id': 'growth' } }]);
  } finally {
    await server.server.shutdown();
  }
  try {
    const rows = await query(server.dbPath, LEDGER_SQL);
    assert.deepEqual(rows, [
      { span_name: 'chat', is_duplicate: false, duplicate_reason: null, team_id: 'growth', cost_center: 'CC-1003', attribution_source: 'ancestor', attribution_status: 'attributed', cost: '0.000021000000', attributed_late: true },
    ]);
  } finally {
    await server.close();
  }
});

test('restart: parent committed before a restart, child after it, still counted once', async () => {
  const dbPath = join(dir, 'restart.duckdb');
  const first = await startTestServer({ exporters: { duckdb: { path: dbPath } } });
  try {
    await send(first, [{ ...WRAPPER, trace: 'restart', parent: undefined, attrs: { team_id: 'search' } }]);
  } finally {
    await first.close();
  }
  const second = await startTestServer({ exporters: { duckdb: { path: dbPath } } });
  try {
    await send(second, [{ ...STEP, trace: 'restart' }, { ...CALL, trace: 'restart' }]);
  } finally {
    await second.close();
  }
  const rows = strip(await query(dbPath, LEDGER_SQL));
  assert.deepEqual(rows, [
    { ...EXPECTED[0], attribution_source: 'span' },
    { ...EXPECTED[1] },
  ]);
});

test('a re-sent duplicate is stored once in either table', async () => {
  const server = await startTestServer();
  try {
    await send(server, [CALL, STEP, WRAPPER, REQUEST]);
    await send(server, [CALL, STEP, WRAPPER, REQUEST]);
    await send(server, [WRAPPER]);
  } finally {
    await server.server.shutdown();
  }
  try {
    assert.deepEqual(strip(await query(server.dbPath, LEDGER_SQL)), EXPECTED);
  } finally {
    await server.close();
  }
});
