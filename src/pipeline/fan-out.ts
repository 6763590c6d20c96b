import type { ProcessedBatch, TraceExporter } from '../../core/exporter.js';
import { asPipelineError, PipelineError } from '../../core/pipeline-errors.js';

/**
 * Hands each batch to every exporter (the Collector's fan-out consumer) and resolves with the worst status of
 * the exporters that acknowledge (Vector's end-to-end acknowledgements): the client hears 200/OK only when
 * each of them has the batch.
 *
 * The exporters that do not acknowledge (forwarders, with their own bounded queues) get the batch once the
 * acknowledging ones have it and before the client is answered: a batch the ledger refused is not forwarded
 * (the client's retry brings it back, so the destination does not see it twice), and a batch acknowledged to
 * the client is already in each forwarder's queue. Their `export` only queues; their failures are theirs to
 * count and log and never reach the client.
 */
export class FanOut {
  readonly acknowledging: readonly TraceExporter[];
  readonly others: readonly TraceExporter[];

  constructor(readonly exporters: readonly TraceExporter[]) {
    this.acknowledging = exporters.filter((e) => e.acknowledges);
    this.others = exporters.filter((e) => !e.acknowledges);
  }

  async export(batch: ProcessedBatch): Promise<void> {
    const ack = this.acknowledging;
    // The common case: the ledger alone acknowledges.
    if (ack.length === 1) {
      await ack[0]!.export(batch);
    } else if (ack.length > 1) {
      const results = await Promise.allSettled(ack.map((e) => e.export(batch)));
      const failures = results.flatMap((r) => (r.status === 'rejected' ? [asPipelineError(r.reason)] : []));
      if (failures.length > 0) throw worstError(failures);
    }
    for (const exporter of this.others) {
      try {
        exporter.export(batch).catch(() => undefined);
      } catch {
        // An exporter that does not acknowledge keeps its own counts; it can never fail the request.
      }
    }
  }
}

const RANK: Record<PipelineError['kind'], number> = { unavailable: 3, overloaded: 2, too_large: 1, invalid: 0 };

/**
 * The status the client gets when several exporters failed. A retryable failure outranks a permanent one:
 * only a retry gets the batch to the exporter that could not take it now (the others count the re-sent
 * spans once). Among equals, the longest Retry-After wins.
 */
export function worstError(errors: readonly PipelineError[]): PipelineError {
  let worst = errors[0]!;
  for (const e of errors) {
    const rank = RANK[e.kind] - RANK[worst.kind];
    if (rank > 0 || (rank === 0 && (e.retryAfterSeconds ?? 0) > (worst.retryAfterSeconds ?? 0))) worst = e;
  }
  return worst;
}
