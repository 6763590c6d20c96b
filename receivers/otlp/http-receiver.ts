import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createGunzip, createInflate } from 'node:zlib';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import type { Component } from '../../core/component.js';
import { refusalOfHttpStatus, type RefusalObserver, type TraceConsumer } from '../../core/consumer.js';
import { asPipelineError, PipelineError } from '../../core/pipeline-errors.js';
import type { InFlightLimiter, InFlightReservation } from '../../src/pipeline/in-flight-limiter.js';
import { countSpans, type TraceRequest } from '../../core/otlp.js';
import { decodeTraceRequestProtobuf } from './decode-protobuf.js';
import { decodeTraceRequestJson } from './decode-json.js';
import {
  encodeExportResponseJson,
  encodeExportResponseProtobuf,
  encodeStatusJson,
  encodeStatusProtobuf,
} from './encode-response.js';
import { errorKindStatus, GrpcCode } from './status-codes.js';
import { TlsConfig, type TlsMaterial } from '../../src/security/tls-files.js';
import type { BearerTokenVerifier } from '../../src/security/bearer-auth.js';

export const OtlpHttpReceiverConfig = z
  .object({
    enabled: z.boolean().default(true),
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(4318),
    /** Largest accepted body, measured after decompression (a gzip bomb stops here). */
    maxRequestBytes: z.number().int().positive().default(64 * 1024 * 1024),
    /** A request (headers + body) must complete within this time; stalled uploads are cut off. */
    requestTimeoutMs: z.number().int().positive().default(30_000),
    headersTimeoutMs: z.number().int().positive().default(10_000),
    keepAliveTimeoutMs: z.number().int().positive().default(5_000),
    /** Serve HTTPS with these PEM files (docs/security.md). */
    tls: TlsConfig.optional(),
  })
  .strict();
export type OtlpHttpReceiverConfig = z.output<typeof OtlpHttpReceiverConfig>;

const TRACES_PATH = '/v1/traces';
type Encoding = 'protobuf' | 'json';
const CONTENT_TYPE: Record<Encoding, string> = { protobuf: 'application/x-protobuf', json: 'application/json' };

/**
 * OTLP/HTTP trace receiver (`POST /v1/traces`, protobuf or JSON, optionally gzip). The handler only
 * negotiates, bounds and decodes; the shared consumer does the rest and its error is the answer.
 */
