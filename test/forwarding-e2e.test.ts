/**
 * Issue 12 §1 end to end: a real server with `exporters.otlp` forwards the app's whole trace to a real OTLP
 * destination (HTTP and gRPC) — every span, every field as received — with the ledger's decision on the LLM
 * span; a slow or dead destination never changes the ledger's answer.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { startTestServer, type TestServer } from './helpers/test-server.js';
import { OtlpSink, eventually } from '../exporters/otlp/testing/otlp-sink.js';
import { encodeTraceRequestProtobuf } from '../receivers/otlp/testing/encode-protobuf.js';
import type { AnyValue, KeyValue, Span, TraceRequest } from '../core/otlp.js';

const kv = (key: string, value: AnyValue): KeyValue => ({ key, value });
const NS = 1_000_000n;
let counter = 0;

/** One request of the app's trace: the HTTP server span, a DB span and the LLM call under the request. */
function appTrace(): { request: TraceRequest; root: Span; llm: Span; db: Span } {
  const n = ++counter;
  const traceId = (0xabc000 + n).toString(16).padStart(32, '0');
  const t0 = BigInt(Date.parse('2026-12-01T10:00:00Z')) * NS + BigInt(n) * 1000n * NS;
  const span = (id: number, name: string, parent: string, kind: number, attributes: KeyValue[]): Span => ({
    traceId,
    spanId: (n * 16 + id).toString(16).padStart(16, '0'),
    traceState: 'vendor=x',
    parentSpanId: parent,
    flags: 1,
    name,
    kind,
    startTimeUnixNano: t0 + BigInt(id) * NS,
    endTimeUnixNano: t0 + 900n * NS,
    attributes,
    droppedAttributesCount: 2,
    events: [{ timeUnixNano: t0 + 5n * NS, name: 'evt', attributes: [kv('k', 1)], droppedAttributesCount: 0 }],
    droppedEventsCount: 1,
    links: [],
    droppedLinksCount: 0,
    status: { code: 1, message: '' },
  });
  const root = span(1, 'POST /chat', '', 2, [kv('http.route', '/chat'), kv('team_id', 'search')]);
  const llm = span(2, 'chat gpt-4o-mini', root.spanId, 3, [
    kv('gen_ai.operation.name', 'chat'),
    kv('gen_ai.provider.name', 'openai'),
    kv('gen_ai.request.model', 'gpt-4o-mini'),
    kv('gen_ai.usage.input_tokens', 1_000_000),
    kv('gen_ai.usage.output_tokens', 100_000),
  ]);
  const db = span(3, 'SELECT orders', root.spanId, 3, [kv('db.system', 'postgresql'), kv('db.statement', 'SELECT 1')]);
  const request: TraceRequest = {
    resourceSpans: [
      {
        resource: { attributes: [kv('service.name', 'search-api'), kv('deployment.environment.name', 'prod')], droppedAttributesCount: 0 },
        schemaUrl: 'https://opentelemetry.io/schemas/1.30.0',
        scopeSpans: [{ scope: { name: 'app', version: '1.2.3', attributes: [kv('s', true)], droppedAttributesCount: 0 }, schemaUrl: '', spans: [root, llm, db] }],
      },
    ],
  };
  return { request, root, llm, db };
}

async function post(server: TestServer, request: TraceRequest): Promise<number> {
  const res = await fetch(`${server.httpUrl}/v1/traces`, {
    method: 'POST',
    body: encodeTraceRequestProtobuf(request),
    headers: { 'content-type': 'application/x-protobuf' },
  });
  await res.arrayBuffer();
  return res.status;
}

const attr = (span: Span, key: string) => span.attributes.find((a) => a.key === key)?.value;

for (const protocol of ['http', 'grpc'] as const) {
  describe(`forwarding over OTLP/${protocol}`, () => {
    const cleanup: (() => Promise<void>)[] = [];
    after(async () => {
      for (const c of cleanup.reverse()) await c();
    });

    test('the whole trace arrives, as received, with cost and owner on the LLM span', async () => {
      const sink = await OtlpSink.start(protocol);
      cleanup.push(() => sink.stop());
      const server = await startTestServer({ exporters: { otlp: { tempo: { endpoint: sink.endpoint } } } });
      cleanup.push(() => server.close());
      const { request, root, llm, db } = appTrace();
      assert.equal(await post(server, request), 200);
      await eventually(() => sink.acceptedSpans().length >= 3, 'three spans forwarded');
      const got = new Map(sink.acceptedSpans().map((s) => [s.spanId, s]));
      // The app's spans, every field as received; the LLM span with the ledger's decision appended.
      assert.deepEqual(got.get(root.spanId), root);
      assert.deepEqual(got.get(db.spanId), db);
      const forwardedLlm = got.get(llm.spanId)!;
      assert.deepEqual(forwardedLlm.attributes.slice(0, llm.attributes.length), llm.attributes);
      assert.deepEqual({ ...forwardedLlm, attributes: [] }, { ...llm, attributes: [] });
      // gpt-4o-mini: 1M input × $0.15/M + 100k output × $0.60/M = $0.21
      assert.equal(attr(forwardedLlm, 'genai_ledger.cost_usd'), 0.21);
      assert.equal(attr(forwardedLlm, 'genai_ledger.team_id'), 'search');
      assert.equal(attr(forwardedLlm, 'genai_ledger.attribution_status'), 'attributed');
      assert.equal(attr(forwardedLlm, 'genai_ledger.billed'), true);
      assert.match(String(attr(forwardedLlm, 'genai_ledger.price_snapshot')), /genai-prices/);
      const [resourceSpans] = sink.received[0]!.request.resourceSpans;
      assert.deepEqual(resourceSpans!.resource, request.resourceSpans[0]!.resource);
      assert.equal(resourceSpans!.schemaUrl, request.resourceSpans[0]!.schemaUrl);
    });

    test('a slow destination does not hold the ledger’s answer; a dead one neither', async () => {
      const sink = await OtlpSink.start(protocol);
      cleanup.push(() => sink.stop());
      sink.hold();
      const dead = await freePort();
      const server = await startTestServer({
        exporters: { otlp: { slow: { endpoint: sink.endpoint }, dead: { endpoint: `${protocol === 'http' ? 'http' : 'grpc'}://127.0.0.1:${dead}` } } },
      });
      cleanup.push(() => server.close());
      for (let i = 0; i < 5; i++) assert.equal(await post(server, appTrace().request), 200, 'answered while the destination holds');
      assert.deepEqual(await countLedgerSpansOf(server), { billed: 5, duplicates: 0 });
      sink.release();
      await eventually(() => sink.acceptedSpans().length >= 15, 'all spans delivered once released');
    });
  });
}

async function countLedgerSpansOf(server: TestServer) {
  const reader = await server.server.openReader();
  try {
    const result = await reader.runAndReadAll('SELECT (SELECT count(*) FROM genai_calls), (SELECT count(*) FROM genai_duplicate_spans)');
    const [billed, duplicates] = result.getRows()[0]!;
    return { billed: Number(billed), duplicates: Number(duplicates) };
  } finally {
    reader.closeSync();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

