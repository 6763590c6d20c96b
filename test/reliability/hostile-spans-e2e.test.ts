/**
 * Issue 11 end to end: one span with hostile values, sent over OTLP/HTTP (protobuf and JSON) and OTLP/gRPC to
 * a real server, costs at most itself. Its neighbours in the same request are committed, the next request gets
 * 200/OK, and no column of the ledger holds a wrapped, negative or out-of-range value.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { readLedgerRows } from '../helpers/ledger-rows.js';
import { exportRaw } from './grpc-raw-client.js';
import { encodeTraceRequestProtobuf } from '../../receivers/otlp/testing/encode-protobuf.js';
import { encodeTraceRequestJson } from '../../receivers/otlp/testing/encode-json.js';
import { decodeExportResponseProtobuf } from '../../receivers/otlp/encode-response.js';
import type { AnyValue, KeyValue, Span, TraceRequest } from '../../core/otlp.js';
import { testSpan } from '../../core/testing/test-span.js';

const NS = 1_000_000n;
const T0 = BigInt(Date.parse('2026-11-02T09:00:00Z')) * NS;
/** A JSON-only case: the string value is replaced by this raw intValue in the JSON body. */
const JSON_INT_MARKER = '__json_int_value__';

const kv = (key: string, value: AnyValue): KeyValue => ({ key, value });
let nextId = 1;

function span(attributes: KeyValue[], overrides: Partial<Span> = {}): Span {
  const n = nextId++;
  const start = T0 + BigInt(n) * NS;
  return testSpan({
    traceId: n.toString(16).padStart(32, 'a'),
    spanId: n.toString(16).padStart(16, 'b'),
    flags: 0,
    name: 'chat gpt-4o-mini',
    startTimeUnixNano: start,
    endTimeUnixNano: start + 700n * NS,
    attributes,
    ...overrides,
  });
}

const VALID: KeyValue[] = [
  kv('gen_ai.operation.name', 'chat'),
  kv('gen_ai.provider.name', 'openai'),
  kv('gen_ai.request.model', 'gpt-4o-mini'),
  kv('gen_ai.usage.input_tokens', 1200),
  kv('gen_ai.usage.output_tokens', 300),
  kv('team_id', 'search'),
];

/** The valid attributes with `extra` replacing (or adding) keys. */
function withValues(extra: KeyValue[]): KeyValue[] {
  const keys = new Set(extra.map((a) => a.key));
  return [...extra, ...VALID.filter((a) => !keys.has(a.key))];
}

const request = (spans: Span[]): TraceRequest => ({
  resourceSpans: [
    {
      resource: { attributes: [kv('service.name', 'hostile-e2e')], droppedAttributesCount: 0 },
      schemaUrl: '',
      scopeSpans: [{ scope: { name: 'e2e', version: '1', attributes: [], droppedAttributesCount: 0 }, schemaUrl: '', spans }],
    },
  ],
});

/** The hostile cases of issue 11, plus timestamps and unbounded text. */
const CASES: { name: string; attributes: KeyValue[]; overrides?: Partial<Span>; jsonOnly?: boolean }[] = [
  { name: 'cache read + write of 2^53-1', attributes: [kv('gen_ai.usage.cache_read.input_tokens', 2 ** 53 - 1), kv('gen_ai.usage.cache_creation.input_tokens', 2 ** 53 - 1)] },
  { name: 'reasoning of 2^53-1', attributes: [kv('gen_ai.usage.reasoning.output_tokens', 2 ** 53 - 1)] },
  { name: '900 billion input tokens', attributes: [kv('gen_ai.usage.input_tokens', 900_000_000_000)] },
  { name: 'gen_ai.usage.cost "1e7"', attributes: [kv('gen_ai.usage.cost', '1e7')] },
  { name: 'negative input', attributes: [kv('gen_ai.usage.input_tokens', -7)] },
  { name: 'fractional input', attributes: [kv('gen_ai.usage.input_tokens', 10.5)] },
  { name: 'text input', attributes: [kv('gen_ai.usage.input_tokens', 'many')] },
  { name: 'array input', attributes: [kv('gen_ai.usage.input_tokens', [5, 6])] },
  { name: 'int64-max input', attributes: [kv('gen_ai.usage.input_tokens', 2n ** 63n - 1n)] },
  { name: '26-digit intValue in OTLP/JSON', attributes: [kv('gen_ai.usage.input_tokens', JSON_INT_MARKER)], jsonOnly: true },
  { name: 'start time 0, end before start', attributes: [], overrides: { startTimeUnixNano: 0n, endTimeUnixNano: 5n } },
  { name: 'start time in 2554', attributes: [], overrides: { startTimeUnixNano: 2n ** 64n - 1n } },
  { name: 'megabyte response id', attributes: [kv('gen_ai.response.id', 'x'.repeat(1 << 20)), kv('openai.response.service_tier', 'y'.repeat(1 << 16))] },
];

