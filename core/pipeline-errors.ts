/**
 * Typed pipeline errors. As in the OpenTelemetry Collector, the error a consumer returns *is* the
 * acknowledgement and the backpressure signal: receivers map the kind to the transport's status with the
 * one table in receivers/otlp/status-codes.ts (`errorKindStatus`), shared by OTLP/HTTP and OTLP/gRPC.
 *
 * - `invalid`: the payload is wrong; retrying will not help (400 / INVALID_ARGUMENT).
 * - `too_large`: the payload exceeds a configured size limit (413 / RESOURCE_EXHAUSTED without retry info).
 * - `overloaded`: in-flight limits reached; retry after a pause (429 / UNAVAILABLE, with Retry-After).
 * - `unavailable`: a transient failure (storage, shutdown) — and any error we did not foresee, see
 *   {@link asPipelineError}; retry (503 / UNAVAILABLE, with Retry-After).
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

/** Seconds a client is asked to wait after an error we did not foresee. */
export const UNEXPECTED_ERROR_RETRY_SECONDS = 5;

/**
 * Any error as a PipelineError. An error that is not one is a bug we did not foresee: it answers the request
 * as retryable (`unavailable`), as the Collector does for non-permanent errors, so the client keeps its data
 * and retries; nothing about it persists into later requests.
 */
export function asPipelineError(err: unknown): PipelineError {
  if (err instanceof PipelineError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new PipelineError('unavailable', `internal error: ${message}`, UNEXPECTED_ERROR_RETRY_SECONDS, { cause: err });
}
