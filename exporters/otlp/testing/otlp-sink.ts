import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import {
  Metadata,
  Server as GrpcServer,
  ServerCredentials,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServiceDefinition,
} from '@grpc/grpc-js';
import type { Span, TraceRequest } from '../../../core/otlp.js';
import { decodeTraceRequestProtobuf } from '../../../receivers/otlp/decode-protobuf.js';
import { encodeExportResponseProtobuf, encodeStatusProtobuf } from '../../../receivers/otlp/encode-response.js';
import { ProtobufWriter } from '../../../receivers/otlp/protobuf-writer.js';

/**
 * A scriptable OTLP destination for tests, on a real socket (OTLP/HTTP or OTLP/gRPC, plaintext or TLS):
 * it records every request it gets, answers each with the next scripted answer (default: OK), and can
 * hold its answers until the test releases them (a slow destination, without timing anything).
 */
export type SinkAnswer =
  | { kind: 'ok'; rejectedSpans?: number; errorMessage?: string }
  | { kind: 'http'; status: number; headers?: Record<string, string>; message?: string }
  | { kind: 'grpc'; code: number; details?: string; retryInfoMs?: number; retryAfter?: string };

export interface SinkRequest {
  request: TraceRequest;
  /** HTTP headers or gRPC metadata (lowercase names). */
  headers: Record<string, string>;
  /** Body size on the wire (compressed when it was). */
  wireBytes: number;
  answer: SinkAnswer;
}

export interface SinkOptions {
  port?: number;
  tls?: { cert: Buffer; key: Buffer };
}

export class OtlpSink {
  /** Every request that arrived, in arrival order, answered or not yet. */
  readonly received: SinkRequest[] = [];
  private readonly script: SinkAnswer[] = [];
  private gate: { promise: Promise<void>; open: () => void } | null = null;
  private http: HttpServer | null = null;
  private grpc: GrpcServer | null = null;
  port = 0;

  private constructor(
    readonly protocol: 'http' | 'grpc',
    private readonly options: SinkOptions,
  ) {}

  static async start(protocol: 'http' | 'grpc', options: SinkOptions = {}): Promise<OtlpSink> {
    const sink = new OtlpSink(protocol, options);
    await (protocol === 'http' ? sink.listenHttp() : sink.listenGrpc());
    return sink;
  }

  /** The forwarder endpoint for this sink. */
  get endpoint(): string {
    const secure = this.options.tls !== undefined;
    return this.protocol === 'http' ? `http${secure ? 's' : ''}://127.0.0.1:${this.port}` : `grpc${secure ? 's' : ''}://127.0.0.1:${this.port}`;
  }

  /** Answers for the next requests, in order; after them, OK. */
  answer(...answers: SinkAnswer[]): void {
    this.script.push(...answers);
  }

  /** Forgets the answers not used yet: OK from now on. */
  clearAnswers(): void {
    this.script.length = 0;
  }

  /** From now on, requests are recorded on arrival but answered only after `release()`. */
  hold(): void {
    if (this.gate !== null) return;
    let open!: () => void;
    const promise = new Promise<void>((resolve) => {
      open = resolve;
    });
    this.gate = { promise, open };
  }

  release(): void {
    const gate = this.gate;
    this.gate = null;
    gate?.open();
  }

