/**
 * Every status the OTLP/HTTP receiver can answer, over a real socket: 200 (full and partial success,
 * in the request's encoding), 400, 404, 405, 413 (plain and gzip bomb), 415, 429 and 503.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { startTestServer, type TestServer } from './helpers/test-server.js';
import { syntheticRequest } from './helpers/synthetic-requests.js';
import { readLedgerRows } from './helpers/ledger-rows.js';
import { encodeTraceRequestProtobuf } from '../receivers/otlp/testing/encode-protobuf.js';
import { decodeExportResponseProtobuf, decodeStatusProtobuf } from '../receivers/otlp/encode-response.js';

const PROTOBUF = { 'content-type': 'application/x-protobuf' };
const JSON_TYPE = { 'content-type': 'application/json' };

async function post(url: string, body: Uint8Array | string, headers: Record<string, string>) {
  const res = await fetch(`${url}/v1/traces`, { method: 'POST', body, headers });
  return { status: res.status, headers: res.headers, body: new Uint8Array(await res.arrayBuffer()) };
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe('OTLP/HTTP receiver statuses', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ receivers: { otlp: { http: { maxRequestBytes: 1024 * 1024 } } } });
  });
  after(async () => server.close());

  test('200: protobuf request gets an empty protobuf ExportTraceServiceResponse', async () => {
    const res = await post(server.httpUrl, encodeTraceRequestProtobuf(syntheticRequest({ spans: 10 })), PROTOBUF);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/x-protobuf');
    assert.deepEqual(decodeExportResponseProtobuf(res.body), { rejectedSpans: 0, errorMessage: '' });
  });

  test('200: JSON request gets a JSON response', async () => {
    const body = JSON.stringify({ resourceSpans: [] });
    const res = await post(server.httpUrl, body, JSON_TYPE);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.deepEqual(JSON.parse(text(res.body)), {});
  });

  test('200 with partial_success: a GenAI span with an all-zero trace id is rejected, the rest kept', async () => {
    const request = syntheticRequest({ spans: 4, services: ['partial-svc'] });
    const spans = request.resourceSpans[0]!.scopeSpans[0]!.spans;
    spans[0]!.traceId = '0'.repeat(32);
    const res = await post(server.httpUrl, encodeTraceRequestProtobuf(request), PROTOBUF);
    assert.equal(res.status, 200);
    const response = decodeExportResponseProtobuf(res.body);
    assert.equal(response.rejectedSpans, 1);
    assert.match(response.errorMessage, /invalid trace_id/);
  });

  test('400: undecodable protobuf, with a google.rpc.Status saying why', async () => {
    const res = await post(server.httpUrl, new Uint8Array([0x0a, 0xff, 0x01, 0x02]), PROTOBUF);
    assert.equal(res.status, 400);
    const status = decodeStatusProtobuf(res.body);
    assert.equal(status.code, 3); // INVALID_ARGUMENT
    assert.match(status.message, /protobuf/i);
  });

  test('400: malformed JSON and wrongly typed JSON, answered in JSON', async () => {
    for (const body of ['{"resourceSpans": [', '{"resourceSpans": 5}']) {
      const res = await post(server.httpUrl, body, JSON_TYPE);
      assert.equal(res.status, 400, body);
      const status = JSON.parse(text(res.body)) as { code: number; message: string };
      assert.equal(status.code, 3);
      assert.ok(status.message.length > 0);
    }
  });

  test('400: a body that claims gzip but is not', async () => {
    const res = await post(server.httpUrl, new Uint8Array([1, 2, 3, 4, 5]), { ...PROTOBUF, 'content-encoding': 'gzip' });
    assert.equal(res.status, 400);
    assert.match(decodeStatusProtobuf(res.body).message, /gzip/);
  });

  test('gzip bodies are accepted', async () => {
    const body = gzipSync(encodeTraceRequestProtobuf(syntheticRequest({ spans: 20, services: ['gzip-svc'] })));
    const res = await post(server.httpUrl, body, { ...PROTOBUF, 'content-encoding': 'gzip' });
    assert.equal(res.status, 200);
  });

  test('404: unknown path; 405: not POST', async () => {
    const notFound = await fetch(`${server.httpUrl}/v1/metrics`, { method: 'POST', body: '{}', headers: JSON_TYPE });
    assert.equal(notFound.status, 404);
    const wrongMethod = await fetch(`${server.httpUrl}/v1/traces`);
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get('allow'), 'POST');
    assert.match(((await wrongMethod.json()) as { message: string }).message, /POST/);
  });

  test('415: unknown content type or content encoding', async () => {
    const type = await post(server.httpUrl, 'hello', { 'content-type': 'text/plain' });
    assert.equal(type.status, 415);
    assert.match(text(type.body), /content-type/);
    const encoding = await post(server.httpUrl, new Uint8Array([1]), { ...PROTOBUF, 'content-encoding': 'br' });
    assert.equal(encoding.status, 415);
  });

  test('413: body over the limit', async () => {
    const res = await post(server.httpUrl, new Uint8Array(1024 * 1024 + 1), PROTOBUF);
    assert.equal(res.status, 413);
    assert.equal(decodeStatusProtobuf(res.body).code, 8);
  });

  test('413: a gzip bomb is measured after decompression and stopped at the limit', async () => {
    const bomb = gzipSync(new Uint8Array(200 * 1024 * 1024)); // 200 MiB of zeros, ~200 KiB compressed
    assert.ok(bomb.length < 1024 * 1024);
    const before = process.memoryUsage().rss;
    const res = await post(server.httpUrl, bomb, { ...PROTOBUF, 'content-encoding': 'gzip' });
    assert.equal(res.status, 413);
    assert.match(decodeStatusProtobuf(res.body).message, /after decompression/);
    // The server runs in this process: had it inflated the bomb, RSS would have grown by ~200 MiB.
    assert.ok(process.memoryUsage().rss - before < 100 * 1024 * 1024);
  });
});

describe('OTLP/HTTP receiver under overload and shutdown', () => {
  test('429 with Retry-After when the in-flight byte budget is spent', async () => {
    const server = await startTestServer({ pipeline: { maxInFlightBytes: 4096 } });
    try {
      // A slow client holds 3000 bytes of an unfinished body in flight.
      const slow = httpRequest(`${server.httpUrl}/v1/traces`, {
        method: 'POST',
        headers: { ...PROTOBUF, 'content-length': '10000' },
      });
      slow.on('error', () => {});
      slow.write(new Uint8Array(3000));
      await new Promise((r) => setTimeout(r, 300));
      const res = await post(server.httpUrl, new Uint8Array(2000), PROTOBUF);
      assert.equal(res.status, 429);
      assert.equal(res.headers.get('retry-after'), '1');
      slow.destroy();
      // Once the slow client is gone, the budget is free again.
      await new Promise((r) => setTimeout(r, 200));
      const ok = await post(server.httpUrl, encodeTraceRequestProtobuf(syntheticRequest({ spans: 2 })), PROTOBUF);
      assert.equal(ok.status, 200);
    } finally {
      await server.close();
    }
  });

  test('503 with Retry-After once the pipeline has stopped accepting', async () => {
    const server = await startTestServer();
    try {
      await server.server.pipeline.shutdown();
      const res = await post(server.httpUrl, encodeTraceRequestProtobuf(syntheticRequest({ spans: 2 })), PROTOBUF);
      assert.equal(res.status, 503);
      assert.ok(Number(res.headers.get('retry-after')) >= 1);
      assert.equal(decodeStatusProtobuf(res.body).code, 14);
    } finally {
      await server.close();
    }
  });

  test('rows of acknowledged requests are in the ledger', async () => {
    const server = await startTestServer();
    const request = syntheticRequest({ spans: 50, genAiShare: 0.2, services: ['ack-svc'] });
    const res = await post(server.httpUrl, encodeTraceRequestProtobuf(request), PROTOBUF);
    assert.equal(res.status, 200);
    await server.server.shutdown();
    const rows = await readLedgerRows(server.dbPath);
    assert.equal(rows.length, 10);
    await server.close();
  });
});
