import type { PipelineErrorKind } from '../../core/pipeline-errors.js';

/** google.rpc.Code values used by OTLP. */
export const GrpcCode = {
  OK: 0,
  INVALID_ARGUMENT: 3,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/**
 * How each pipeline error kind is answered on each transport (see core/pipeline-errors.ts): the one table both
 * receivers use, following the OTLP specification's failure sections and the Collector's
 * `receiver/otlpreceiver/internal/errors`. Overload is UNAVAILABLE on gRPC, not RESOURCE_EXHAUSTED: OTLP
 * clients retry RESOURCE_EXHAUSTED only when RetryInfo is attached, and UNAVAILABLE always; the delay goes
 * in `retry-after` metadata. `retryable` says whether the client should send the same request again.
 */
export const errorKindStatus: Record<PipelineErrorKind, { http: number; grpc: number; retryable: boolean }> = {
  invalid: { http: 400, grpc: GrpcCode.INVALID_ARGUMENT, retryable: false },
  too_large: { http: 413, grpc: GrpcCode.RESOURCE_EXHAUSTED, retryable: false },
  overloaded: { http: 429, grpc: GrpcCode.UNAVAILABLE, retryable: true },
  unavailable: { http: 503, grpc: GrpcCode.UNAVAILABLE, retryable: true },
};
