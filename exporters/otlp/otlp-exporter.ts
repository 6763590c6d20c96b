import type { ProcessedBatch, TraceExporter } from '../../core/exporter.js';
import { countSpans, type Span } from '../../core/otlp.js';
import { encodeSpanAttributes } from './encode-trace-request.js';
import { enrichmentAttributes } from './enrichment.js';
import { spanIdKey, spliceSpanAttributes, type SpanExtra } from './splice-attributes.js';
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
    const { spans, maxRequestBytes } = this.forwarder.settings;
    if (batch.raw !== null && spans === 'all' && batch.raw.length <= maxRequestBytes) {
      // The common case: copy the request's own bytes, adding the decision to the GenAI spans only.
      let spliced: Uint8Array | null = null;
      try {
        spliced = spliceSpanAttributes(batch.raw, decidedSpans(batch));
      } catch {
        // Bytes our decoder accepted but the splicer cannot walk: encode from the decoded request instead.
      }
      if (spliced !== null) {
        this.forwarder.forwardEncoded(spliced, countSpans(batch.request));
        return Promise.resolve();
      }
    }
    this.forwarder.forward(batch.request, (span: Span) => enrichmentOf(batch, span));
    return Promise.resolve();
  }
}

/** Computed once per batch, however many destinations forward it. */
const decidedByBatch = new WeakMap<ProcessedBatch, SpanExtra>();

/** The encoded enrichment attributes of each GenAI span of the batch, looked up by its ids. */
function decidedSpans(batch: ProcessedBatch): SpanExtra {
  let decided = decidedByBatch.get(batch);
  if (decided === undefined) {
    decided = encodeDecisions(batch);
    decidedByBatch.set(batch, decided);
  }
  return decided;
}

function encodeDecisions(batch: ProcessedBatch): SpanExtra {
  const bySpanId = new Map<string, { traceId: string; extra: Uint8Array }[]>();
  for (const resourceSpans of batch.request.resourceSpans) {
    for (const scopeSpans of resourceSpans.scopeSpans) {
      for (const span of scopeSpans.spans) {
        const enrichment = enrichmentOf(batch, span);
        if (enrichment === null) continue;
        const entry = { traceId: span.traceId, extra: encodeSpanAttributes(enrichmentAttributes(enrichment)) };
        const list = bySpanId.get(span.spanId);
        if (list === undefined) bySpanId.set(span.spanId, [entry]);
        else list.push(entry);
      }
    }
  }
  return {
    keys: new Set([...bySpanId.keys()].map(spanIdKey)),
    extra: (traceId, spanId) => {
      const list = bySpanId.get(spanId);
      if (list === undefined) return null;
      for (const entry of list) if (entry.traceId === traceId) return entry.extra;
      return null;
    },
  };
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
