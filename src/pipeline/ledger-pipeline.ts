import type { Component } from '../component.js';
import { countSpans, type TraceRequest } from '../model/otlp.js';
import type { LedgerRow } from '../model/ledger-row.js';
import { hasChanges, type LedgerChanges } from '../model/ledger-changes.js';
import type { RestoredSpan } from './span-lineage.js';
import type { ConsumeInfo, ConsumeResult, TraceConsumer } from './consumer.js';
import { PipelineError } from './errors.js';
import type { LedgerProcessor } from './ledger-processor.js';

/** Where processed rows go; the DuckDB exporter implements it. Resolves only once rows are durable. */
export interface LedgerWriter extends Component {
  /** Commits the new billed rows and `changes` (duplicates, moves, late ownership) in one transaction. */
  write(rows: readonly LedgerRow[], changes?: LedgerChanges | null): Promise<void>;
  /** The GenAI spans committed within the window, to rebuild the trace index after a restart. */
  recentLineage?(windowSeconds: number, limit: number): Promise<RestoredSpan[]>;
}

/** Counters about the pipeline itself, for logs and (later) /metrics. */
export interface PipelineStats {
  requests: number;
  spansReceived: number;
  rowsWritten: number;
  /** GenAI spans written to genai_duplicate_spans instead (counted once). */
  duplicatesWritten: number;
  spansRejected: number;
  writeFailures: number;
}

/**
 * The receive core both transports call: process a decoded request into ledger rows and answer only
 * after the writer has committed them. After `shutdown` begins, new requests get `unavailable` (the
 * client retries against the restarted server) while requests already accepted are finished.
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
  /**
   * Moves and ownership updates of a write that failed (or found at restore), committed with the next write.
   * The failed request's own rows come back with the client's retry; these changes would not, because the
   * trace index already holds the decision they carry.
   */
  private carried: LedgerChanges | null = null;

  constructor(
    private readonly processor: LedgerProcessor,
    private readonly writer: LedgerWriter,
    private readonly restoreWindow: { windowSeconds: number; maxSpans: number } | null = null,
  ) {}

  async start(): Promise<void> {
    await this.writer.start();
    if (this.restoreWindow !== null && this.writer.recentLineage !== undefined) {
      const { windowSeconds, maxSpans } = this.restoreWindow;
      this.carry(this.processor.restore(await this.writer.recentLineage(windowSeconds, maxSpans)));
    }
    this.accepting = true;
  }

  async consume(request: TraceRequest, _info: ConsumeInfo): Promise<ConsumeResult> {
    if (!this.accepting) throw new PipelineError('unavailable', 'genai-ledger is shutting down', 1);
    this.stats.requests++;
    this.stats.spansReceived += countSpans(request);
    const processed = this.processor.process(request);
    const { rows, rejectedSpans, errorMessage } = processed;
    let changes = processed.changes;
    if (this.carried !== null) {
      changes = withCarried(this.carried, changes);
      this.carried = null;
    }
    this.stats.spansRejected += rejectedSpans;
    if (rows.length > 0 || changes !== null) {
      const write = this.writer.write(rows, changes);
      this.pending.add(write);
      try {
        await write;
      } catch (err) {
        this.stats.writeFailures++;
        this.carry(changes);
        if (err instanceof PipelineError) throw err;
        throw new PipelineError('unavailable', `ledger write failed: ${(err as Error).message}`, 5, { cause: err });
      } finally {
        this.pending.delete(write);
      }
      this.stats.rowsWritten += rows.length;
      this.stats.duplicatesWritten += changes?.duplicates.length ?? 0;
    }
    return { rejectedSpans, errorMessage };
  }

  private carry(changes: LedgerChanges | null): void {
    if (changes === null || (changes.moves.length === 0 && changes.ownerUpdates.length === 0)) return;
    const kept: LedgerChanges = { duplicates: [], moves: changes.moves, ownerUpdates: changes.ownerUpdates };
    this.carried = this.carried === null ? kept : withCarried(this.carried, kept);
  }

  /** Stops accepting, waits for accepted writes to commit, then closes the writer. */
  async shutdown(): Promise<void> {
    this.accepting = false;
    await Promise.allSettled([...this.pending]);
    await this.writer.shutdown();
  }
}

/** `earlier` then `later` (the writer applies a key's last change). */
function withCarried(earlier: LedgerChanges, later: LedgerChanges | null): LedgerChanges | null {
  const merged: LedgerChanges = {
    duplicates: later?.duplicates ?? [],
    moves: [...earlier.moves, ...(later?.moves ?? [])],
    ownerUpdates: [...earlier.ownerUpdates, ...(later?.ownerUpdates ?? [])],
  };
  return hasChanges(merged) ? merged : null;
}
