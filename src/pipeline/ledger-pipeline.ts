import type { Component } from '../../core/component.js';
import { countSpans, type Span, type TraceRequest } from '../../core/otlp.js';
import { mergeChanges, type LedgerChanges } from '../../core/ledger-changes.js';
import type { LineageSource, ProcessedBatch, SpanDecision, TraceExporter } from '../../core/exporter.js';
import type { ConsumeInfo, ConsumeResult, TraceConsumer } from '../../core/consumer.js';
import { asPipelineError, PipelineError } from '../../core/pipeline-errors.js';
import type { LedgerProcessor } from './ledger-processor.js';
import { FanOut } from './fan-out.js';

/** Counters about the pipeline itself, for logs and /metrics. */
export interface PipelineStats {
  requests: number;
  spansReceived: number;
  rowsWritten: number;
  /** GenAI spans written to genai_duplicate_spans instead (counted once). */
  duplicatesWritten: number;
  spansRejected: number;
  writeFailures: number;
}

/** Told after each batch the acknowledging exporters took (for /metrics); never slows the answer. */
export type BatchObserver = (batch: ProcessedBatch, seconds: number) => void;

const NO_DECISIONS = (): undefined => undefined;

/**
 * The receive core both transports call: process a decoded request (detect, attribute, price) and hand the
 * batch to every exporter (fan-out), answering only after the exporters that acknowledge — the DuckDB ledger
 * always among them — have it. After `shutdown` begins, new requests get `unavailable` (the client retries
 * against the restarted server) while requests already accepted are finished.
 */
export class LedgerPipeline implements TraceConsumer, Component {
  readonly stats: PipelineStats = {
    requests: 0,
    spansReceived: 0,
    rowsWritten: 0,
    duplicatesWritten: 0,
    spansRejected: 0,
    writeFailures: 0,
  };
  private accepting = false;
  private readonly pending = new Set<Promise<unknown>>();
  private readonly fanOut: FanOut;
  /** Changes found when the trace index was restored at start, committed with the first batch. */
  private restored: LedgerChanges | null = null;
  /** Whether any exporter reads span decisions (forwarders): only then are they collected. */
  private readonly needsDecisions: boolean;
  private observer: BatchObserver | null = null;

  constructor(
    private readonly processor: LedgerProcessor,
    readonly exporters: readonly TraceExporter[],
    private readonly restoreFrom: { source: LineageSource; windowSeconds: number; maxSpans: number } | null = null,
  ) {
    this.fanOut = new FanOut(exporters);
    this.needsDecisions = exporters.some((e) => !e.acknowledges);
  }

  /** Sets the one observer told about every acknowledged batch. */
  observe(observer: BatchObserver): void {
    this.observer = observer;
  }

  async start(): Promise<void> {
    for (const exporter of this.exporters) await exporter.start();
    if (this.restoreFrom !== null) {
      const { source, windowSeconds, maxSpans } = this.restoreFrom;
      this.restored = this.processor.restore(await source.recentLineage(windowSeconds, maxSpans));
    }
    this.accepting = true;
  }

  async consume(request: TraceRequest, info: ConsumeInfo): Promise<ConsumeResult> {
    if (!this.accepting) throw new PipelineError('unavailable', 'genai-ledger is shutting down', 1);
    this.stats.requests++;
    this.stats.spansReceived += countSpans(request);
    const decisions = this.needsDecisions ? new Map<Span, SpanDecision>() : null;
    const processed = this.processor.process(request, Date.now(), decisions);
    const { rows, rejectedSpans, errorMessage } = processed;
    let changes = processed.changes;
    if (this.restored !== null) {
      changes = mergeChanges(this.restored, changes);
      this.restored = null;
    }
    this.stats.spansRejected += rejectedSpans;
    const batch: ProcessedBatch = {
      request,
      raw: info.raw ?? null,
      rows,
      changes,
      decisionOf: decisions === null ? NO_DECISIONS : (span) => decisions.get(span),
    };
    const started = performance.now();
    const exported = this.fanOut.export(batch);
    this.pending.add(exported);
    try {
      await exported;
    } catch (err) {
      this.stats.writeFailures++;
      throw asPipelineError(err);
    } finally {
      this.pending.delete(exported);
    }
    this.stats.rowsWritten += rows.length;
    this.stats.duplicatesWritten += changes?.duplicates.length ?? 0;
    this.observer?.(batch, (performance.now() - started) / 1000);
    return { rejectedSpans, errorMessage };
  }

  /** Stops accepting, waits for accepted batches, then shuts every exporter down (each flushes its own). */
  async shutdown(): Promise<void> {
    this.accepting = false;
    await Promise.allSettled([...this.pending]);
    const results = await Promise.allSettled(this.exporters.map((e) => e.shutdown()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }
}