export class OtlpHttpReceiver implements Component {
  private server: Server | undefined;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly config: OtlpHttpReceiverConfig,
    private readonly consumer: TraceConsumer,
    private readonly limiter: InFlightLimiter,
    /** Optional bearer-token check and TLS material (loaded and validated by the caller). */
    private readonly security: ReceiverSecurity = {},
  ) {}

  async start(): Promise<void> {
    const options = {
      requestTimeout: this.config.requestTimeoutMs,
      headersTimeout: this.config.headersTimeoutMs,
      keepAliveTimeout: this.config.keepAliveTimeoutMs,
      // Node enforces the two timeouts above only when it checks connections, every 30 s by default: a
      // stalled client would hold its socket (and its in-flight bytes) up to 30 s past its deadline.
      connectionsCheckingInterval: Math.max(
        50,
        Math.min(1000, Math.floor(Math.min(this.config.headersTimeoutMs, this.config.requestTimeoutMs) / 2)),
      ),
    };
    const tls = this.security.tls ?? null;
    const create = (handler: (req: IncomingMessage, res: ServerResponse) => void): Server =>
      tls === null ? createServer(options, handler) : createHttpsServer({ ...options, cert: tls.cert, key: tls.key }, handler);
    const server = create(
      (req, res) => {
        const done = this.handle(req, res).catch((err: unknown) => {
          // handle() answers every failure itself; this is the last line of defence (a failure while answering).
          if (!res.headersSent) {
            const failure = asPipelineError(err);
            res.setHeader('Retry-After', String(failure.retryAfterSeconds ?? 1));
            sendStatus(res, 'json', errorKindStatus[failure.kind].http, errorKindStatus[failure.kind].grpc, failure.message);
          } else {
            res.destroy();
          }
        });
        const onRefused = this.security.onRefused;
        if (onRefused !== undefined) {
          res.once('finish', () => {
            if (res.statusCode !== 200) onRefused('http', refusalOfHttpStatus(res.statusCode), 1);
          });
        }
        this.inFlight.add(done);
        void done.finally(() => this.inFlight.delete(done));
      },
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.port, this.config.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  /** The bound address (the real port when configured with port 0). */
  get address(): AddressInfo {
    const address = this.server?.address();
    if (address === null || address === undefined || typeof address === 'string') {
      throw new Error('OTLP/HTTP receiver is not listening');
    }
    return address;
  }

  /** Stops accepting connections, lets requests in progress finish and be answered, then closes. */
  async shutdown(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await Promise.allSettled([...this.inFlight]);
    server.closeAllConnections();
    await closed;
  }

  /** True when the receiver serves HTTPS. */
  get tls(): boolean {
    return this.security.tls != null;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const verifier = this.security.verifier ?? null;
    if (verifier !== null && !verifier.verify(req.headers.authorization)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="genai-ledger"');
      const encoding = parseContentType(req.headers['content-type']) ?? 'json';
      return rejectEarly(req, res, encoding, 401, GrpcCode.UNAUTHENTICATED, 'missing or invalid bearer token');
    }
    const path = (req.url ?? '').split('?', 1)[0];
    if (path !== TRACES_PATH) {
      return rejectEarly(req, res, 'json', 404, GrpcCode.UNIMPLEMENTED, `unknown path ${path}; OTLP traces go to ${TRACES_PATH}`);
    }
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return rejectEarly(req, res, 'json', 405, GrpcCode.UNIMPLEMENTED, `method ${req.method} not allowed; use POST`);
    }
    const encoding = parseContentType(req.headers['content-type']);
    if (encoding === null) {
      return rejectEarly(req, res, 'json', 415, GrpcCode.INVALID_ARGUMENT,
        `unsupported content-type "${req.headers['content-type'] ?? ''}"; use application/x-protobuf or application/json`);
    }
    const contentEncoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
    if (!['identity', 'gzip', 'deflate', ''].includes(contentEncoding)) {
      return rejectEarly(req, res, encoding, 415, GrpcCode.INVALID_ARGUMENT,
        `unsupported content-encoding "${contentEncoding}"; use gzip or none`);
    }
    const declaredLength = Number(req.headers['content-length'] ?? NaN);
    if (declaredLength > this.config.maxRequestBytes) {
      return rejectEarly(req, res, encoding, 413, GrpcCode.RESOURCE_EXHAUSTED,
        `request body of ${declaredLength} bytes exceeds the limit of ${this.config.maxRequestBytes} bytes`);
    }

    const reservation = this.limiter.begin();
    if (reservation === null) return rejectOverloaded(req, res, encoding);
    try {
      const body = await readBody(req, contentEncoding, this.config.maxRequestBytes, reservation);
      const request = decode(encoding, body);
      if (!reservation.addSpans(countSpans(request))) return rejectOverloaded(req, res, encoding);
      const result = await this.consumer.consume(request, { bytes: body.length, transport: 'http', ...(encoding === 'protobuf' ? { raw: body } : {}) });
      res.statusCode = 200;
      res.setHeader('Content-Type', CONTENT_TYPE[encoding]);
      res.end(encoding === 'protobuf' ? encodeExportResponseProtobuf(result) : encodeExportResponseJson(result));
    } catch (caught) {
      // A bug we did not foresee is retryable for this request (503), like a storage failure.
      const err = asPipelineError(caught);
      if (errorKindStatus[err.kind].retryable) {
        res.setHeader('Retry-After', String(err.retryAfterSeconds ?? 1));
      }
      const status = errorKindStatus[err.kind];
      rejectEarly(req, res, encoding, status.http, status.grpc, err.message);
    } finally {
      reservation.release();
    }
  }
}

