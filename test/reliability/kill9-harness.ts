import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { encodeTraceRequestProtobuf } from '../../receivers/otlp/testing/encode-protobuf.js';
import { KnownSpanSource, knownSpanRequest, spanKey, type KnownSpan } from './known-spans.js';
import { RetryingOtlpClient, sleep } from './retrying-client.js';
import { RetryingGrpcClient } from './retrying-grpc-client.js';
import { freePort, startServer, type ServerProcess } from './server-process.js';

/**
 * The kill -9 harness. Workers send batches of known GenAI spans to the real CLI server with the OTel
 * exporters' retry behaviour (429/503/connection errors retried with backoff, Retry-After honoured); the
 * server is SIGKILLed at random moments while they send and restarted on the same file and port. At the
 * end the ledger is compared with what was sent and what was acknowledged, span by span.
 */
export interface Kill9Options {
  kills: number;
  /** Workers sending over OTLP/HTTP protobuf. */
  workers: number;
  /** Workers sending over OTLP/gRPC (same spans, same checks). */
  grpcWorkers?: number;
  spansPerRequest: number;
  /** After a (re)start has acknowledged something, the kill comes after a random delay in this range. */
  upMs: [number, number];
  /** Share of requests that re-send an already acknowledged batch (a client retry after a lost answer). */
  resendShare: number;
  /** Extra arguments for every `genai-ledger serve` incarnation (e.g. `--config FILE`). */
  serverArgs?: string[];
  log?: (line: string) => void;
}

export interface Kill9Report {
  kills: number;
  requestsAcknowledged: number;
  /** Requests acknowledged per transport. */
  acknowledgedByTransport: { http: number; grpc: number };
  requestsResent: number;
  spansSent: number;
  spansAcknowledged: number;
  rowsInLedger: number;
  distinctRowsInLedger: number;
  /** Acknowledged spans that are not in the ledger (must be empty). */
  lostAcknowledged: string[];
  /** Ledger rows that were never sent (must be empty). */
  unknownRows: string[];
  /** Rows whose input_tokens differ from what was sent (must be empty). */
  mangledRows: string[];
  /** Spans sent but never acknowledged that did land (allowed: committed, then the answer was lost). */
  unacknowledgedButStored: number;
  /** Requests that got a final non-retryable answer (must be 0). */
  refusedRequests: number;
  retries: number;
  serverExitCode: number | string;
}

