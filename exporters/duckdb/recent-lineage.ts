import type { DuckDBConnection } from '@duckdb/node-api';
import type { RestoredSpan } from '../../src/pipeline/span-lineage.js';

export type RecentLedgerSpan = RestoredSpan;

/**
 * The GenAI spans committed in the last `windowSeconds` (both tables), oldest first, at most `limit` (the
 * newest): what the trace index needs to go on after a restart — a parent committed before it and a child
 * arriving after it are still counted once, and a late ancestor can still attribute the row.
 */
export async function readRecentLineage(connection: DuckDBConnection, windowSeconds: number, limit: number): Promise<RestoredSpan[]> {
  const reader = await connection.runAndReadAll(
    `SELECT * FROM (
       SELECT trace_id, span_id, parent_span_id, epoch_ms("timestamp") AS start_ms, is_duplicate,
         duplicate_of_trace_id, duplicate_of_span_id, duplicate_reason,
         (input_tokens IS NOT NULL OR output_tokens IS NOT NULL) AS has_usage,
         (input_tokens IS NOT NULL)::INT + (cached_input_tokens IS NOT NULL)::INT + (cache_write_tokens IS NOT NULL)::INT
           + (output_tokens IS NOT NULL)::INT + (reasoning_tokens IS NOT NULL)::INT AS richness,
         response_id, team_id, project_id, environment, service, attribution_source, array_to_string(exceptions, ',') AS exceptions,
         ingested_at
       FROM genai_all_spans
       WHERE ingested_at >= now() - to_seconds($1::DOUBLE)
       ORDER BY ingested_at DESC, trace_id, span_id
       LIMIT $2
     ) ORDER BY ingested_at, trace_id, span_id`,
    [windowSeconds, limit],
  );
  const text = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
  return reader.getRowObjectsJS().map((r) => ({
    traceId: String(r['trace_id']),
    spanId: String(r['span_id']),
    parentSpanId: text(r['parent_span_id']) ?? '',
    startMs: Number(r['start_ms']),
    billed: r['is_duplicate'] !== true,
    duplicateOfTraceId: text(r['duplicate_of_trace_id']),
    duplicateOfSpanId: text(r['duplicate_of_span_id']),
    hasUsage: r['has_usage'] === true,
    richness: Number(r['richness']),
    responseId: text(r['response_id']),
    teamId: text(r['team_id']),
    projectId: text(r['project_id']),
    environment: text(r['environment']),
    service: text(r['service']),
    attributionSource: text(r['attribution_source']),
    exceptions: (text(r['exceptions']) ?? '').split(',').filter((e) => e !== ''),
  }));
}