/** What a receiver needs for authentication and TLS, and who hears about refusals; all optional. */
export interface ReceiverSecurity {
  /** Told about each refused request (one per request: its spans are not known before decoding). */
  onRefused?: RefusalObserver;
  verifier?: BearerTokenVerifier | null;
  tls?: TlsMaterial | null;
}

function decode(encoding: Encoding, body: Buffer): TraceRequest {
  return encoding === 'protobuf' ? decodeTraceRequestProtobuf(body) : decodeTraceRequestJson(body);
}

/** `application/x-protobuf; charset=...` → 'protobuf'. Parameters are ignored, as the collector does. */
function parseContentType(header: string | undefined): Encoding | null {
  const mediaType = (header ?? '').split(';', 1)[0]!.trim().toLowerCase();
  if (mediaType === 'application/x-protobuf' || mediaType === 'application/protobuf') return 'protobuf';
  if (mediaType === 'application/json') return 'json';
  return null;
}

/**
 * Reads the whole body, decompressing as it goes, and fails as soon as the decompressed size passes
 * the limit (so a gzip bomb costs at most `maxBytes` of memory) or the in-flight budget is spent.
 */
function readBody(
  req: IncomingMessage,
  contentEncoding: string,
  maxBytes: number,
  reservation: InFlightReservation,
): Promise<Buffer> {
  const decompressor =
    contentEncoding === 'gzip' ? createGunzip() : contentEncoding === 'deflate' ? createInflate() : undefined;
  const source: Readable = decompressor === undefined ? req : req.pipe(decompressor);
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const fail = (err: PipelineError) => {
      source.removeAllListeners('data');
      if (decompressor !== undefined) {
        req.unpipe(decompressor);
        decompressor.destroy();
      }
      reject(err);
    };
    source.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > maxBytes) {
        return fail(new PipelineError('too_large', `request body exceeds the limit of ${maxBytes} bytes after decompression`));
      }
      if (!reservation.addBytes(chunk.length)) {
        return fail(new PipelineError('overloaded', 'too much data in flight; retry later', 1));
      }
      chunks.push(chunk);
    });
    source.once('end', () => resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total)));
    source.once('error', (err: Error) => {
      const reason = source === req ? `request body could not be read: ${err.message}` : `invalid ${contentEncoding} body: ${err.message}`;
      fail(new PipelineError('invalid', reason));
    });
    req.once('aborted', () => fail(new PipelineError('invalid', 'client aborted the request')));
  });
}

function rejectOverloaded(req: IncomingMessage, res: ServerResponse, encoding: Encoding): void {
  res.setHeader('Retry-After', '1');
  rejectEarly(req, res, encoding, 429, GrpcCode.RESOURCE_EXHAUSTED, 'too much data in flight; retry later');
}

/**
 * Answers with a google.rpc.Status. If the body was not read to the end, the connection is closed
 * after the answer and the rest of the upload is drained (not buffered) so the client sees the status.
 */
function rejectEarly(req: IncomingMessage, res: ServerResponse, encoding: Encoding, httpStatus: number, grpcCode: number, message: string): void {
  if (!req.complete) {
    res.setHeader('Connection', 'close');
    req.resume();
  }
  sendStatus(res, encoding, httpStatus, grpcCode, message);
}

function sendStatus(res: ServerResponse, encoding: Encoding, httpStatus: number, grpcCode: number, message: string): void {
  if (res.headersSent) return;
  res.statusCode = httpStatus;
  res.setHeader('Content-Type', CONTENT_TYPE[encoding]);
  res.end(encoding === 'protobuf' ? encodeStatusProtobuf(grpcCode, message) : encodeStatusJson(grpcCode, message));
}
