import type { PipelineErrorKind } from '../../src/pipeline/errors.js';

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

/** How each pipeline error kind is answered on each transport (see src/pipeline/errors.ts). */
export const errorKindStatus: Record<PipelineErrorKind, { http: number; grpc: number }> = {
  invalid: { http: 400, grpc: GrpcCode.INVALID_ARGUMENT },
  too_large: { http: 413, grpc: GrpcCode.RESOURCE_EXHAUSTED },
  overloaded: { http: 429, grpc: GrpcCode.RESOURCE_EXHAUSTED },
  unavailable: { http: 503, grpc: GrpcCode.UNAVAILABLE },
};
