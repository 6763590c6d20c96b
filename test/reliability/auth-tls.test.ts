/**
 * Security of the receivers over real sockets: 127.0.0.1 by default, optional bearer-token auth on both
 * transports (401 / UNAUTHENTICATED, nothing written), TLS on both with files given in config.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, status as GrpcStatus } from '@grpc/grpc-js';
import { LedgerConfig } from '../../src/config/ledger-config.js';
import { startTestServer, type TestServer } from '../helpers/test-server.js';
import { syntheticRequest } from '../helpers/synthetic-requests.js';
import { readLedgerRows } from '../helpers/ledger-rows.js';
import { encodeTraceRequestProtobuf } from '../../receivers/otlp/testing/encode-protobuf.js';
import { decodeStatusProtobuf } from '../../receivers/otlp/encode-response.js';
import { RawGrpcClient } from './grpc-raw-client.js';
import { selfSignedCert } from './tls-cert.js';

const TOKEN = 'test-token-5f2c9a7e41d8b0aa';
const body = (service: string, spans = 3) => encodeTraceRequestProtobuf(syntheticRequest({ spans, services: [service] }));
const PROTOBUF = { 'content-type': 'application/x-protobuf' };

test('both receivers bind 127.0.0.1 unless the config says otherwise', () => {
  const config = LedgerConfig.parse({});
  assert.equal(config.receivers.otlp.http.host, '127.0.0.1');
  assert.equal(config.receivers.otlp.grpc.host, '127.0.0.1');
  assert.deepEqual(config.receivers.otlp.auth, {});
  assert.equal(config.receivers.otlp.http.tls, undefined);
});

describe('bearer-token authentication', () => {
  let server: TestServer;
  let tokenDir: string;
  before(async () => {
    tokenDir = await mkdtemp(join(tmpdir(), 'genai-ledger-token-'));
    const tokenFile = join(tokenDir, 'tokens');
    await writeFile(tokenFile, `# accepted tokens\n${TOKEN}\n`);
    server = await startTestServer({ receivers: { otlp: { auth: { tokenFile }, grpc: { maxRequestBytes: 1024 * 1024 } } } });
  });
  after(async () => {
    await server.close();
    await rm(tokenDir, { recursive: true, force: true });
  });

  test('OTLP/HTTP: 401 with a google.rpc.Status UNAUTHENTICATED without the token, 200 with it', async () => {
    for (const authorization of [undefined, 'Bearer wrong-token-000000000000', `Basic ${TOKEN}`, `Bearer ${TOKEN}0`]) {
      const res = await fetch(`${server.httpUrl}/v1/traces`, {
        method: 'POST',
        body: body('auth-refused'),
        headers: { ...PROTOBUF, ...(authorization ? { authorization } : {}) },
      });
      assert.equal(res.status, 401, String(authorization));
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
      const status = decodeStatusProtobuf(new Uint8Array(await res.arrayBuffer()));
      assert.equal(status.code, 16);
      assert.match(status.message, /bearer token/);
    }
    const ok = await fetch(`${server.httpUrl}/v1/traces`, {
      method: 'POST',
      body: body('auth-accepted'),
      headers: { ...PROTOBUF, authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();
  });

  test('OTLP/gRPC: UNAUTHENTICATED without the token, OK with it', async () => {
    const client = new RawGrpcClient(server.grpcUrl.replace('http://', ''));
    try {
      const refused = await client.export(body('auth-refused'));
      assert.equal(refused.error?.code, GrpcStatus.UNAUTHENTICATED);
      const wrong = await client.export(body('auth-refused'), { authorization: 'Bearer nope-nope-nope-nope-nope' });
      assert.equal(wrong.error?.code, GrpcStatus.UNAUTHENTICATED);
      const ok = await client.export(body('auth-accepted'), { authorization: `Bearer ${TOKEN}` });
      assert.equal(ok.error, null);
      // Refused on its metadata, before the message is read: an oversized message is UNAUTHENTICATED,
      // not RESOURCE_EXHAUSTED.
      const big = await client.export(new Uint8Array(2 * 1024 * 1024));
      assert.equal(big.error?.code, GrpcStatus.UNAUTHENTICATED);
    } finally {
      client.close();
    }
  });

  test('nothing from an unauthenticated request reached the ledger', async () => {
    await server.server.shutdown();
    const rows = await readLedgerRows(server.dbPath);
    assert.equal(rows.filter((r) => r.service === 'auth-refused').length, 0);
    assert.equal(rows.filter((r) => r.service === 'auth-accepted').length, 6);
  });
});

describe('TLS', () => {
  let dir: string;
  let cert: { certFile: string; keyFile: string } | null;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'genai-ledger-tls-'));
    cert = await selfSignedCert(dir);
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  test('HTTPS and gRPC over TLS with the configured files; plaintext is refused', async (t) => {
    if (cert === null) return t.skip('openssl is not installed: cannot generate a test certificate');
    const server = await startTestServer({ receivers: { otlp: { http: { tls: cert }, grpc: { tls: cert } } } });
    try {
      const ca = await readFile(cert.certFile);
      const http = server.server.listeners.find((l) => l.name === 'otlp/http')!;
      const grpc = server.server.listeners.find((l) => l.name === 'otlp/grpc')!;
      assert.equal(http.tls, true);
      assert.equal(grpc.tls, true);

      const payload = body('tls-svc', 4);
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpsRequest(
          { host: '127.0.0.1', port: http.port, path: '/v1/traces', method: 'POST', ca, headers: PROTOBUF },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end(payload);
      });
      assert.equal(status, 200);
      // Plain HTTP to the TLS port gets no OTLP answer.
      const plain = await fetch(`http://127.0.0.1:${http.port}/v1/traces`, { method: 'POST', body: payload, headers: PROTOBUF }).then(
        (r) => r.status,
        () => 'refused',
      );
      assert.notEqual(plain, 200);

      const tlsClient = new RawGrpcClient(`localhost:${grpc.port}`, { credentials: credentials.createSsl(ca) });
      const plainClient = new RawGrpcClient(`127.0.0.1:${grpc.port}`, { channelOptions: { 'grpc.initial_reconnect_backoff_ms': 50 } });
      try {
        assert.equal((await tlsClient.export(body('tls-svc', 2))).error, null);
        const refused = await plainClient.export(body('tls-plain', 2));
        assert.equal(refused.error?.code, GrpcStatus.UNAVAILABLE);
      } finally {
        tlsClient.close();
        plainClient.close();
      }
      await server.server.shutdown();
      const rows = await readLedgerRows(server.dbPath);
      assert.equal(rows.filter((r) => r.service === 'tls-svc').length, 6);
      assert.equal(rows.filter((r) => r.service === 'tls-plain').length, 0);
    } finally {
      await server.close();
    }
  });

  test('a missing or non-PEM TLS file stops startup naming the key and file', async (t) => {
    if (cert === null) return t.skip('openssl is not installed');
    await assert.rejects(
      startTestServer({ receivers: { otlp: { http: { tls: { certFile: join(dir, 'nope.pem'), keyFile: cert.keyFile } } } } }),
      /receivers\.otlp\.http\.tls\.certFile: cannot read .*nope\.pem/,
    );
    await assert.rejects(
      startTestServer({ receivers: { otlp: { grpc: { tls: { certFile: cert.certFile, keyFile: cert.certFile } } } } }),
      /receivers\.otlp\.grpc\.tls\.keyFile: .* is not a PEM file/,
    );
  });
});
