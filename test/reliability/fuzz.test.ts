/**
 * Fuzzing the real CLI server with thousands of hostile bodies derived from real payloads: truncated,
 * bit-flipped, spliced, wrong JSON types in every field, deep nesting, huge attribute values, damaged gzip,
 * gzip bombs, oversized bodies — over OTLP/HTTP (protobuf, JSON, gzip) and OTLP/gRPC. Every answer must be
 * 200 (the mutation happened to be valid) or 4xx (gRPC: OK, INVALID_ARGUMENT or RESOURCE_EXHAUSTED); the
 * process never crashes; valid requests interleaved every few payloads are all acknowledged and their
 * rows are in the ledger exactly as sent.
 *
 * Default: 4,000 payloads (GENAI_LEDGER_FUZZ_PAYLOADS=n to change). GENAI_LEDGER_LONG=1: 40,000. GENAI_LEDGER_FUZZ_SEED=n reproduces a run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request as httpRequest } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { DuckDBInstance } from '@duckdb/node-api';
import { encodeTraceRequestProtobuf } from '../../receivers/otlp/testing/encode-protobuf.js';
import { encodeTraceRequestJson } from '../../receivers/otlp/testing/encode-json.js';
import { syntheticRequest } from '../helpers/synthetic-requests.js';
import { knownSpanRequest, KnownSpanSource, spanKey, type KnownSpan } from './known-spans.js';
import { fuzzPayload, Rng, type FuzzPayload } from './payload-mutator.js';
import { RawGrpcClient } from './grpc-raw-client.js';
import { startServer } from './server-process.js';

const LONG = process.env.GENAI_LEDGER_LONG === '1';
const PAYLOADS = LONG ? 40_000 : Number(process.env.GENAI_LEDGER_FUZZ_PAYLOADS ?? 4_000);
const SEED = Number(process.env.GENAI_LEDGER_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const WORKERS = 4;
const VALID_EVERY = 25;
const MAX_REQUEST_BYTES = 2 * 1024 * 1024;

function post(agent: Agent, url: string, p: FuzzPayload): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${url}/v1/traces`,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': p.contentType,
          'content-length': String(p.body.length),
          ...(p.contentEncoding ? { 'content-encoding': p.contentEncoding } : {}),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(p.body);
  });
}

test(`fuzz: ${PAYLOADS} hostile payloads (seed ${SEED}) get 200/4xx, the server survives, valid traffic lands`, { timeout: LONG ? 900_000 : 180_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-fuzz-'));
  const config = join(dir, 'genai-ledger.yaml');
  await writeFile(config, 'receivers:\n  otlp:\n    http:\n      maxRequestBytes: 2097152\n    grpc:\n      maxRequestBytes: 2097152\n');
  const db = join(dir, 'ledger.duckdb');
  const server = await startServer({ db, args: ['--config', config] });
  const agent = new Agent({ keepAlive: true, maxSockets: WORKERS * 2 });
  const grpc = new RawGrpcClient(server.grpcAddress);
  const source = new KnownSpanSource();
  const seeds = {
    protobuf: [
      encodeTraceRequestProtobuf(syntheticRequest({ spans: 6, genAiShare: 0.5, seed: 1 })),
      encodeTraceRequestProtobuf(knownSpanRequest(new KnownSpanSource().take(3))),
    ],
    json: [
      encodeTraceRequestJson(syntheticRequest({ spans: 6, genAiShare: 0.5, seed: 2 })),
      encodeTraceRequestJson(knownSpanRequest(new KnownSpanSource().take(3))),
    ],
  };
  const http = new Map<string, number>();
  const grpcCodes = new Map<string, number>();
  const bad: string[] = [];
  const sentValid = new Map<string, KnownSpan>();
  let validRefused = 0;
  let fuzzed = 0;
  const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

  const worker = async (w: number) => {
    const rng = new Rng(SEED + w * 7919);
    for (let i = w; i < PAYLOADS; i += WORKERS) {
      const payload = fuzzPayload(rng, seeds);
      fuzzed++;
      if (payload.contentType === 'application/x-protobuf' && !payload.contentEncoding && rng.next() < 0.15) {
        const { error } = await grpc.export(payload.body);
        const code = error === null ? 'OK' : GrpcStatus[error.code] ?? String(error.code);
        bump(grpcCodes, code);
        if (!['OK', 'INVALID_ARGUMENT', 'RESOURCE_EXHAUSTED'].includes(code)) bad.push(`#${i} grpc ${payload.kind}: ${code} ${error?.details ?? ''}`);
      } else {
        let status: number;
        try {
          status = await post(agent, server.httpUrl, payload);
        } catch (err) {
          // A body past maxRequestBytes is answered 413 from its Content-Length and the connection closed
          // while the client is still uploading: the client may see the reset before the answer.
          const code = (err as NodeJS.ErrnoException).code;
          if (payload.body.length > MAX_REQUEST_BYTES && (code === 'EPIPE' || code === 'ECONNRESET')) {
            bump(http, 'reset-oversized');
            continue;
          }
          bad.push(`#${i} http ${payload.kind}: connection failed: ${(err as Error).message}`);
          continue;
        }
        bump(http, String(status));
        if (status !== 200 && (status < 400 || status > 499)) bad.push(`#${i} http ${payload.kind}: ${status}`);
      }
      if (i % VALID_EVERY === 0) {
        const spans = source.take(4);
        for (const s of spans) sentValid.set(spanKey(s), s);
        const request = knownSpanRequest(spans, 'fuzz-valid');
        const asJson = i % 2 === 0;
        const status = await post(agent, server.httpUrl, {
          kind: 'valid',
          body: asJson ? Buffer.from(encodeTraceRequestJson(request)) : encodeTraceRequestProtobuf(request),
          contentType: asJson ? 'application/json' : 'application/x-protobuf',
        });
        if (status !== 200) validRefused++;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
    if (process.env.GENAI_LEDGER_RELIABILITY_LOG === '1') {
      console.log(`fuzz: seed ${SEED}, ${fuzzed} payloads, http ${JSON.stringify([...http])}, grpc ${JSON.stringify([...grpcCodes])}, valid spans ${sentValid.size}`);
    }
    assert.deepEqual(bad.slice(0, 10), [], `seed ${SEED}: ${bad.length} payloads got a wrong answer`);
    assert.equal(validRefused, 0, 'every interleaved valid request was acknowledged');
    assert.equal(server.child.exitCode, null, 'server alive');
    assert.ok((http.get('400') ?? 0) > PAYLOADS / 4, 'most mutations are caught as 400');
    assert.ok((http.get('413') ?? 0) > 0, 'oversized bodies and gzip bombs got 413');
  } finally {
    grpc.close();
    agent.destroy();
    if (server.child.exitCode === null) server.child.kill('SIGTERM');
    const exit = await server.exited;
    try {
      assert.equal(exit, 0, `clean shutdown after fuzzing:\n${server.output().slice(-2000)}`);
      const instance = await DuckDBInstance.create(db, { access_mode: 'READ_ONLY' });
      const connection = await instance.connect();
      const rows = (await connection.runAndReadAll(
        "SELECT trace_id || '/' || span_id, input_tokens::INTEGER FROM genai_calls WHERE service = 'fuzz-valid'",
      )).getRows();
      connection.closeSync();
      instance.closeSync();
      const stored = new Map(rows.map((r) => [String(r[0]), Number(r[1])]));
      for (const [key, span] of sentValid) assert.equal(stored.get(key), span.inputTokens, `valid span ${key}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
});
