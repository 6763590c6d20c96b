import {
  Server,
  ServerInterceptingCall,
  type ServerInterceptor,
  ServerCredentials,
  status as GrpcStatus,
  Metadata,
  type ServerUnaryCall,
  type sendUnaryData,
  type ServiceDefinition,
  type UntypedServiceImplementation,
  setLogger,
} from '@grpc/grpc-js';
import { z } from 'zod';
import type { Component } from '../../core/component.js';
import type { RefusalObserver, TraceConsumer } from '../../core/consumer.js';
import { asPipelineError, PipelineError } from '../../core/pipeline-errors.js';
import type { InFlightLimiter } from '../../src/pipeline/in-flight-limiter.js';
import { countSpans } from '../../core/otlp.js';
import { decodeTraceRequestProtobuf } from './decode-protobuf.js';
import { encodeExportResponseProtobuf } from './encode-response.js';
import { errorKindStatus } from './status-codes.js';
import { TlsConfig } from '../../src/security/tls-files.js';
import type { ReceiverSecurity } from './http-receiver.js';

export const OtlpGrpcReceiverConfig = z
  .object({
    enabled: z.boolean().default(true),
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(4317),
    /** Largest accepted message after decompression; grpc-js answers RESOURCE_EXHAUSTED beyond it. */
    maxRequestBytes: z.number().int().positive().default(64 * 1024 * 1024),
    /** Serve gRPC over TLS with these PEM files (docs/security.md). */
    tls: TlsConfig.optional(),
  })
  .strict();
export type OtlpGrpcReceiverConfig = z.output<typeof OtlpGrpcReceiverConfig>;

/**
 * The TraceService definition, written by hand so the message stays raw bytes until our own decoder
 * reads it: decoding errors then become INVALID_ARGUMENT with our message, not a generic failure.
 */
const TRACE_SERVICE: ServiceDefinition = {
  Export: {
    path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
    requestStream: false,
    responseStream: false,
    requestSerialize: (value: Buffer) => value,
    requestDeserialize: (bytes: Buffer) => bytes,
    responseSerialize: (value: Uint8Array) => Buffer.from(value.buffer, value.byteOffset, value.byteLength),
    responseDeserialize: (bytes: Buffer) => bytes,
  },
};

/** OTLP/gRPC trace receiver: `TraceService/Export`, gzip accepted (grpc-js decompresses). */
export class OtlpGrpcReceiver implements Component {
  private server: Server | undefined;
  private boundPort = 0;

  constructor(
    private readonly config: OtlpGrpcReceiverConfig,
    private readonly consumer: TraceConsumer,
    private readonly limiter: InFlightLimiter,
    /** Optional bearer-token check and TLS material (loaded and validated by the caller). */
    private readonly security: ReceiverSecurity = {},
  ) {}

  async start(): Promise<void> {
    quietBindFailureLog();
    const server = new Server({
      'grpc.max_receive_message_length': this.config.maxRequestBytes,
      'grpc.max_send_message_length': 4 * 1024 * 1024,
      // Authentication and the overload check on the metadata, before a (possibly large) message is read.
      interceptors: [
        ...(this.security.verifier ? [bearerAuthInterceptor(this.security.verifier, this.security.onRefused)] : []),
        saturationInterceptor(this.limiter, this.security.onRefused),
      ],
    });
    const implementation: UntypedServiceImplementation = {
      Export: (call: ServerUnaryCall<Buffer, Uint8Array>, callback: sendUnaryData<Uint8Array>) => {
        const verifier = this.security.verifier ?? null;
        if (verifier !== null) {
          const [authorization] = call.metadata.get('authorization');
          if (!verifier.verify(typeof authorization === 'string' ? authorization : undefined)) {
            this.security.onRefused?.('grpc', 'unauthenticated', 1);
            return callback({ code: GrpcStatus.UNAUTHENTICATED, details: 'missing or invalid bearer token' });
          }
        }
        void this.export(call.request, callback);
      },
    };
    server.addService(TRACE_SERVICE, implementation);
    const address = `${hostForGrpc(this.config.host)}:${this.config.port}`;
    this.boundPort = await new Promise<number>((resolve, reject) => {
      const tls = this.security.tls ?? null;
      const credentials =
        tls === null
          ? ServerCredentials.createInsecure()
          : ServerCredentials.createSsl(null, [{ cert_chain: tls.cert, private_key: tls.key }], false);
      server.bindAsync(address, credentials, (err, port) => {
        if (err === null) return resolve(port);
        server.forceShutdown();
        // grpc-js says which errno only inside its message ("... errors: [listen EADDRINUSE: ...]").
        const code = /\b(E[A-Z]{3,})\b/.exec(err.message)?.[1];
        reject(Object.assign(new Error(`cannot bind ${address}: ${err.message}`, { cause: err }), code === undefined ? {} : { code }));
      });
    });
    this.server = server;
  }

