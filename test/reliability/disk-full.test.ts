/**
 * The ledger file cannot be written: the real CLI runs under a file-size limit (`ulimit -f` with SIGXFSZ
 * ignored), so DuckDB's writes past it fail with EFBIG exactly as on a full disk, unprivileged. While writes
 * fail, every export is answered 503 / UNAVAILABLE with Retry-After (never 200), the process keeps running,
 * the failure is logged once (not per request), and nothing acknowledged is lost; once the file can grow again
 * (the limit lifted with `prlimit`, or a restart without it) the clients' re-sent spans land exactly once.
 *
 * Two ways it fails, both covered:
 * - the WAL append of a commit fails: the commit fails, DuckDB stays usable, and the next commit after the
 *   condition clears succeeds — the server recovers by itself;
 * - a checkpoint (WAL folded into the database file) fails: DuckDB treats that as FATAL and invalidates the
 *   database; the server says so (log + 503 body) and reopens the file, replaying the WAL.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { encodeTraceRequestProtobuf } from '../../receivers/otlp/testing/encode-protobuf.js';
import { readLedgerRows } from '../helpers/ledger-rows.js';
import { RawGrpcClient } from './grpc-raw-client.js';
import { knownSpanRequest, KnownSpanSource, spanKey, type KnownSpan } from './known-spans.js';
import { postTraces, startServer, type ServerProcess } from './server-process.js';

const BATCH = 50;

interface Sent {
  acked: KnownSpan[][];
  refused: KnownSpan[][];
  /** Answers other than 200 and 503-with-Retry-After (must stay empty). */
  wrong: string[];
  retryAfter: Set<string>;
  bodies: string[];
}

async function post(server: ServerProcess, spans: KnownSpan[]): Promise<{ status: number; retryAfter: string | null; body: string }> {
  return postTraces(server.httpUrl, knownSpanRequest(spans, 'disk-full-svc'));
}

/** Sends fresh batches until `failures` in a row were refused (or `maxBatches` were sent). */
async function fillUntilRefused(server: ServerProcess, source: KnownSpanSource, sent: Sent, failures: number, maxBatches: number, batch = BATCH) {
  let inARow = 0;
  for (let i = 0; i < maxBatches && inARow < failures; i++) {
    const spans = source.take(batch);
    const answer = await post(server, spans);
    if (answer.status === 200) {
      sent.acked.push(spans);
      inARow = 0;
    } else if (answer.status === 503 && answer.retryAfter !== null) {
      sent.refused.push(spans);
      sent.retryAfter.add(answer.retryAfter);
      sent.bodies.push(answer.body);
      inARow++;
    } else {
      sent.wrong.push(`${answer.status} retry-after=${answer.retryAfter} ${answer.body.slice(0, 200)}`);
      inARow++;
    }
  }
}

/** Lifts the soft file-size limit of a running process; false when this machine does not allow it. */
async function liftFileSizeLimit(pid: number): Promise<boolean> {
  try {
    await promisify(execFile)('prlimit', ['--pid', String(pid), '--fsize=unlimited:unlimited']);
    return true;
  } catch {
    return false;
  }
}

/** The ledger holds exactly these spans, each once, with the tokens that were sent. */
async function assertLedgerHoldsExactly(db: string, expected: KnownSpan[]): Promise<void> {
  const rows = await readLedgerRows(db);
  const want = new Map(expected.map((s) => [spanKey(s), s.inputTokens]));
  const got = new Map(rows.map((r) => [`${r.trace_id}/${r.span_id}`, Number(r.input_tokens)]));
  assert.equal(rows.length, got.size, 'no row twice');
  assert.equal(got.size, want.size, 'as many rows as distinct spans acknowledged');
  for (const [key, tokens] of want) assert.equal(got.get(key), tokens, `row ${key}`);
}

const count = (text: string, pattern: RegExp) => (text.match(new RegExp(pattern, 'g')) ?? []).length;

