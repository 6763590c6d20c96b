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
}

/** Maps onto OTLP `ExportTracePartialSuccess`: zero rejected spans means full success. */
export interface ConsumeResult {
  rejectedSpans: number;
  errorMessage: string;
}
