/**
 * Typed pipeline errors. As in the OpenTelemetry Collector, the error a consumer returns *is* the
 * acknowledgement and the backpressure signal: receivers map the kind to the transport's status.
 *
 * | kind        | OTLP/HTTP | OTLP/gRPC          | meaning                                          |
 * |-------------|-----------|--------------------|--------------------------------------------------|
 * | invalid     | 400       | INVALID_ARGUMENT   | the payload is wrong; retrying will not help     |
 * | too_large   | 413       | RESOURCE_EXHAUSTED | the payload exceeds a configured size limit      |
 * | overloaded  | 429       | RESOURCE_EXHAUSTED | in-flight limits reached; retry after a pause    |
 * | unavailable | 503       | UNAVAILABLE        | transient failure (storage, shutdown); retry     |
 */
export type PipelineErrorKind = 'invalid' | 'too_large' | 'overloaded' | 'unavailable';

export class PipelineError extends Error {
  constructor(
    readonly kind: PipelineErrorKind,
    message: string,
    /** Seconds the client should wait before retrying (overloaded/unavailable only). */
    readonly retryAfterSeconds?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'PipelineError';
  }
}

export const invalidPayload = (message: string, cause?: unknown) =>
  new PipelineError('invalid', message, undefined, { cause });