test('WAL writes fail (file size limit): 503 + Retry-After, no crash, logged once; lifting the limit recovers without a restart; re-sent spans land once', async (t: TestContext) => {
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-disk-full-'));
  const db = join(dir, 'ledger.duckdb');
  const source = new KnownSpanSource();
  const sent: Sent = { acked: [], refused: [], wrong: [], retryAfter: new Set(), bodies: [] };
  // 1 MiB: a few hundred KB of WAL fit, then its appends fail.
  let server = await startServer({ db, fileSizeLimitBlocks: 2048 });
  try {
    await fillUntilRefused(server, source, sent, 4, 400);
    assert.deepEqual(sent.wrong, [], 'every answer was 200 or 503 with Retry-After');
    assert.ok(sent.acked.length > 0, 'some batches fit under the limit');
    assert.ok(sent.refused.length >= 4, 'writes past the limit were refused');
    assert.match(sent.bodies[0] ?? '', /ledger write to \S+ failed: .*File too large/);

    // gRPC is refused the same way, with UNAVAILABLE and retry-after metadata.
    const grpc = new RawGrpcClient(server.grpcAddress);
    const grpcSpans = source.take(BATCH);
    const outcome = await grpc.export(encodeTraceRequestProtobuf(knownSpanRequest(grpcSpans, 'disk-full-svc')));
    grpc.close();
    assert.equal(outcome.error?.code, GrpcStatus.UNAVAILABLE, String(outcome.error));
    assert.ok(outcome.error?.metadata.get('retry-after').length, 'retry-after metadata');
    sent.refused.push(grpcSpans);

    assert.equal(server.child.exitCode, null, 'still running');
    assert.equal(count(server.output(), /ledger writes are failing/), 1, `logged once:\n${server.output()}`);

    if (await liftFileSizeLimit(server.pid)) {
      // The client retries: every refused batch again, plus one already acknowledged (must not double).
      for (const spans of [...sent.refused, sent.acked[0]!]) assert.equal((await post(server, spans)).status, 200);
      assert.match(server.output(), /ledger writes succeed again \(\d+ batch\(es\) were refused meanwhile/);
      server.child.kill('SIGTERM');
      assert.equal(await server.exited, 0, server.output());
    } else {
      t.diagnostic('prlimit cannot lift the limit here; recovering by restarting without it instead');
      server.child.kill('SIGTERM');
      const code = await server.exited;
      // The final checkpoint cannot grow the file either; the exit says so and the WAL keeps the rows.
      if (code !== 0) assert.match(server.output(), /could not be checkpointed at shutdown[^]*replayed on the next start/);
      server = await startServer({ db });
      for (const spans of [...sent.refused, sent.acked[0]!]) assert.equal((await post(server, spans)).status, 200);
      server.child.kill('SIGTERM');
      assert.equal(await server.exited, 0, server.output());
    }
    await assertLedgerHoldsExactly(db, [...sent.acked, ...sent.refused].flat());
    t.diagnostic(`acknowledged ${sent.acked.length} batches before the limit, refused ${sent.refused.length}; retry-after ${[...sent.retryAfter].join(',')}`);
  } finally {
    if (server.child.exitCode === null) server.child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});

test('a failed checkpoint invalidates the DuckDB database: 503 naming it, no crash, acknowledged rows kept; after a restart without the limit re-sent spans land once', async (t: TestContext) => {
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-disk-full-ckpt-'));
  const db = join(dir, 'ledger.duckdb');
  const config = join(dir, 'genai-ledger.yaml');
  // Small WAL threshold: checkpoints run often, and the first one that needs the file past 4 MiB fails.
  await writeFile(config, 'exporters:\n  duckdb:\n    checkpointThreshold: 200KB\n');
  const source = new KnownSpanSource();
  const sent: Sent = { acked: [], refused: [], wrong: [], retryAfter: new Set(), bodies: [] };
  let server = await startServer({ db, args: ['--config', config], fileSizeLimitBlocks: 8192 });
  try {
    await fillUntilRefused(server, source, sent, 6, 400, 200);
    assert.deepEqual(sent.wrong, [], 'every answer was 200 or 503 with Retry-After');
    assert.ok(sent.acked.length > 0 && sent.refused.length >= 6);
    assert.ok(
      sent.bodies.some((b) => /DuckDB invalidated the ledger database after a failed write/.test(b)),
      `a 503 names the invalidation:\n${sent.bodies.join('\n')}`,
    );
    assert.match(server.output(), /DuckDB invalidated the ledger database after a failed write: .*File too large/);
    assert.equal(server.child.exitCode, null, 'still running');

    server.child.kill('SIGTERM');
    const code = await server.exited;
    if (code !== 0) assert.match(server.output(), /could not be checkpointed at shutdown[^]*replayed on the next start/);
    for (const line of server.output().split('\n').filter((l) => /ledger writes|invalidated|checkpointed/.test(l))) t.diagnostic(line.slice(0, 300));

    server = await startServer({ db, args: ['--config', config] });
    for (const spans of [...sent.refused, sent.acked.at(-1)!]) assert.equal((await post(server, spans)).status, 200);
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0, server.output());
    await assertLedgerHoldsExactly(db, [...sent.acked, ...sent.refused].flat());
    t.diagnostic(`acknowledged ${sent.acked.length} batches of 200, refused ${sent.refused.length}; first exit code ${code}`);
  } finally {
    if (server.child.exitCode === null) server.child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
