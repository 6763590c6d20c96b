/**
 * The OTLP/gRPC receiver's statuses over a real socket, with a raw grpc-js client so the bytes sent are
 * exactly what the test says: OK (plain and gzip), INVALID_ARGUMENT, RESOURCE_EXHAUSTED (too large) and
 * UNAVAILABLE (overload, shutdown).
 */
import { after, before, describe, test } from 'node:test';
import { request as httpRequest } from 'node:http';
import assert from 'node:assert/strict';
import { Metadata } from '@grpc/grpc-js';
import { exportRaw } from './reliability/grpc-raw-client.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';
import { syntheticRequest } from './helpers/synthetic-requests.js';
import { readLedgerRows } from './helpers/ledger-rows.js';
import { encodeTraceRequestProtobuf } from '../receivers/otlp/testing/encode-protobuf.js';
import { decodeExportResponseProtobuf } from '../receivers/otlp/encode-response.js';

describe('OTLP/gRPC receiver statuses', () => {
  let server: TestServer;
  let address: string;
  before(async () => {
    server = await startTestServer({ receivers: { otlp: { grpc: { maxRequestBytes: 1024 * 1024 } } } });
    address = server.grpcUrl.replace('http://', '');
  });
  after(async () => server.close());

  test('OK with an empty ExportTraceServiceResponse; gzip accepted', async () => {
    for (const gzip of [false, true]) {
      const body = encodeTraceRequestProtobuf(syntheticRequest({ spans: 25, services: [`grpc-${gzip}`] }));
      const { error, response } = await exportRaw(address, body, gzip);
      assert.equal(error, null);
      assert.deepEqual(decodeExportResponseProtobuf(response!), { rejectedSpans: 0, errorMessage: '' });
    }
  });

  test('INVALID_ARGUMENT for an undecodable message, with the reason', async () => {
    const { error } = await exportRaw(address, new Uint8Array([0x0a, 0xff, 0x01]));
    assert.equal(error?.code, 3);
    assert.match(error?.details ?? '', /protobuf/i);
  });

  test('RESOURCE_EXHAUSTED for a message over the limit (also after decompression)', async () => {
    const big = new Uint8Array(2 * 1024 * 1024);
    assert.equal((await exportRaw(address, big)).error?.code, 8);
    assert.equal((await exportRaw(address, big, true)).error?.code, 8);
  });
});

describe('OTLP/gRPC receiver under overload', () => {
  test('UNAVAILABLE with retry-after when the shared in-flight budget is spent', async () => {
    const server = await startTestServer({ pipeline: { maxInFlightBytes: 4096 } });
    try {
      // A slow HTTP client holds 3000 bytes of an unfinished body: the budget is shared by both transports.
      const slow = httpRequest(`${server.httpUrl}/v1/traces`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-protobuf', 'content-length': '10000' },
      });
      slow.on('error', () => {});
      slow.write(new Uint8Array(3000));
      await new Promise((r) => setTimeout(r, 300));
      const address = server.grpcUrl.replace('http://', '');
      const refused = await exportRaw(address, encodeTraceRequestProtobuf(syntheticRequest({ spans: 40 })));
      assert.equal(refused.error?.code, 14);
      assert.equal(refused.error?.metadata.get('retry-after')[0], '1');
      slow.destroy();
      await new Promise((r) => setTimeout(r, 200));
      const accepted = await exportRaw(address, encodeTraceRequestProtobuf(syntheticRequest({ spans: 40 })));
      assert.equal(accepted.error, null);
    } finally {
      await server.close();
    }
  });
});

describe('OTLP/gRPC receiver under shutdown', () => {
  test('UNAVAILABLE with retry-after once the pipeline stopped accepting; acknowledged rows are kept', async () => {
    const server = await startTestServer();
    const address = server.grpcUrl.replace('http://', '');
    const ok = await exportRaw(address, encodeTraceRequestProtobuf(syntheticRequest({ spans: 5, services: ['kept'] })));
    assert.equal(ok.error, null);
    await server.server.pipeline.shutdown();
    const refused = await exportRaw(address, encodeTraceRequestProtobuf(syntheticRequest({ spans: 5 })));
    assert.equal(refused.error?.code, 14);
    assert.equal(refused.error?.metadata.get('retry-after')[0], '1');
    await server.server.shutdown();
    assert.equal((await readLedgerRows(server.dbPath)).length, 5);
    await server.close();
  });
});
