import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeGenAiTraceRequest } from '../receivers/otlp/testing/genai-request.js';
import { OtlpForwarderConfig } from '../exporters/otlp/config.js';
import { encodeTraceRequest } from '../exporters/otlp/encode-trace-request.js';
import { OtlpForwarder } from '../exporters/otlp/otlp-forwarder.js';
import { deadPort, enrich } from '../exporters/otlp/testing/forwarder-harness.js';

/**
 * What forward() costs on the ingest path, per request of 100 GenAI spans (~15 attributes each):
 * encoding alone, then forward() with the in-memory queue, with the persistent queue (fdatasync batched
 * every 200 ms, off the event loop) and with fdatasync inside every forward() (fsyncIntervalMs: 0).
 * The destination is down, so the sender loop stays idle and only forward() is measured.
 *
 *   node dist/bench/forward-bench.js [iterations=400]
 */
const iterations = Number(process.argv[2] ?? 400);
const request = makeGenAiTraceRequest(100);
const bytes = encodeTraceRequest(request)[0]!.bytes.length;

function time(label: string, fn: () => void): void {
  for (let i = 0; i < 20; i++) fn();
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  const us = Number(process.hrtime.bigint() - start) / 1000 / iterations;
  console.log(`${label.padEnd(48)} ${us.toFixed(0).padStart(6)} µs/request  ${(us / 100).toFixed(2).padStart(6)} µs/span`);
}

console.log(`request: 100 GenAI spans, ${(bytes / 1024).toFixed(1)} KiB encoded; ${iterations} iterations`);
time('encodeTraceRequest (with enrichment)', () => {
  encodeTraceRequest(request, { extraAttributes: (s) => (enrich(s) === null ? null : []) });
});
const port = await deadPort();
const dir = await mkdtemp(join(tmpdir(), 'fwd-bench-'));
for (const [label, queue] of [
  ['forward(), in-memory queue', {}],
  ['forward(), persistent queue (fsync every 200 ms)', { directory: join(dir, 'a'), fsyncIntervalMs: 200 }],
  ['forward(), persistent queue (fsync in forward)', { directory: join(dir, 'b'), fsyncIntervalMs: 0 }],
] as const) {
  const f = new OtlpForwarder(
    'bench',
    OtlpForwarderConfig.parse({
      endpoint: `http://127.0.0.1:${port}`,
      queue: { maxBytes: 2 ** 31, ...queue },
      retry: { initialIntervalMs: 600_000, maxIntervalMs: 600_000 },
      shutdownTimeoutMs: 0,
    }),
    { log: () => undefined },
  );
  await f.start();
  time(label, () => f.forward(request, enrich));
  await f.shutdown();
}
await rm(dir, { recursive: true, force: true });
