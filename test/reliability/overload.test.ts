/**
 * Backpressure on the real CLI server: 64 HTTP and 16 gRPC clients at once, far beyond small in-flight
 * limits. Every answer is 200 or 429/503 with Retry-After (gRPC OK or UNAVAILABLE with retry-after
 * metadata); the process survives with peak RSS under the documented ceiling; afterwards it serves every
 * request again; and the ledger holds exactly the acknowledged spans. Figures: bench/overload.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { KnownSpanSource } from './known-spans.js';
import { runPhase } from './overload-driver.js';
import { startServer } from './server-process.js';

/** docs/reliability.md: peak RSS ceiling with maxInFlightBytes = 4 MiB (measured 300-340 MiB on 2 cores; generous margin). */
const RSS_CEILING_KIB = 768 * 1024;

test('64+16 concurrent clients beyond the in-flight limits: 429/UNAVAILABLE with Retry-After, bounded memory, recovery', { timeout: 120_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-overload-'));
  const config = join(dir, 'genai-ledger.yaml');
  await writeFile(config, 'pipeline:\n  maxInFlightBytes: 4194304\n  maxInFlightSpans: 2000\nexporters:\n  duckdb:\n    memoryLimit: 256MB\n');
  const db = join(dir, 'ledger.duckdb');
  const server = await startServer({ db, args: ['--config', config] });
  try {
    const source = new KnownSpanSource();
    const overload = await runPhase(server, source, { httpClients: 64, grpcClients: 16, requestsPerClient: 5, spansPerRequest: 400 });
    const httpStatuses = [...overload.http.keys()];
    const grpcCodes = [...overload.grpc.keys()];
    const summary = JSON.stringify({ http: [...overload.http], grpc: [...overload.grpc], rss: overload.peakRssKiB });
    if (process.env.GENAI_LEDGER_RELIABILITY_LOG === '1') console.log(`overload: ${summary}`);
    assert.ok(httpStatuses.every((s) => s === 200 || s === 429 || s === 503), summary);
    assert.ok(grpcCodes.every((c) => c === 'OK' || c === 'UNAVAILABLE'), summary);
    assert.ok((overload.http.get(429) ?? 0) + (overload.http.get(503) ?? 0) > 0, `HTTP clients were pushed back: ${summary}`);
    assert.ok((overload.grpc.get('UNAVAILABLE') ?? 0) > 0, `gRPC clients were pushed back: ${summary}`);
    assert.ok((overload.http.get(200) ?? 0) > 0 && (overload.grpc.get('OK') ?? 0) > 0, `work still got done: ${summary}`);
    assert.equal(overload.overloadWithoutRetryAfter, 0, 'every push-back carries Retry-After');
    assert.equal(server.child.exitCode, null, 'server still running');
    if (overload.peakRssKiB !== null) assert.ok(overload.peakRssKiB < RSS_CEILING_KIB, `peak RSS ${overload.peakRssKiB} KiB`);

    // Load drops: one client at a time is always served.
    const recovery = await runPhase(server, source, { httpClients: 1, grpcClients: 1, requestsPerClient: 10, spansPerRequest: 400 });
    assert.deepEqual([...recovery.http], [[200, 10]]);
    assert.deepEqual([...recovery.grpc], [['OK', 10]]);

    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0, server.output());
    const acknowledged = new Set([...overload.acknowledgedSpans, ...recovery.acknowledgedSpans]);
    const instance = await DuckDBInstance.create(db, { access_mode: 'READ_ONLY' });
    const connection = await instance.connect();
    const keys = (await connection.runAndReadAll('SELECT trace_id || \'/\' || span_id FROM genai_calls')).getRows().map((r) => String(r[0]));
    connection.closeSync();
    instance.closeSync();
    // Refused requests never reach the pipeline, so the ledger is exactly the acknowledged spans.
    assert.equal(keys.length, acknowledged.size);
    assert.ok(keys.every((k) => acknowledged.has(k)));
  } finally {
    if (server.child.exitCode === null) server.child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
