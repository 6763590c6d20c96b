import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, it } from 'node:test';
import type { OtlpForwarderConfigInput } from './config.js';
import { DiskQueue } from './disk-queue.js';
import { encodeTraceRequest } from './encode-trace-request.js';
import { enrichmentAttributes } from './enrichment.js';
import type { OtlpForwarderOptions } from './otlp-forwarder.js';
import { expectedIds, numberedRequest, uniqueIds } from './testing/forward-requests.js';
import { Cleanups, deadPort, enrich, startForwarder, startSink } from './testing/forwarder-harness.js';
import { eventually } from './testing/otlp-sink.js';

const cleanups = new Cleanups();
afterEach(() => cleanups.run());
const forwarder = (endpoint: string, config: Partial<OtlpForwarderConfigInput> = {}, options: OtlpForwarderOptions = {}) =>
  startForwarder(cleanups, endpoint, config, options);

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function queueDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fwd-pq-'));
  dirs.push(dir);
  return join(dir, 'queue');
}

async function segmentBytes(dir: string): Promise<number> {
  let total = 0;
  for (const name of await readdir(dir)) if (name.endsWith('.otlpq')) total += (await stat(join(dir, name))).size;
  return total;
}

/** Records still queued in `dir` (opens and closes the store; the forwarder using it must be shut down). */
async function recordsIn(dir: string): Promise<number> {
  const { queue, recovered } = await DiskQueue.open(dir, { segmentBytes: 1 << 20, fsyncIntervalMs: 0, log: () => undefined });
  await queue.close();
  return recovered.length;
}

const CHILD = fileURLToPath(new URL('./testing/persistent-queue-child.js', import.meta.url));

describe('OtlpForwarder with a persistent queue', () => {
  it('survives kill -9: every span forwarded while the destination was down arrives after a restart', async () => {
    const dir = await queueDir();
    const down = await deadPort();
    const child = spawn(process.execPath, [CHILD, dir, `http://127.0.0.1:${down}`, '20', '5'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const lines = createInterface({ input: child.stdout });
    const [first] = (await once(lines, 'line')) as [string];
    assert.match(first, /^queued /, stderr);
    const childStats = JSON.parse(first.slice('queued '.length)) as { queuedSpans: number; droppedSpans: number };
    assert.deepEqual([childStats.queuedSpans, childStats.droppedSpans], [100, 0]);
    child.kill('SIGKILL');
    const [, signal] = (await once(child, 'exit')) as [number | null, string | null];
    assert.equal(signal, 'SIGKILL');
    assert.ok((await segmentBytes(dir)) > 0, 'the queue is on disk');

    const s = await startSink(cleanups, 'http');
    const { f, logged } = await forwarder(s.endpoint, { queue: { directory: dir } });
    assert.equal(logged(/100 spans in 20 requests left by a previous run found in .*; sending them first/), 1);
    await eventually(() => f.stats.sentSpans >= 100, 'the 100 spans delivered after the restart');
    assert.deepEqual(uniqueIds(s.acceptedSpans()), expectedIds(20, 5));
    // At least once; nothing had been delivered before the kill, so here exactly once.
    assert.equal(s.acceptedSpans().length, 100);
    await f.shutdown();
    assert.equal(await recordsIn(dir), 0, 'delivered records are released from disk');
  });

  it('a graceful shutdown with the destination down keeps the queue on disk (not counted as dropped) for the next start', async () => {
    const dir = await queueDir();
    const a = await forwarder(`http://127.0.0.1:${await deadPort()}`, { queue: { directory: dir }, shutdownTimeoutMs: 50 });
    for (let b = 0; b < 3; b++) a.f.forward(numberedRequest(b, 4), enrich);
    await eventually(() => a.f.stats.retries >= 1, 'retrying');
    await a.f.shutdown();
    assert.equal(a.f.stats.droppedSpans, 0);
    assert.equal(a.logged(/12 spans not delivered yet stay in .* and are sent at the next start/), 1);

    const s = await startSink(cleanups, 'grpc');
    const b = await forwarder(s.endpoint, { queue: { directory: dir } });
    b.f.forward(numberedRequest(3, 4), enrich);
    await eventually(() => b.f.stats.sentSpans === 16, 'old and new spans delivered');
    assert.deepEqual(uniqueIds(s.acceptedSpans()), expectedIds(4, 4));
    assert.equal(
      s.received[0]!.request.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.spanId,
      expectedIds(1, 4)[0],
      'what was queued first is sent first',
    );
  });

  it('the directory is bounded by queue.maxBytes: beyond it new requests are dropped and counted', async () => {
    const dir = await queueDir();
    const size = encodeTraceRequest(numberedRequest(9, 10), {
      extraAttributes: (span) => {
        const e = enrich(span);
        return e === null ? null : enrichmentAttributes(e);
      },
    })[0]!.bytes.length;
    const maxBytes = size * 3 + 10;
    const { f, logged } = await forwarder(`http://127.0.0.1:${await deadPort()}`, { queue: { directory: dir, maxBytes } });
    for (let b = 0; b < 10; b++) f.forward(numberedRequest(b, 10), enrich);
    assert.equal(f.stats.queuedBatches, 3);
    assert.equal(f.stats.droppedSpans, 70);
    assert.equal(logged(/queue full/), 1);
    const onDisk = await segmentBytes(dir);
    assert.ok(onDisk <= maxBytes + 8 + 3 * 12, `${onDisk} bytes on disk for maxBytes ${maxBytes}`);
    await f.shutdown();
    assert.equal(await recordsIn(dir), 3);
  });

  it('refuses a queue directory another running forwarder uses', async () => {
    const dir = await queueDir();
    await forwarder(`http://127.0.0.1:${await deadPort()}`, { queue: { directory: dir } });
    const child = spawn(process.execPath, [CHILD, dir, 'http://127.0.0.1:1', '1', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.notEqual(code, 0);
    assert.match(stderr, /exporters\.otlp\.child\.queue\.directory: cannot use .*: queue directory .* is in use by process \d+/);
  });
});