  /** Spans of the requests answered OK (rejected ones included), in arrival order. */
  acceptedSpans(): Span[] {
    return this.received
      .filter((r) => r.answer.kind === 'ok')
      .flatMap((r) => r.request.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)));
  }

  async stop(): Promise<void> {
    this.release();
    const http = this.http;
    const grpc = this.grpc;
    this.http = null;
    this.grpc = null;
    if (http !== null) {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
    grpc?.forceShutdown();
  }

  private async record(request: TraceRequest, headers: Record<string, string>, wireBytes: number): Promise<SinkAnswer> {
    const answer = this.script.shift() ?? { kind: 'ok' };
    this.received.push({ request, headers, wireBytes, answer });
    while (this.gate !== null) await this.gate.promise;
    return answer;
  }

  private async listenHttp(): Promise<void> {
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handleHttp(req, res);
    const server = this.options.tls ? createHttpsServer({ cert: this.options.tls.cert, key: this.options.tls.key }, handler) : createServer(handler);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.http = server;
  }

  private async handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const wire = Buffer.concat(chunks);
    const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(wire) : wire;
    if (req.url !== '/v1/traces' || req.method !== 'POST') {
      res.writeHead(404).end();
      return;
    }
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) headers[name] = Array.isArray(value) ? value.join(', ') : String(value);
    const answer = await this.record(decodeTraceRequestProtobuf(body), headers, wire.length);
    if (answer.kind === 'ok') {
      const out = encodeExportResponseProtobuf({ rejectedSpans: answer.rejectedSpans ?? 0, errorMessage: answer.errorMessage ?? '' });
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(out);
    } else if (answer.kind === 'http') {
      res.writeHead(answer.status, { 'content-type': 'application/x-protobuf', ...answer.headers }).end(encodeStatusProtobuf(0, answer.message ?? ''));
    } else {
      throw new Error('a gRPC answer scripted for an HTTP sink');
    }
  }

  private async listenGrpc(): Promise<void> {
    const service: ServiceDefinition = {
      Export: {
        path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
        requestStream: false,
        responseStream: false,
        requestSerialize: (value: Buffer) => value,
        requestDeserialize: (bytes: Buffer) => bytes,
        responseSerialize: (value: Uint8Array) => Buffer.from(value),
        responseDeserialize: (bytes: Buffer) => bytes,
      },
    };
    const server = new GrpcServer();
    server.addService(service, {
      Export: (call: ServerUnaryCall<Buffer, Uint8Array>, callback: sendUnaryData<Uint8Array>) => {
        void this.handleGrpc(call, callback);
      },
    });
    const credentials = this.options.tls
      ? ServerCredentials.createSsl(null, [{ cert_chain: this.options.tls.cert, private_key: this.options.tls.key }], false)
      : ServerCredentials.createInsecure();
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${this.options.port ?? 0}`, credentials, (err, port) => (err ? reject(err) : resolve(port))),
    );
    this.grpc = server;
  }

  private async handleGrpc(call: ServerUnaryCall<Buffer, Uint8Array>, callback: sendUnaryData<Uint8Array>): Promise<void> {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(call.metadata.getMap())) headers[name] = String(value);
    const answer = await this.record(decodeTraceRequestProtobuf(call.request), headers, call.request.length);
    if (answer.kind === 'ok') {
      callback(null, encodeExportResponseProtobuf({ rejectedSpans: answer.rejectedSpans ?? 0, errorMessage: answer.errorMessage ?? '' }));
    } else if (answer.kind === 'grpc') {
      const metadata = new Metadata();
      if (answer.retryAfter !== undefined) metadata.set('retry-after', answer.retryAfter);
      if (answer.retryInfoMs !== undefined) metadata.set('grpc-status-details-bin', statusWithRetryInfo(answer.code, answer.details ?? '', answer.retryInfoMs));
      callback({ code: answer.code, details: answer.details ?? '', metadata });
    } else {
      throw new Error('an HTTP answer scripted for a gRPC sink');
    }
  }
}

/** google.rpc.Status { code, message, details: [Any { RetryInfo { retry_delay: Duration } }] }. */
export function statusWithRetryInfo(code: number, message: string, delayMs: number): Buffer {
  const duration = new ProtobufWriter();
  duration.tag(1, 0).int64(Math.floor(delayMs / 1000));
  if (delayMs % 1000 !== 0) duration.tag(2, 0).int32((delayMs % 1000) * 1_000_000);
  const retryInfo = new ProtobufWriter();
  retryInfo.tag(1, 2).bytes(duration.finish());
  const any = new ProtobufWriter();
  any.tag(1, 2).string('type.googleapis.com/google.rpc.RetryInfo');
  any.tag(2, 2).bytes(retryInfo.finish());
  const status = new ProtobufWriter();
  status.tag(1, 0).int32(code);
  if (message !== '') status.tag(2, 2).string(message);
  status.tag(3, 2).bytes(any.finish());
  return Buffer.from(status.finish());
}

/** Polls `condition` until it holds; fails with `what` after `limitMs` (a guard against hanging, not a timing assertion). */
export async function eventually(condition: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > limitMs) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
