import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';
import { after, afterEach, describe, it } from 'node:test';
import { status as GrpcStatus, Metadata } from '@grpc/grpc-js';
import { selfSignedCert } from '../../test/reliability/tls-cert.js';
import type { OtlpForwarderConfigInput } from './config.js';
import { retryInfoDelayMs, serverRetryDelayMs } from './grpc-sender.js';
import type { OtlpForwarderOptions } from './otlp-forwarder.js';
import { expectedIds, numberedRequest, uniqueIds } from './testing/forward-requests.js';
import { Cleanups, deadPort, enrich, startForwarder, startSink } from './testing/forwarder-harness.js';
import { eventually, statusWithRetryInfo, type OtlpSink } from './testing/otlp-sink.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());
const sink = (options: Parameters<typeof OtlpSink.start>[1] = {}) => startSink(cleanups, 'grpc', options);
const forwarder = (endpoint: string, config: Partial<OtlpForwarderConfigInput> = {}, options: OtlpForwarderOptions = {}) =>
  startForwarder(cleanups, endpoint, config, options);

describe('OtlpForwarder over OTLP/gRPC', () => {
  it('delivers every span through TraceService/Export, gzip-compressed, with the headers as metadata', async () => {
    const s = await sink();
    const { f } = await forwarder(s.endpoint, { headers: { 'dd-api-key': { env: 'K' }, 'x-scope-orgid': 'tenant-a' } }, { env: { K: 'k-9' } });
    const requests = [0, 1].map((b) => numberedRequest(b, 5, 'y'.repeat(2000)));
    for (const r of requests) f.forward(r, enrich);
    await eventually(() => f.stats.sentSpans === 10, 'all spans sent');
    assert.deepEqual(uniqueIds(s.acceptedSpans()), expectedIds(2, 5));
    const first = s.received[0]!;
    assert.equal(first.headers['dd-api-key'], 'k-9');
    assert.equal(first.headers['x-scope-orgid'], 'tenant-a');
    assert.match(first.headers['user-agent'] ?? '', /genai-ledger-otlp-forwarder/);
    const plain = first.request.resourceSpans[0]!.scopeSpans[0]!.spans[1]!;
    assert.deepEqual(plain, requests[0]!.resourceSpans[0]!.scopeSpans[0]!.spans[1]);
    const genai = first.request.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    assert.deepEqual(genai.attributes.at(-1), { key: 'genai_ledger.price_snapshot', value: 'p1' });
  });

  it('compresses messages with gzip unless compression is none (bytes counted on the wire by a TCP proxy)', async () => {
    const s = await sink();
    const wireBytes = async (compression: 'gzip' | 'none') => {
      const proxy = await countingProxy(s.port);
      const { f } = await forwarder(`grpc://127.0.0.1:${proxy.port}`, { compression });
      f.forward(numberedRequest(0, 20, 'z'.repeat(1000)), enrich);
      await eventually(() => f.stats.sentSpans === 20, 'sent');
      await f.shutdown();
      await proxy.close();
      return proxy.bytesUp();
    };
    const gzip = await wireBytes('gzip');
    const none = await wireBytes('none');
    assert.ok(none > 20_000, `uncompressed: ${none} bytes`);
    assert.ok(gzip * 5 < none, `gzip ${gzip} bytes vs none ${none} bytes`);
    assert.deepEqual(s.received[0]!.request, s.received[1]!.request, 'same message either way');
  });

  it('UNAVAILABLE (and other retryable codes) are retried with backoff; then OK', async () => {
    const s = await sink();
    s.answer(
      { kind: 'grpc', code: GrpcStatus.UNAVAILABLE, details: 'overloaded' },
      { kind: 'grpc', code: GrpcStatus.DEADLINE_EXCEEDED },
      { kind: 'grpc', code: GrpcStatus.ABORTED },
    );
    const { f, retries, logged } = await forwarder(s.endpoint);
    f.forward(numberedRequest(0, 3), enrich);
    await eventually(() => f.stats.sentSpans === 3, 'sent after retries');
    assert.equal(retries.length, 3);
    assert.equal(logged(/is unavailable \(gRPC UNAVAILABLE: overloaded\)/), 1);
    assert.equal(s.acceptedSpans().length, 3);
  });

  it('RESOURCE_EXHAUSTED is retried only with retry info (RetryInfo or retry-after), waiting what it says', async () => {
    const s = await sink();
    s.answer(
      { kind: 'grpc', code: GrpcStatus.RESOURCE_EXHAUSTED, details: 'quota', retryInfoMs: 300 },
      { kind: 'grpc', code: GrpcStatus.UNAVAILABLE, retryAfter: '1' },
      { kind: 'grpc', code: GrpcStatus.RESOURCE_EXHAUSTED, details: 'message too big' },
    );
    const { f, retries, logged } = await forwarder(s.endpoint);
    f.forward(numberedRequest(0, 3), enrich);
    await eventually(() => f.stats.failedSpans === 3, 'refused once no retry info came');
    assert.deepEqual(retries.map((r) => r.serverDelayMs), [300, 1000]);
    assert.ok(retries[0]!.delayMs >= 300 && retries[1]!.delayMs >= 1000);
    assert.equal(logged(/refused a request \(gRPC RESOURCE_EXHAUSTED: message too big\)/), 1);
    assert.equal(f.stats.sentSpans, 0);
  });

  it('INVALID_ARGUMENT and other final codes: dropped and counted, logged once per episode', async () => {
    const s = await sink();
    s.answer(
      { kind: 'grpc', code: GrpcStatus.INVALID_ARGUMENT, details: 'bad trace id' },
      { kind: 'grpc', code: GrpcStatus.UNAUTHENTICATED },
      { kind: 'grpc', code: GrpcStatus.PERMISSION_DENIED },
    );
    const { f, logged } = await forwarder(s.endpoint);
    for (let b = 0; b < 3; b++) f.forward(numberedRequest(b, 2), enrich);
    await eventually(() => f.stats.failedSpans === 6, 'all refused');
    assert.equal(f.stats.retries, 0);
    assert.equal(logged(/refused a request/), 1);
    assert.match(f.stats.lastError ?? '', /PERMISSION_DENIED/);
  });

  it('partial success: rejected spans counted as failed', async () => {
    const s = await sink();
    s.answer({ kind: 'ok', rejectedSpans: 1, errorMessage: 'one span too old' });
    const { f } = await forwarder(s.endpoint);
    f.forward(numberedRequest(0, 4), enrich);
    await eventually(() => f.stats.sentSpans + f.stats.failedSpans === 4, 'answered');
    assert.deepEqual([f.stats.sentSpans, f.stats.failedSpans], [3, 1]);
  });

  it('destination down, then up: nothing lost', async () => {
    const port = await deadPort('grpc');
    const { f } = await forwarder(`grpc://127.0.0.1:${port}`, { retry: { initialIntervalMs: 10, maxIntervalMs: 100 } });
    for (let b = 0; b < 4; b++) f.forward(numberedRequest(b, 3), enrich);
    await eventually(() => f.stats.retries >= 2, 'retrying');
    assert.match(f.stats.lastError ?? '', /UNAVAILABLE/);
    const s = await sink({ port });
    await eventually(() => f.stats.sentSpans === 12, 'all sent once the destination is up');
    assert.deepEqual(uniqueIds(s.acceptedSpans()), expectedIds(4, 3));
  });

  it('slow destination: forward() returns while the answer is held; one call in flight', async () => {
    const s = await sink();
    s.hold();
    const { f } = await forwarder(s.endpoint);
    f.forward(numberedRequest(0, 2), enrich);
    await eventually(() => s.received.length === 1, 'first call arrived');
    f.forward(numberedRequest(1, 2), enrich);
    assert.equal(f.stats.sentSpans, 0);
    assert.equal(f.stats.queuedBatches, 2);
    assert.equal(s.received.length, 1);
    s.release();
    await eventually(() => f.stats.sentSpans === 4, 'both sent');
  });

  it('shutdown cancels a held call and returns', async () => {
    const s = await sink();
    s.hold();
    const { f } = await forwarder(s.endpoint, { shutdownTimeoutMs: 50 });
    f.forward(numberedRequest(0, 2), enrich);
    await eventually(() => s.received.length === 1, 'call in flight');
    await f.shutdown();
    assert.equal(f.stats.droppedSpans, 2);
  });
});

