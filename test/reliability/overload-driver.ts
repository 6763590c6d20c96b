import { Agent, request as httpRequest } from 'node:http';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { encodeTraceRequestProtobuf } from '../../receivers/otlp/testing/encode-protobuf.js';
import { knownSpanRequest, KnownSpanSource, spanKey } from './known-spans.js';
import { RawGrpcClient } from './grpc-raw-client.js';
import { residentMemoryKiB, type ServerProcess } from './server-process.js';

/**
 * Drives many concurrent OTLP clients at a server child process without retrying, so every answer is
 * seen: used by test/reliability/overload.test.ts (asserts bounded behaviour) and bench/overload.ts
 * (prints throughput and memory). Every request carries fresh known spans, so the ledger can be checked
 * against exactly the acknowledged ones.
 */
export interface PhaseOptions {
  httpClients: number;
  grpcClients: number;
  /** Requests per client; or run for `durationMs` when given (bench only). */
  requestsPerClient: number;
  durationMs?: number;
  spansPerRequest: number;
}

export interface PhaseResult {
  http: Map<number | 'error', number>;
  grpc: Map<string, number>;
  /** 429/503 answers without a Retry-After header, and gRPC UNAVAILABLE without retry-after metadata. */
  overloadWithoutRetryAfter: number;
  acknowledgedSpans: Set<string>;
  requests: number;
  elapsedMs: number;
  peakRssKiB: number | null;
}

const bump = <K>(m: Map<K, number>, k: K) => m.set(k, (m.get(k) ?? 0) + 1);

export async function runPhase(server: ServerProcess, source: KnownSpanSource, options: PhaseOptions): Promise<PhaseResult> {
  const result: PhaseResult = {
    http: new Map(),
    grpc: new Map(),
    overloadWithoutRetryAfter: 0,
    acknowledgedSpans: new Set(),
    requests: 0,
    elapsedMs: 0,
    peakRssKiB: null,
  };
  const agent = new Agent({ keepAlive: true, maxSockets: options.httpClients + 1 });
  const grpcAddress = server.grpcAddress;
  const started = Date.now();
  const more = (i: number) => (options.durationMs === undefined ? i < options.requestsPerClient : Date.now() - started < options.durationMs);

  const httpClient = async () => {
    for (let i = 0; more(i); i++) {
      const spans = source.take(options.spansPerRequest);
      const body = encodeTraceRequestProtobuf(knownSpanRequest(spans, 'overload-svc'));
      result.requests++;
      try {
        const { status, retryAfter } = await post(agent, server.httpUrl, body);
        bump(result.http, status);
        if (status === 200) for (const s of spans) result.acknowledgedSpans.add(spanKey(s));
        if ((status === 429 || status === 503) && retryAfter === undefined) result.overloadWithoutRetryAfter++;
      } catch {
        bump(result.http, 'error');
      }
    }
  };
  const grpcClient = async () => {
    const client = new RawGrpcClient(grpcAddress);
    try {
      for (let i = 0; more(i); i++) {
        const spans = source.take(options.spansPerRequest);
        const body = encodeTraceRequestProtobuf(knownSpanRequest(spans, 'overload-svc'));
        result.requests++;
        const { error } = await client.export(body);
        const code = error === null ? 'OK' : GrpcStatus[error.code] ?? String(error.code);
        bump(result.grpc, code);
        if (error === null) for (const s of spans) result.acknowledgedSpans.add(spanKey(s));
        if (error?.code === GrpcStatus.UNAVAILABLE && error.metadata.get('retry-after').length === 0) result.overloadWithoutRetryAfter++;
      }
    } finally {
      client.close();
    }
  };

  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const rss = await residentMemoryKiB(server.pid);
      if (rss !== null) result.peakRssKiB = Math.max(result.peakRssKiB ?? 0, rss.peak);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  await Promise.all([
    ...Array.from({ length: options.httpClients }, httpClient),
    ...Array.from({ length: options.grpcClients }, grpcClient),
  ]);
  result.elapsedMs = Date.now() - started;
  sampling = false;
  await sampler;
  const rss = await residentMemoryKiB(server.pid);
  if (rss !== null) result.peakRssKiB = Math.max(result.peakRssKiB ?? 0, rss.peak);
  agent.destroy();
  return result;
}

function post(agent: Agent, baseUrl: string, body: Uint8Array): Promise<{ status: number; retryAfter: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      `${baseUrl}/v1/traces`,
      { method: 'POST', agent, headers: { 'content-type': 'application/x-protobuf', 'content-length': String(body.length) } },
      (res) => {
        res.resume();
        res.on('end', () => {
          const header = res.headers['retry-after'];
          resolve({ status: res.statusCode ?? 0, retryAfter: Array.isArray(header) ? header[0] : header });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