export async function runKill9(options: Kill9Options): Promise<Kill9Report> {
  const log = options.log ?? (() => undefined);
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-kill9-'));
  const db = join(dir, 'ledger.duckdb');
  const httpPort = await freePort();
  const grpcPort = await freePort();
  const source = new KnownSpanSource();
  const sent = new Map<string, KnownSpan>();
  const acknowledged = new Set<string>();
  const acknowledgedBatches: Uint8Array[] = [];
  let requestsAcknowledged = 0;
  const acknowledgedByTransport = { http: 0, grpc: 0 };
  let requestsResent = 0;
  let refusedRequests = 0;
  let server: ServerProcess = await startServer({ db, httpPort, grpcPort, args: options.serverArgs ?? [] });
  const client = new RetryingOtlpClient(() => server.httpUrl, {
    maxAttempts: 10_000,
    initialBackoffMs: 20,
    maxBackoffMs: 400,
    multiplier: 1.5,
    maxRetryAfterMs: 1000,
  });

  const grpcClient = new RetryingGrpcClient(`127.0.0.1:${grpcPort}`, { initialBackoffMs: 20, maxBackoffMs: 400, maxRetryAfterMs: 1000 });
  let running = true;
  const worker = async (transport: 'http' | 'grpc') => {
    while (running) {
      // The first chance is always taken, so a run slowed down by a busy machine still re-sends something.
      const resend = acknowledgedBatches.length > 0 && (requestsResent === 0 || Math.random() < options.resendShare);
      let body: Uint8Array;
      let spans: KnownSpan[] = [];
      if (resend) {
        body = acknowledgedBatches[Math.floor(Math.random() * acknowledgedBatches.length)]!;
        requestsResent++;
      } else {
        spans = source.take(options.spansPerRequest);
        for (const s of spans) sent.set(spanKey(s), s);
        body = encodeTraceRequestProtobuf(knownSpanRequest(spans));
      }
      const outcome = transport === 'http' ? await client.send(body) : await grpcClient.send(body);
      if (outcome.acknowledged) {
        requestsAcknowledged++;
        acknowledgedByTransport[transport]++;
        for (const s of spans) acknowledged.add(spanKey(s));
        if (!resend && acknowledgedBatches.length < 200) acknowledgedBatches.push(body);
      } else {
        refusedRequests++;
        log(`${transport} request refused: ${String(outcome.status)}`);
      }
    }
  };
  const workers = [
    ...Array.from({ length: options.workers }, () => worker('http')),
    ...Array.from({ length: options.grpcWorkers ?? 0 }, () => worker('grpc')),
  ];

  let serverExitCode: number | string = -1;
  try {
    for (let kill = 1; kill <= options.kills; kill++) {
      // Under load: this incarnation has acknowledged at least one request before the clock starts.
      const ackedAtStart = requestsAcknowledged;
      while (requestsAcknowledged === ackedAtStart) await sleep(5);
      const [min, max] = options.upMs;
      await sleep(min + Math.random() * (max - min));
      server.child.kill('SIGKILL');
      const how = await server.exited;
      if (how !== 'SIGKILL') throw new Error(`server exited on its own (${how}) before kill ${kill}:\n${server.output()}`);
      log(`kill ${kill}: ${acknowledged.size} spans acknowledged so far`);
      server = await startServer({ db, httpPort, grpcPort, args: options.serverArgs ?? [] });
    }
    // Let the last incarnation acknowledge some work, then stop the load and drain every worker's batch.
    const ackedAtStart = requestsAcknowledged;
    while (requestsAcknowledged === ackedAtStart) await sleep(5);
    running = false;
    await Promise.all(workers);
    server.child.kill('SIGTERM');
    serverExitCode = await server.exited;
  } finally {
    running = false;
    if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
    client.close();
    grpcClient.close();
  }

  try {
    const rows = await readKeys(db);
    const inLedger = new Set<string>();
    const unknownRows: string[] = [];
    const mangledRows: string[] = [];
    for (const row of rows.keys) {
      inLedger.add(row.key);
      const expected = sent.get(row.key);
      if (expected === undefined) unknownRows.push(row.key);
      else if (row.inputTokens !== expected.inputTokens) mangledRows.push(`${row.key}: ${row.inputTokens} != ${expected.inputTokens}`);
    }
    const lostAcknowledged = [...acknowledged].filter((k) => !inLedger.has(k));
    let unacknowledgedButStored = 0;
    for (const k of inLedger) if (sent.has(k) && !acknowledged.has(k)) unacknowledgedButStored++;
    return {
      kills: options.kills,
      requestsAcknowledged,
      acknowledgedByTransport,
      requestsResent,
      spansSent: sent.size,
      spansAcknowledged: acknowledged.size,
      rowsInLedger: rows.count,
      distinctRowsInLedger: rows.distinct,
      lostAcknowledged,
      unknownRows,
      mangledRows,
      unacknowledgedButStored,
      refusedRequests,
      retries: client.counters.retries + grpcClient.retries,
      serverExitCode,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function readKeys(db: string): Promise<{ count: number; distinct: number; keys: { key: string; inputTokens: number }[] }> {
  const instance = await DuckDBInstance.create(db, { access_mode: 'READ_ONLY' });
  try {
    const connection = await instance.connect();
    try {
      const counts = (await connection.runAndReadAll(
        'SELECT count(*)::INTEGER, count(DISTINCT (trace_id, span_id))::INTEGER FROM genai_calls',
      )).getRows()[0]!;
      const keys = (await connection.runAndReadAll('SELECT trace_id, span_id, input_tokens::INTEGER FROM genai_calls'))
        .getRows()
        .map((r) => ({ key: `${String(r[0])}/${String(r[1])}`, inputTokens: Number(r[2]) }));
      return { count: Number(counts[0]), distinct: Number(counts[1]), keys };
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}
