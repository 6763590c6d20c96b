import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import { findAttribute, type Span } from '../../core/otlp.js';
import { selfSignedCert } from '../../test/reliability/tls-cert.js';
import { OtlpForwarderConfig, type OtlpForwarderConfigInput } from './config.js';
import { encodeTraceRequest } from './encode-trace-request.js';
import { enrichmentAttributes } from './enrichment.js';
import { parseRetryAfter } from './http-sender.js';
import { OtlpForwarder, type OtlpForwarderOptions } from './otlp-forwarder.js';
import { expectedIds, numberedRequest, uniqueIds } from './testing/forward-requests.js';
import { Cleanups, deadPort, enrich, startForwarder, startSink } from './testing/forwarder-harness.js';
import { eventually, type OtlpSink } from './testing/otlp-sink.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());
const sink = (options: Parameters<typeof OtlpSink.start>[1] = {}) => startSink(cleanups, 'http', options);
const forwarder = (endpoint: string, config: Partial<OtlpForwarderConfigInput> = {}, options: OtlpForwarderOptions = {}) =>
  startForwarder(cleanups, endpoint, config, options);

describe('OtlpForwarder over OTLP/HTTP', () => {
  it('delivers every span as received, GenAI spans enriched, gzip-compressed, with the configured headers', async () => {
    const s = await sink();
    const { f } = await forwarder(
      s.endpoint,
      { headers: { 'dd-api-key': { env: 'TEST_DD_KEY' }, 'X-Scope-OrgID': 'tenant-a' } },
      { env: { TEST_DD_KEY: 'k-123' } },
    );
    const requests = [0, 1, 2].map((b) => numberedRequest(b, 4));
    for (const r of requests) f.forward(r, enrich);
    await eventually(() => f.stats.sentSpans === 12, 'all 12 spans sent');

    assert.deepEqual(uniqueIds(s.acceptedSpans()), expectedIds(3, 4));
    const sent = new Map(s.acceptedSpans().map((span) => [span.spanId, span]));
    for (const original of requests.flatMap((r) => r.resourceSpans[0]!.scopeSpans[0]!.spans)) {
      const got = sent.get(original.spanId)!;
      if (enrich(original) === null) {
        assert.deepEqual(got, original);
      } else {
        assert.deepEqual(got.attributes.slice(0, original.attributes.length), original.attributes);
        assert.deepEqual(got.attributes.slice(original.attributes.length), [
          { key: 'genai_ledger.cost_usd', value: 0.25 },
          { key: 'genai_ledger.team_id', value: 'team-a' },
          { key: 'genai_ledger.attribution_status', value: 'missing_cost_center' },
          { key: 'genai_ledger.billed', value: true },
          { key: 'genai_ledger.price_snapshot', value: 'p1' },
        ]);
        assert.deepEqual({ ...got, attributes: [] }, { ...original, attributes: [] });
      }
    }
    const first = s.received[0]!;
    assert.equal(first.headers['content-encoding'], 'gzip');
    assert.equal(first.headers['content-type'], 'application/x-protobuf');
    assert.equal(first.headers['dd-api-key'], 'k-123');
    assert.equal(first.headers['x-scope-orgid'], 'tenant-a');
    assert.deepEqual(first.request.resourceSpans[0]!.resource, requests[0]!.resourceSpans[0]!.resource);
    assert.deepEqual(f.stats, { queuedBytes: 0, queuedBatches: 0, queuedSpans: 0, sentSpans: 12, failedSpans: 0, droppedSpans: 0, retries: 0, lastError: null });
  });

  it("with spans: 'genai' forwards only the GenAI spans", async () => {
    const s = await sink();
    const { f } = await forwarder(s.endpoint, { spans: 'genai', compression: 'none' });
    f.forward(numberedRequest(0, 5), enrich);
    await eventually(() => f.stats.sentSpans === 3, 'the 3 GenAI spans sent');
    assert.deepEqual(
      s.acceptedSpans().map((span) => findAttribute(span.attributes, 'seq')),
      [0, 2, 4],
    );
    assert.equal(s.received[0]!.headers['content-encoding'], undefined);
  });

  it('destination down, then up: retries with backoff, logs once, and loses nothing', async () => {
    const port = await deadPort();
    const { f, logged, retries } = await forwarder(`http://127.0.0.1:${port}`);
    for (let b = 0; b < 5; b++) f.forward(numberedRequest(b, 3), enrich);
    await eventually(() => f.stats.retries >= 3, 'a few retries');
    assert.match(f.stats.lastError ?? '', /ECONNREFUSED/);
    assert.equal(f.stats.queuedSpans, 15);
    assert.ok(retries.every((r) => r.delayMs > 0 && r.delayMs <= 40 && r.serverDelayMs === null));

    const s = await sink({ port });
    await eventually(() => f.stats.sentSpans === 15, 'all spans sent after the destination came up');
    assert.deepEqual(uniqueIds(s.acceptedSpans()), expectedIds(5, 3));
    assert.equal(s.acceptedSpans().length, 15, 'each span once');
    assert.equal(logged(/is unavailable \(.*ECONNREFUSED/), 1);
    assert.equal(logged(/is reachable again \(after \d+ failed attempts\)/), 1);
    assert.equal(f.stats.lastError, null);
  });

  it('slow destination: forward() returns while the destination still holds the answer; one request in flight, oldest first', async () => {
    const s = await sink();
    s.hold();
    const { f } = await forwarder(s.endpoint);
    f.forward(numberedRequest(0, 2), enrich);
    await eventually(() => s.received.length === 1, 'the first request reached the destination');
    for (let b = 1; b < 5; b++) {
      f.forward(numberedRequest(b, 2), enrich);
      // forward() has returned and the destination has still not answered anything.
      assert.equal(f.stats.sentSpans, 0);
      assert.equal(f.stats.queuedBatches, b + 1);
    }
    assert.equal(s.received.length, 1, 'no second request while the first is unanswered');
    s.release();
    await eventually(() => f.stats.sentSpans === 10, 'everything sent once the destination answers');
    assert.deepEqual(
      s.received.map((r) => findAttribute(r.request.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes, 'seq')),
      [0, 100_000, 200_000, 300_000, 400_000],
    );
  });

  it('429 with Retry-After: waits at least what the server asked, then delivers once', async () => {
    const s = await sink();
    s.answer({ kind: 'http', status: 429, headers: { 'retry-after': '1' }, message: 'slow down' });
    const { f, retries } = await forwarder(s.endpoint);
    f.forward(numberedRequest(0, 3), enrich);
    await eventually(() => f.stats.sentSpans === 3, 'sent after the retry');
    assert.deepEqual(retries.map((r) => r.serverDelayMs), [1000]);
    assert.ok(retries[0]!.delayMs >= 1000);
    assert.equal(s.received.length, 2);
    assert.deepEqual(s.received[1]!.request, s.received[0]!.request);
    assert.equal(f.stats.retries, 1);
  });

  it('502, 503 and 504 are retried with backoff; then 200', async () => {
    const s = await sink();
    s.answer({ kind: 'http', status: 503 }, { kind: 'http', status: 502 }, { kind: 'http', status: 504, message: 'gateway timeout' });
    const { f, retries, logged } = await forwarder(s.endpoint);
    f.forward(numberedRequest(0, 3), enrich);
    await eventually(() => f.stats.sentSpans === 3, 'sent after three retries');
    assert.equal(retries.length, 3);
    assert.equal(s.acceptedSpans().length, 3);
    assert.equal(logged(/unavailable \(HTTP 503\)/), 1);
  });

  it('a kept-alive connection the server dropped while idle is replaced at once, not counted as an outage', async () => {
    // A raw server: answers the first request on each connection, resets the connection on the second.
    const connections: number[] = [];
    const sockets: Socket[] = [];
    const server = createNetServer((socket) => {
      sockets.push(socket);
      const id = connections.length;
      connections.push(0);
      let buffered = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        const headerEnd = buffered.indexOf('\r\n\r\n');
        if (headerEnd < 0) return;
        const length = Number(/content-length: (\d+)/i.exec(buffered.subarray(0, headerEnd).toString())?.[1] ?? 0);
        if (buffered.length < headerEnd + 4 + length) return;
        buffered = buffered.subarray(headerEnd + 4 + length);
        if (++connections[id]! > 1) return void socket.resetAndDestroy();
        socket.write('HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\nconnection: keep-alive\r\n\r\n');
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.add(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          server.close(() => resolve());
        }),
    );
    const { f, logged } = await forwarder(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    f.forward(numberedRequest(0, 2), enrich);
    await eventually(() => f.stats.sentSpans === 2, 'first sent');
    f.forward(numberedRequest(1, 2), enrich);
    await eventually(() => f.stats.sentSpans === 4, 'second sent, on a new connection');
    assert.deepEqual(connections, [2, 1], 'the second request was reset on the old connection and sent on a new one');
    assert.equal(f.stats.retries, 0);
    assert.equal(logged(/unavailable/), 0);
  });

  it('400 and other final answers: the request is dropped and counted, logged once per episode', async () => {
    const s = await sink();
    s.answer(
      { kind: 'http', status: 400, message: 'bad span' },
      { kind: 'http', status: 401, message: 'no key' },
      { kind: 'http', status: 500 },
    );
    const { f, logged } = await forwarder(s.endpoint);
    for (let b = 0; b < 3; b++) f.forward(numberedRequest(b, 2), enrich);
    await eventually(() => f.stats.failedSpans === 6, 'three requests refused');
    assert.equal(f.stats.retries, 0);
    assert.equal(logged(/refused a request \(HTTP 400: bad span\); its 2 spans are dropped, not retried/), 1);
    assert.equal(logged(/refused a request/), 1, 'one line for the episode, not one per request');
    assert.match(f.stats.lastError ?? '', /HTTP 500/);

    f.forward(numberedRequest(3, 2), enrich);
    await eventually(() => f.stats.sentSpans === 2, 'accepted again');
    assert.equal(logged(/accepts requests again \(6 spans were refused\)/), 1);
    s.answer({ kind: 'http', status: 400, message: 'bad again' });
    f.forward(numberedRequest(4, 2), enrich);
    await eventually(() => f.stats.failedSpans === 8, 'refused again');
    assert.equal(logged(/refused a request/), 2, 'a new episode logs again');
  });

  it('partial success: rejected spans are counted as failed, the rest as sent', async () => {
    const s = await sink();
    s.answer({ kind: 'ok', rejectedSpans: 2, errorMessage: 'attributes too long' });
    const { f, logged } = await forwarder(s.endpoint);
    f.forward(numberedRequest(0, 5), enrich);
    await eventually(() => f.stats.sentSpans + f.stats.failedSpans === 5, 'answered');
    assert.equal(f.stats.sentSpans, 3);
    assert.equal(f.stats.failedSpans, 2);
    assert.equal(logged(/accepted a request only in part: 2 spans rejected \(attributes too long\)/), 1);
  });

  it('queue full: new requests are dropped and counted, memory stays within queue.maxBytes, the first accepted are delivered', async () => {
    const s = await sink();
    s.hold();
    const extraAttributes = (span: Span) => {
      const e = enrich(span);
      return e === null ? null : enrichmentAttributes(e);
    };
    const size = encodeTraceRequest(numberedRequest(9, 10, 'x'.repeat(500)), { extraAttributes })[0]!.bytes.length; // the largest
    const { f, logged } = await forwarder(s.endpoint, { queue: { maxBytes: size * 3 + 10 } });
    for (let b = 0; b < 10; b++) {
      f.forward(numberedRequest(b, 10, 'x'.repeat(500)), enrich);
      assert.ok(f.stats.queuedBytes <= size * 3 + 10);
    }
    assert.equal(f.stats.queuedBatches, 3);
    assert.equal(f.stats.droppedSpans, 70);
    assert.equal(logged(/queue full \(.*\): new spans are dropped until it drains/), 1);
    s.release();
    await eventually(() => f.stats.sentSpans === 30, 'the queued requests delivered');
    assert.deepEqual(uniqueIds(s.acceptedSpans()), expectedIds(3, 10));
    f.forward(numberedRequest(10, 1), enrich);
    assert.equal(logged(/queue has room again; 70 spans were dropped while it was full/), 1);
  });

  it('gives a request up after retry.maxElapsedMs (counted as failed) and goes on with the next', async () => {
    let clock = 1_000_000;
    const s = await sink();
    s.answer(...Array.from({ length: 1000 }, () => ({ kind: 'http' as const, status: 503 })));
    const { f, logged } = await forwarder(s.endpoint, { retry: { initialIntervalMs: 5, maxIntervalMs: 5, maxElapsedMs: 60_000 } }, { now: () => clock });
    f.forward(numberedRequest(0, 4), enrich);
    await eventually(() => f.stats.retries >= 2, 'retrying');
    assert.equal(f.stats.failedSpans, 0);
    clock += 60_001;
    await eventually(() => f.stats.failedSpans === 4, 'given up');
    assert.equal(logged(/gave up on a request not delivered within retry\.maxElapsedMs=60000 \(HTTP 503\)/), 1);
    s.clearAnswers();
    f.forward(numberedRequest(1, 4), enrich);
    await eventually(() => f.stats.sentSpans === 4, 'the next request delivered');
  });

  it('shutdown with the destination down: returns within its time, counts what was not delivered, and forward() after it only counts', async () => {
    const { f, lines } = await forwarder(`http://127.0.0.1:${await deadPort()}`, { shutdownTimeoutMs: 100 });
    f.forward(numberedRequest(0, 3), enrich);
    f.forward(numberedRequest(1, 3), enrich);
    await eventually(() => f.stats.retries >= 1, 'retrying');
    await f.shutdown();
    assert.equal(f.stats.droppedSpans, 6);
    assert.equal(f.stats.queuedBatches, 0);
    assert.ok(lines.some((l) => /6 spans could not be delivered to OTLP\/HTTP .* within shutdownTimeoutMs=100 and are dropped/.test(l)));
    f.forward(numberedRequest(2, 3), enrich);
    assert.equal(f.stats.droppedSpans, 9);
    await f.shutdown();
  });

  it('shutdown cancels a request the destination is holding, and never hangs', async () => {
    const s = await sink();
    s.hold();
    const { f } = await forwarder(s.endpoint, { shutdownTimeoutMs: 50 });
    f.forward(numberedRequest(0, 3), enrich);
    await eventually(() => s.received.length === 1, 'request in flight');
    await f.shutdown();
    assert.equal(f.stats.droppedSpans, 3);
    assert.equal(f.stats.sentSpans, 0);
  });

  it('start refuses unusable settings, naming the key; shutdown without start is fine', async () => {
    const bad = (config: Partial<OtlpForwarderConfigInput>) =>
      new OtlpForwarder('tempo', OtlpForwarderConfig.parse({ endpoint: 'https://127.0.0.1:1', ...config }), { env: {}, log: () => undefined });
    await assert.rejects(bad({ headers: { 'dd-api-key': { env: 'DD_API_KEY' } } }).start(), /exporters\.otlp\.tempo\.headers\.dd-api-key: environment variable DD_API_KEY is not set/);
    await assert.rejects(bad({ tls: { caFile: '/nonexistent/ca.pem' } }).start(), /exporters\.otlp\.tempo\.tls\.caFile: cannot read \/nonexistent\/ca\.pem/);
    const never = bad({});
    await never.shutdown();
    await never.shutdown();
    never.forward(numberedRequest(0, 2), enrich);
    assert.equal(never.stats.droppedSpans, 2);
  });
});

describe('OtlpForwarder over HTTPS', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('delivers to a server whose certificate is signed by tls.caFile, and not without it', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'fwd-tls-'));
    dirs.push(dir);
    const cert = await selfSignedCert(dir);
    if (cert === null) return t.skip('openssl is not installed');
    const { readFile } = await import('node:fs/promises');
    const s = await sink({ tls: { cert: await readFile(cert.certFile), key: await readFile(cert.keyFile) } });
    const trusted = await forwarder(s.endpoint, { tls: { caFile: cert.certFile } });
    trusted.f.forward(numberedRequest(0, 2), enrich);
    await eventually(() => trusted.f.stats.sentSpans === 2, 'sent over TLS');

    const untrusted = await forwarder(s.endpoint);
    untrusted.f.forward(numberedRequest(1, 2), enrich);
    await eventually(() => untrusted.f.stats.retries >= 1, 'refused by certificate verification');
    assert.match(untrusted.f.stats.lastError ?? '', /certificate/i);
  });
});

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP dates; past dates are 0; garbage is null', () => {
    const now = Date.parse('Wed, 21 Oct 2026 07:28:00 GMT');
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter(' 0 ', now), 0);
    assert.equal(parseRetryAfter('Wed, 21 Oct 2026 07:28:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Wed, 21 Oct 2026 07:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter(['5', '7'], now), 5000);
    assert.equal(parseRetryAfter('soon', now), null);
    assert.equal(parseRetryAfter('-3', now), null);
    assert.equal(parseRetryAfter(undefined, now), null);
  });
});
