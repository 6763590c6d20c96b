import type { TraceRequest } from './otlp.js';

/**
 * What both receivers hand a decoded request to. The promise resolves only when every accepted span's
 * ledger row is durable; it rejects with a PipelineError otherwise. This single method is the whole
 * contract between receivers and the rest of the pipeline.
 */
export interface TraceConsumer {
  consume(request: TraceRequest, info: ConsumeInfo): Promise<ConsumeResult>;
}

export interface ConsumeInfo {
  /** Size of the request after decompression, in bytes (for in-flight accounting). */
  bytes: number;
  transport: 'http' | 'grpc';
  /**
   * The request as an encoded protobuf ExportTraceServiceRequest (after decompression) when it came that way;
   * forwarders copy it instead of encoding the decoded request again.
   */
  raw?: Uint8Array;
}

/** Maps onto OTLP `ExportTracePartialSuccess`: zero rejected spans means full success. */
export interface ConsumeResult {
  rejectedSpans: number;
  errorMessage: string;
}

/** Why a receiver refused a request: a pipeline error kind, or a failed bearer-token check. */
export type RefusalReason = 'invalid' | 'too_large' | 'overloaded' | 'unavailable' | 'unauthenticated';

/** Told by the receivers about every request they refuse (for /metrics); never slows the answer. */
export type RefusalObserver = (transport: ConsumeInfo['transport'], reason: RefusalReason, spans: number) => void;

/** The refusal reason of an OTLP/HTTP status code that is not 200 (status-codes.ts is the inverse). */
export function refusalOfHttpStatus(status: number): RefusalReason {
  if (status === 401 || status === 403) return 'unauthenticated';
  if (status === 413) return 'too_large';
  if (status === 429) return 'overloaded';
  if (status >= 500) return 'unavailable';
  return 'invalid';
}
