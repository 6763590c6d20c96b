import type { Component } from './component.js';
import type { LedgerChanges } from './ledger-changes.js';
import type { LedgerRow } from './ledger-row.js';
import type { Span, TraceRequest } from './otlp.js';

/**
 * What the ledger decided about one GenAI span: its row, and whether it is billed (`genai_calls`) or a
 * duplicate of a billed call (`genai_duplicate_spans`). Forwarding exporters put this on the span.
 */
export interface SpanDecision {
  row: LedgerRow;
  billed: boolean;
}

/** One processed request, as every exporter receives it. */
export interface ProcessedBatch {
  /** The request exactly as decoded: every span, GenAI or not, with every field as received. */
  request: TraceRequest;
  /** The same request as received in protobuf form, when it came that way (see ConsumeInfo.raw). */
  raw: Uint8Array | null;
  /** The billed calls: new rows of `genai_calls`. */
  rows: readonly LedgerRow[];
  /** Duplicates, and changes to rows of earlier requests; null when there are none (the common case). */
  changes: LedgerChanges | null;
  /** The decision for a GenAI span of `request` (by object identity), or undefined for any other span. */
  decisionOf(span: Span): SpanDecision | undefined;
}

/**
 * A destination for processed batches (the OpenTelemetry Collector's consumer contract, one method). The
 * promise is the acknowledgement: it resolves when the batch is safely handed over, and rejects with a
 * PipelineError (core/pipeline-errors.ts) otherwise.
 *
 * `acknowledges`: whether the client's answer waits for this exporter. The client's status is the worst of
 * those that do (src/pipeline/fan-out.ts). An exporter that does not acknowledge must not slow the others:
 * it takes the batch into its own bounded queue and returns at once.
 */
export interface TraceExporter extends Component {
  /** The configured name, Collector-style: `duckdb`, `otlp/tempo`, … (used in logs and metrics). */
  readonly name: string;
  readonly acknowledges: boolean;
  export(batch: ProcessedBatch): Promise<void>;
}

/** A GenAI span as read back from the ledger after a restart (the DuckDB exporter reads them back). */
export interface RestoredSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  /** Span start, ms. */
  startMs: number;
  /** In genai_calls (true) or genai_duplicate_spans (false). */
  billed: boolean;
  duplicateOfTraceId: string | null;
  duplicateOfSpanId: string | null;
  hasUsage: boolean;
  richness: number;
  responseId: string | null;
  teamId: string | null;
  projectId: string | null;
  environment: string | null;
  service: string | null;
  attributionSource: string | null;
  exceptions: string[];
}

/** An exporter that can tell which GenAI spans it committed recently (the ledger), to rebuild the trace index. */
export interface LineageSource {
  recentLineage(windowSeconds: number, limit: number): Promise<RestoredSpan[]>;
}
