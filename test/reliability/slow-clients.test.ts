/**
 * Slow and stalled clients cannot pin the server: slowloris connections that trickle headers and uploads
 * whose body never finishes are cut off by the header/request timeouts (configured short here), their
 * in-flight budget is released, and other clients are served meanwhile and afterwards.
 * The test timeouts are the failure mode: before connectionsCheckingInterval was set, Node enforced the
 * timeouts only every 30 s and these tests timed out.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { syntheticRequest } from '../helpers/synthetic-requests.js';
import { encodeTraceRequestProtobuf } from '../../receivers/otlp/testing/encode-protobuf.js';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { RawGrpcClient } from './grpc-raw-client.js';

const PROTOBUF = { 'content-type': 'application/x-protobuf' };

/** Every socket a test opened, destroyed before the server is closed so a failing test cannot hang the run. */
const opened: Socket[] = [];

function openSocket(port: number): Promise<{ socket: Socket; closed: Promise<string>; received: () => string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      opened.push(socket);
      let received = '';
      socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
      const closed = new Promise<string>((done) => socket.once('close', () => done(received)));
      resolve({ socket, closed, received: () => received });
    });
    socket.once('error', reject);
    socket.on('error', () => undefined);
  });
}

async function postValid(url: string, spans = 10): Promise<number> {
  const res = await fetch(`${url}/v1/traces`, {
    method: 'POST',
    body: encodeTraceRequestProtobuf(syntheticRequest({ spans, services: ['slow-test'] })),
    headers: PROTOBUF,
  });
  await res.arrayBuffer();
  return res.status;
}

describe('slow and stalled clients', () => {
  let server: TestServer;
  let port: number;
  before(async () => {
    server = await startTestServer({
      receivers: { otlp: { http: { headersTimeoutMs: 400, requestTimeoutMs: 800 }, grpc: { maxRequestBytes: 64 * 1024 } } },
      pipeline: { maxInFlightBytes: 2000 },
    });
    port = Number(new URL(server.httpUrl).port);
  });
  after(async () => {
    for (const socket of opened) socket.destroy();
    await server.close();
  });

  test('50 slowloris connections trickling headers are all cut off; others are served meanwhile', { timeout: 10_000 }, async () => {
    const loris = await Promise.all(Array.from({ length: 50 }, () => openSocket(port)));
    const trickle = setInterval(() => {
      for (const { socket } of loris) if (!socket.destroyed) socket.write('X-Slow: a\r\n');
    }, 100);
    try {
      for (const { socket } of loris) socket.write('POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n');
      assert.equal(await postValid(server.httpUrl), 200, 'served while 50 connections stall');
      const answers = await Promise.all(loris.map((l) => l.closed));
      for (const answer of answers) assert.ok(answer === '' || answer.startsWith('HTTP/1.1 408'), answer.slice(0, 40));
    } finally {
      clearInterval(trickle);
    }
    assert.equal(await postValid(server.httpUrl), 200);
  });

  test('a body that never finishes is cut off and its in-flight bytes are released', { timeout: 10_000 }, async () => {
    // Start an upload that stops after 1500 bytes; once the server holds those bytes (nothing else is in
    // flight), a larger request exceeds the 2000-byte budget and is refused.
    let stalled = await openSocket(port);
    let status = 0;
    for (let attempt = 0; attempt < 20 && status !== 429; attempt++) {
      if (stalled.received() !== '') stalled = await openSocket(port);
      if (stalled.socket.bytesWritten === 0) {
        stalled.socket.write(
          'POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 100000\r\n\r\n',
        );
        stalled.socket.write(Buffer.alloc(1500, 0x0a));
      }
      await new Promise((r) => setTimeout(r, 20));
      status = await postValid(server.httpUrl, 20);
    }
    assert.equal(status, 429, `the stalled upload holds in-flight bytes while it lasts (stalled answer so far: ${JSON.stringify(stalled.received())})`);
    const answer = await stalled.closed;
    assert.ok(answer === '' || /^HTTP\/1\.1 (408|400)/.test(answer), answer.slice(0, 40));
    assert.equal(await postValid(server.httpUrl, 20), 200, 'budget released once the stalled upload is cut off');
  });

  test('while the budget is spent, gRPC calls are refused on their metadata, before the message is read', { timeout: 10_000 }, async () => {
    // A lone upload is always admitted, even past the budget: 2,500 bytes held of a 2,000-byte budget.
    const stalled = await openSocket(port);
    stalled.socket.write('POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: 100000\r\n\r\n');
    stalled.socket.write(Buffer.alloc(2500, 0x0a));
    const client = new RawGrpcClient(server.grpcUrl.replace('http://', ''));
    try {
      // 100 KiB is past the gRPC size limit: read, it would be RESOURCE_EXHAUSTED; refused first, UNAVAILABLE.
      let outcome = await client.export(new Uint8Array(100 * 1024));
      for (let i = 0; i < 50 && outcome.error?.code !== GrpcStatus.UNAVAILABLE; i++) {
        await new Promise((r) => setTimeout(r, 10));
        outcome = await client.export(new Uint8Array(100 * 1024));
      }
      assert.equal(outcome.error?.code, GrpcStatus.UNAVAILABLE);
      assert.deepEqual(outcome.error?.metadata.get('retry-after'), ['1']);
      await stalled.closed;
      const after = await client.export(new Uint8Array(100 * 1024));
      assert.equal(after.error?.code, GrpcStatus.RESOURCE_EXHAUSTED, 'budget released: the message is read (and is too large)');
    } finally {
      client.close();
    }
  });
});
