import type { ProcessedBatch, TraceExporter } from '../../core/exporter.js';
import type { Span } from '../../core/otlp.js';
import { formatPicoUsd } from '../../processors/pricing/decimal.js';
import type { OtlpForwarderConfig } from './config.js';
import { OtlpForwarder, type OtlpForwarderOptions, type SpanEnrichment } from './otlp-forwarder.js';

/**
 * The forwarder as a pipeline exporter (core/exporter.ts): every batch the ledger accepted goes to the
 * destination with the ledger's decision on each GenAI span. It does not acknowledge: `export` queues the
 * batch synchronously (to disk too with a persistent queue) and returns, so a slow or dead destination never
 * changes the ledger's answer to the client.
 */
export class OtlpExporter implements TraceExporter {
  readonly acknowledges = false;
  readonly forwarder: OtlpForwarder;

  constructor(
    readonly name: string,
    config: OtlpForwarderConfig,
    options: OtlpForwarderOptions = {},
  ) {
    this.forwarder = new OtlpForwarder(name, config, options);
  }

  start(): Promise<void> {
    return this.forwarder.start();
  }

  shutdown(): Promise<void> {
    return this.forwarder.shutdown();
  }

  export(batch: ProcessedBatch): Promise<void> {
    this.forwarder.forward(batch.request, (span: Span) => enrichmentOf(batch, span));
    return Promise.resolve();
  }
}

function enrichmentOf(batch: ProcessedBatch, span: Span): SpanEnrichment | null {
  const decision = batch.decisionOf(span);
  if (decision === undefined) return null;
  const { row, billed } = decision;
  return {
    // Exact decimal text to a double: the nearest double to the exact cost (no float sums along the way).
    costUsd: row.requestCostPicoUsd === null ? null : Number(formatPicoUsd(row.requestCostPicoUsd)),
    teamId: row.teamId,
    costCenter: row.costCenter,
    projectId: row.projectId,
    attributionStatus: row.attributionStatus,
    billed,
    priceSnapshot: row.unitPriceSnapshot,
  };
}