  get address(): { address: string; port: number } {
    if (this.server === undefined) throw new Error('OTLP/gRPC receiver is not listening');
    return { address: this.config.host, port: this.boundPort };
  }

  /** True when the receiver serves gRPC over TLS. */
  get tls(): boolean {
    return this.security.tls != null;
  }

  /** Refuses new calls, lets calls in progress finish, then closes. */
  async shutdown(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  }

  private async export(message: Buffer, callback: sendUnaryData<Uint8Array>): Promise<void> {
    const reservation = this.limiter.begin();
    if (reservation === null || !reservation.addBytes(message.length)) {
      reservation?.release();
      this.security.onRefused?.('grpc', 'overloaded', 1);
      return callback(grpcError(new PipelineError('overloaded', 'too much data in flight; retry later', 1)));
    }
    try {
      const request = decodeTraceRequestProtobuf(message);
      if (!reservation.addSpans(countSpans(request))) {
        this.security.onRefused?.('grpc', 'overloaded', countSpans(request));
        return callback(grpcError(new PipelineError('overloaded', 'too many spans in flight; retry later', 1)));
      }
      const result = await this.consumer.consume(request, { bytes: message.length, transport: 'grpc', raw: message });
      callback(null, encodeExportResponseProtobuf(result));
    } catch (err) {
      const failure = asPipelineError(err);
      this.security.onRefused?.('grpc', failure.kind, 1);
      callback(grpcError(failure));
    } finally {
      reservation.release();
    }
  }
}

/** A gRPC error for a pipeline failure (status-codes.ts); the retry delay goes in `retry-after` metadata. */
function grpcError(err: PipelineError): { code: GrpcStatus; details: string; metadata?: Metadata } {
  const code = errorKindStatus[err.kind].grpc as GrpcStatus;
  if (err.retryAfterSeconds === undefined) return { code, details: err.message };
  const metadata = new Metadata();
  metadata.set('retry-after', String(err.retryAfterSeconds));
  return { code, details: err.message, metadata };
}

/** Refuses a call with UNAUTHENTICATED as soon as its metadata lacks a valid bearer token. */
function bearerAuthInterceptor(verifier: NonNullable<ReceiverSecurity['verifier']>, onRefused: RefusalObserver | undefined): ServerInterceptor {
  return (_method, call) =>
    new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, forward) => {
            const [authorization] = metadata.get('authorization');
            if (verifier.verify(typeof authorization === 'string' ? authorization : undefined)) forward(metadata);
            else {
              onRefused?.('grpc', 'unauthenticated', 1);
              call.sendStatus({ code: GrpcStatus.UNAUTHENTICATED, details: 'missing or invalid bearer token' });
            }
          },
        }),
    });
}

/**
 * Refuses a call with UNAVAILABLE + retry-after as soon as its metadata arrives when the in-flight budget is
 * already spent, so under sustained overload grpc-js does not buffer messages only for them to be refused.
 */
function saturationInterceptor(limiter: InFlightLimiter, onRefused: RefusalObserver | undefined): ServerInterceptor {
  return (_method, call) =>
    new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, forward) => {
            const { bytes, spans } = limiter.inFlight;
            if (bytes < limiter.limits.maxBytes && spans < limiter.limits.maxSpans) return forward(metadata);
            const trailer = new Metadata();
            trailer.set('retry-after', '1');
            onRefused?.('grpc', 'overloaded', 1);
            call.sendStatus({ code: GrpcStatus.UNAVAILABLE, details: 'too much data in flight; retry later', metadata: trailer });
          },
        }),
    });
}

let bindFailureLogQuieted = false;

/**
 * grpc-js logs a failed bind itself ("E No address added out of total 1 resolved") and then rejects with the
 * same words; the rejection is reported (with the listener and the setting to change), so that log line is
 * dropped. Everything else grpc-js logs still goes to stderr as grpc-js's default logger writes it.
 */
function quietBindFailureLog(): void {
  if (bindFailureLogQuieted) return;
  bindFailureLogQuieted = true;
  const write =
    (prefix: string) =>
    (message?: unknown, ...rest: unknown[]) => {
      if (typeof message === 'string' && message.startsWith('No address added out of total')) return;
      console.error(`${prefix} ${String(message)}`, ...rest);
    };
  setLogger({ error: write('E'), info: write('I'), debug: write('D') });
}

/** grpc-js wants IPv6 literals in brackets. */
function hostForGrpc(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}
