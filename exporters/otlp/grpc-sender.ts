import { Client, credentials, Metadata, status as GrpcStatus, type ClientUnaryCall, type ServiceError } from '@grpc/grpc-js';
import { decodeExportResponseProtobuf } from '../../receivers/otlp/encode-response.js';
import { ProtobufReader } from '../../receivers/otlp/protobuf-reader.js';
import type { SendResult, Sender } from './send-result.js';

const EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

/**
 * Codes the OTLP spec lists as retryable. RESOURCE_EXHAUSTED is retried only when the server says when
 * (google.rpc.RetryInfo in `grpc-status-details-bin`, or a `retry-after` header as our own receiver sends).
 */
const RETRYABLE = new Set<number>([
  GrpcStatus.CANCELLED,
  GrpcStatus.DEADLINE_EXCEEDED,
  GrpcStatus.ABORTED,
  GrpcStatus.OUT_OF_RANGE,
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.DATA_LOSS,
]);

export interface GrpcSenderOptions {
  secure: boolean;
  headers: Record<string, string>;
  compression: 'gzip' | 'none';
  timeoutMs: number;
  /** PEM CA certificates to trust instead of the system ones (grpcs only). */
  ca?: Buffer;
  insecureSkipVerify?: boolean;
  userAgent: string;
  /** Longest wait between reconnection attempts (kept in line with the retry backoff). */
  maxReconnectBackoffMs: number;
}

/**
 * OTLP/gRPC: a raw unary call to TraceService/Export. The message is the already-encoded request (Buffer
 * pass-through serializers, as on our receiver's side), compressed by grpc-js when gzip is on.
 */
export class GrpcSender implements Sender {
  readonly description: string;
  private readonly client: Client;
  private readonly metadata: Metadata;
  private inFlight: ClientUnaryCall | null = null;

  constructor(
    address: string,
    private readonly options: GrpcSenderOptions,
  ) {
    this.description = `OTLP/gRPC ${options.secure ? 'grpcs' : 'grpc'}://${address}`;
    const creds = options.secure
      ? credentials.createSsl(
          options.ca ?? null,
          null,
          null,
          options.insecureSkipVerify === true ? { rejectUnauthorized: false, checkServerIdentity: () => undefined } : {},
        )
      : credentials.createInsecure();
    this.client = new Client(address, creds, {
      'grpc.default_compression_algorithm': options.compression === 'gzip' ? 2 : 0,
      'grpc.primary_user_agent': options.userAgent,
      'grpc.max_receive_message_length': 4 * 1024 * 1024,
      'grpc.max_reconnect_backoff_ms': options.maxReconnectBackoffMs,
      'grpc.initial_reconnect_backoff_ms': Math.min(1000, options.maxReconnectBackoffMs),
      // Our own loop retries, with the OTLP rules; grpc-js must not retry on its own as well.
      'grpc.enable_retries': 0,
    });
    this.metadata = new Metadata();
    for (const [name, value] of Object.entries(options.headers)) this.metadata.set(name, value);
  }

  send(body: Uint8Array): Promise<SendResult> {
    const message = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    return new Promise<SendResult>((resolve) => {
      const call = this.client.makeUnaryRequest<Buffer, Buffer>(
        EXPORT_PATH,
        (b) => b,
        (b) => b,
        message,
        this.metadata.clone(),
        { deadline: Date.now() + this.options.timeoutMs },
        (err, response) => {
          if (this.inFlight === call) this.inFlight = null;
          if (err) return resolve(classifyError(err));
          let partial = { rejectedSpans: 0, errorMessage: '' };
          try {
            if (response !== undefined && response.length > 0) partial = decodeExportResponseProtobuf(response);
          } catch {
            // An unreadable answer to a successful call: the spans were taken.
          }
          resolve({ outcome: 'sent', rejectedSpans: partial.rejectedSpans, message: partial.errorMessage });
        },
      );
      this.inFlight = call;
    });
  }

  abort(): void {
    this.inFlight?.cancel();
  }

  close(): void {
    this.abort();
    this.client.close();
  }
}

function classifyError(err: ServiceError): SendResult {
  const name = GrpcStatus[err.code] ?? String(err.code);
  const error = `gRPC ${name}${err.details ? `: ${err.details}` : ''}`;
  const retryAfterMs = err.metadata ? serverRetryDelayMs(err.metadata) : null;
  if (RETRYABLE.has(err.code)) return { outcome: 'retryable', error, retryAfterMs };
  if (err.code === GrpcStatus.RESOURCE_EXHAUSTED && retryAfterMs !== null) return { outcome: 'retryable', error, retryAfterMs };
  return { outcome: 'rejected', error };
}

/** The delay a server asked for: google.rpc.RetryInfo in the status details, else a `retry-after` header (seconds). */
export function serverRetryDelayMs(metadata: Metadata): number | null {
  for (const value of metadata.get('grpc-status-details-bin')) {
    if (typeof value === 'string') continue;
    const delay = retryInfoDelayMs(value);
    if (delay !== null) return delay;
  }
  const [retryAfter] = metadata.get('retry-after');
  if (typeof retryAfter === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(retryAfter)) return Math.round(Number(retryAfter) * 1000);
  return null;
}

const RETRY_INFO_TYPE = 'type.googleapis.com/google.rpc.RetryInfo';

/**
 * Reads `google.rpc.Status { details (3): repeated Any { type_url (1), value (2) } }` and, in a
 * `google.rpc.RetryInfo { retry_delay (1): Duration { seconds (1), nanos (2) } }`, the delay. null if none.
 */
export function retryInfoDelayMs(statusBytes: Uint8Array): number | null {
  try {
    const r = new ProtobufReader(statusBytes);
    while (r.pos < statusBytes.length) {
      const tag = r.tag();
      if (tag !== 26) {
        r.skip(tag, statusBytes.length);
        continue;
      }
      const anyEnd = r.lenEnd(statusBytes.length);
      let typeUrl = '';
      let value: Uint8Array | null = null;
      while (r.pos < anyEnd) {
        const t = r.tag();
        if (t === 10) typeUrl = r.string(anyEnd);
        else if (t === 18) value = r.bytes(anyEnd);
        else r.skip(t, anyEnd);
      }
      if (typeUrl === RETRY_INFO_TYPE && value !== null) return durationMs(value);
    }
  } catch {
    // Malformed details: as if there were none.
  }
  return null;
}

function durationMs(retryInfo: Uint8Array): number | null {
  const r = new ProtobufReader(retryInfo);
  while (r.pos < retryInfo.length) {
    const tag = r.tag();
    if (tag !== 10) {
      r.skip(tag, retryInfo.length);
      continue;
    }
    const end = r.lenEnd(retryInfo.length);
    let seconds = 0;
    let nanos = 0;
    while (r.pos < end) {
      const t = r.tag();
      if (t === 8) seconds = Number(r.int64());
      else if (t === 16) nanos = r.int32();
      else r.skip(t, end);
    }
    return Math.max(0, Math.round(seconds * 1000 + nanos / 1e6));
  }
  return null;
}
