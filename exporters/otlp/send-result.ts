/**
 * What one attempt to deliver a request came to, as the OTLP exporter spec sorts answers
 * (opentelemetry-proto docs/specification.md, "Failures" / "OTLP/HTTP Throttling"):
 * - `sent`: the destination took it; `rejectedSpans` of them it refused (partial success);
 * - `retryable`: a transient failure (HTTP 429/502/503/504, gRPC UNAVAILABLE…, a network error, a
 *   timeout); `retryAfterMs` is the delay the server asked for, if any;
 * - `rejected`: the destination will never take it (HTTP 400…, gRPC INVALID_ARGUMENT…): do not retry.
 */
export type SendResult =
  | { outcome: 'sent'; rejectedSpans: number; message: string }
  | { outcome: 'retryable'; error: string; retryAfterMs: number | null }
  | { outcome: 'rejected'; error: string };

/** One transport to one destination. At most one `send` runs at a time (the forwarder's single loop). */
export interface Sender {
  /** Delivers an encoded ExportTraceServiceRequest. Never rejects: every outcome is a SendResult. */
  send(body: Uint8Array): Promise<SendResult>;
  /** Cancels the request in progress, if any (its send resolves as retryable). */
  abort(): void;
  /** Releases connections. */
  close(): void;
  /** How the destination is described in log lines, e.g. `OTLP/HTTP http://tempo:4318/v1/traces`. */
  readonly description: string;
}
