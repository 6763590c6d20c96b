import type { Component } from '../component.js';
import { countSpans, type TraceRequest } from '../model/otlp.js';
import type { LedgerRow } from '../model/ledger-row.js';
import type { ConsumeInfo, ConsumeResult, TraceConsumer } from './consumer.js';
import { PipelineError } from './errors.js';
import type { LedgerProcessor } from './ledger-processor.js';

/** Where processed rows go; the DuckDB exporter implements it. Resolves only once rows are durable. */
export interface LedgerWriter extends Component {
  write(rows: readonly LedgerRow[]): Promise<void>;
}

/** Counters about the pipeline itself, for logs and (later) /metrics. */
export interface PipelineStats {
  requests: number;
  spansReceived: number;
  rowsWritten: number;
  spansRejected: number;
  writeFailures: number;
}

/**
 * The receive core both transports call: process a decoded request into ledger rows and answer only
 * after the writer has committed them. After `shutdown` begins, new requests get `unavailable` (the
 * client retries against the restarted server) while requests already accepted are finished.
 */
export class LedgerPipeline implements TraceConsumer, Component {
  readonly stats: PipelineStats = { requests: 0, spansReceived: 0, rowsWritten: 0, spansRejected: 0, writeFailures: 0 };
  private accepting = false;
  private readonly pending = new Set<Promise<unknown>>();

  constructor(
    private readonly processor: LedgerProcessor,
    private readonly writer: LedgerWriter,
  ) {}

  async start(): Promise<void> {
    await this.writer.start();
    this.accepting = true;
  }

  async consume(request: TraceRequest, _info: ConsumeInfo): Promise<ConsumeResult> {
    if (!this.accepting) throw new PipelineError('unavailable', 'genai-ledger is shutting down', 1);
    this.stats.requests++;
    this.stats.spansReceived += countSpans(request);
    const { rows, rejectedSpans, errorMessage } = this.processor.process(request);
    this.stats.spansRejected += rejectedSpans;
    if (rows.length > 0) {
      const write = this.writer.write(rows);
      this.pending.add(write);
      try {
        await write;
      } catch (err) {
        this.stats.writeFailures++;
        if (err instanceof PipelineError) throw err;
        throw new PipelineError('unavailable', `ledger write failed: ${(err as Error).message}`, 5, { cause: err });
      } finally {
        this.pending.delete(write);
      }
      this.stats.rowsWritten += rows.length;
    }
    return { rejectedSpans, errorMessage };
  }

  /** Stops accepting, waits for accepted writes to commit, then closes the writer. */
  async shutdown(): Promise<void> {
    this.accepting = false;
    await Promise.allSettled([...this.pending]);
    await this.writer.shutdown();
  }
}