type Transport = 'http-protobuf' | 'http-json' | 'grpc';

async function send(server: TestServer, transport: Transport, body: TraceRequest): Promise<{ ok: boolean; status: string; rejected: number }> {
  if (transport === 'grpc') {
    const { error, response } = await exportRaw(server.grpcUrl.replace('http://', ''), encodeTraceRequestProtobuf(body));
    if (error !== null) return { ok: false, status: `gRPC ${error.code} ${error.details}`, rejected: 0 };
    const decoded = decodeExportResponseProtobuf(response!);
    return { ok: true, status: 'OK', rejected: decoded.rejectedSpans };
  }
  const json = transport === 'http-json';
  const payload = json
    ? encodeTraceRequestJson(body).replace(`{"stringValue":"${JSON_INT_MARKER}"}`, '{"intValue":"99999999999999999999999999"}')
    : encodeTraceRequestProtobuf(body);
  const res = await fetch(`${server.httpUrl}/v1/traces`, {
    method: 'POST',
    body: payload,
    headers: { 'content-type': json ? 'application/json' : 'application/x-protobuf' },
  });
  const text = json ? await res.text() : '';
  if (!json) await res.arrayBuffer();
  const rejected = json && res.status === 200 ? Number((JSON.parse(text || '{}') as { partialSuccess?: { rejectedSpans?: string } }).partialSuccess?.rejectedSpans ?? 0) : 0;
  return { ok: res.status === 200, status: `HTTP ${res.status} ${text.slice(0, 200)}`, rejected };
}

describe('one hostile span never stops the server', () => {
  let server: TestServer;
  const neighbourIds: string[] = [];
  const followUpIds: string[] = [];
  before(async () => {
    server = await startTestServer();
  });
  after(async () => server.close());

  for (const transport of ['http-protobuf', 'http-json', 'grpc'] as const) {
    for (const c of CASES) {
      if (c.jsonOnly === true && transport !== 'http-json') continue;
      test(`${transport}: ${c.name}`, async () => {
        const before = span(VALID);
        const hostile = span(withValues(c.attributes), c.overrides ?? {});
        const afterSpan = span(VALID);
        const first = await send(server, transport, request([before, hostile, afterSpan]));
        assert.ok(first.ok, `the request with the hostile span is answered: ${first.status}`);
        assert.ok(first.rejected <= 1, 'at most the hostile span itself is rejected');
        neighbourIds.push(before.spanId, afterSpan.spanId);
        const next = span(VALID);
        const second = await send(server, transport, request([next]));
        assert.ok(second.ok, `the next request gets 200/OK: ${second.status}`);
        assert.equal(second.rejected, 0);
        followUpIds.push(next.spanId);
      });
    }
  }

  test('the neighbours and follow-ups are committed; no column holds a wrapped or negative value', async () => {
    await server.server.shutdown();
    const rows = await readLedgerRows(server.dbPath);
    const stored = new Set(rows.map((r) => r['span_id']));
    for (const id of [...neighbourIds, ...followUpIds]) assert.ok(stored.has(id), `span ${id} is in the ledger`);
    const moneyColumns = Object.keys(rows[0]!).filter((k) => k.endsWith('_usd'));
    const tokenColumns = Object.keys(rows[0]!).filter((k) => k.endsWith('_tokens'));
    assert.ok(moneyColumns.includes('reported_cost_usd') && moneyColumns.length >= 8, moneyColumns.join());
    for (const row of rows) {
      for (const column of moneyColumns) {
        const value = row[column];
        if (value != null) assert.ok(!value.startsWith('-') && Number(value) < 1e6, `${column} = ${value}`);
      }
      for (const column of tokenColumns) {
        const value = row[column];
        if (value != null) assert.ok(Number.isSafeInteger(Number(value)) && Number(value) >= 0, `${column} = ${value}`);
      }
      const year = new Date(Number(row['timestamp_us']) / 1000).getUTCFullYear();
      assert.ok(year > 1970 && year < 2200, `timestamp year ${year}`);
      // An unreadable count is never priced as zero.
      if (row['exceptions']!.includes('invalid_tokens')) assert.equal(row['request_cost_usd'], null);
    }
  });
});