describe('OtlpForwarder over gRPC with TLS', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('delivers to grpcs:// with tls.caFile; without it the certificate is refused', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'fwd-grpc-tls-'));
    dirs.push(dir);
    const cert = await selfSignedCert(dir);
    if (cert === null) return t.skip('openssl is not installed');
    const s = await sink({ tls: { cert: await readFile(cert.certFile), key: await readFile(cert.keyFile) } });
    const trusted = await forwarder(s.endpoint, { tls: { caFile: cert.certFile } });
    trusted.f.forward(numberedRequest(0, 2), enrich);
    await eventually(() => trusted.f.stats.sentSpans === 2, 'sent over TLS');

    const untrusted = await forwarder(s.endpoint);
    untrusted.f.forward(numberedRequest(1, 2), enrich);
    await eventually(() => untrusted.f.stats.retries >= 1, 'certificate refused');
    assert.match(untrusted.f.stats.lastError ?? '', /UNAVAILABLE/);
  });
});

describe('gRPC retry info', () => {
  it('reads google.rpc.RetryInfo from grpc-status-details-bin, else retry-after seconds', () => {
    assert.equal(retryInfoDelayMs(statusWithRetryInfo(8, 'x', 2500)), 2500);
    assert.equal(retryInfoDelayMs(new Uint8Array([0xff, 0xff])), null);
    const md = new Metadata();
    assert.equal(serverRetryDelayMs(md), null);
    md.set('retry-after', '2');
    assert.equal(serverRetryDelayMs(md), 2000);
    md.set('grpc-status-details-bin', statusWithRetryInfo(14, '', 40));
    assert.equal(serverRetryDelayMs(md), 40);
  });
});

/** A TCP proxy to 127.0.0.1:`target` that counts the bytes sent from client to server. */
async function countingProxy(target: number): Promise<{ port: number; bytesUp: () => number; close: () => Promise<void> }> {
  let up = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: target });
    sockets.add(client).add(upstream);
    client.on('data', (chunk: Buffer) => {
      up += chunk.length;
    });
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    bytesUp: () => up,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
