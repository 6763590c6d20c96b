import type { AttributionSource, AttributionStatus, ExceptionReason, LedgerRow } from './ledger-row.js';

/**
 * Why a GenAI span is not billed (docs/schema.md, `genai_duplicate_spans.duplicate_reason`):
 * - `outer_span`: a span that has a GenAI call with usage below it (AI SDK wrapper, agent step, framework
 *   span around an SDK span): the usage is billed once, on the innermost call;
 * - `same_response_id`: another span in the trace reports the same provider response id (the same call
 *   traced twice, e.g. an SDK's built-in tracing plus an instrumentation library, or a gateway and its client).
 */
export type DuplicateReason = 'outer_span' | 'same_response_id';

/** A GenAI span written to `genai_duplicate_spans`: the row it would have been, and what it duplicates. */
export interface DuplicateRow extends LedgerRow {
  /** The span it duplicates (null only for a duplicate restored from an older ledger whose twin is gone). */
  duplicateOfTraceId: string | null;
  duplicateOfSpanId: string | null;
  duplicateReason: DuplicateReason;
}

/**
 * A committed row that a later request showed to be on the wrong side: moved between `genai_calls` and
 * `genai_duplicate_spans` (the row itself is not re-sent; its key is enough).
 */
export interface RowMove {
  traceId: string;
  spanId: string;
  /** Span start in ms, approximate: it only narrows the ledger scan. */
  startMs: number;
  /** true: billed → duplicate; false: duplicate → billed (its better twin turned out to be an outer span). */
  toDuplicate: boolean;
  duplicateOfTraceId: string | null;
  duplicateOfSpanId: string | null;
  duplicateReason: DuplicateReason | null;
}

/** A committed row whose ownership was resolved late, from an ancestor span that arrived after it. */
export interface OwnerUpdate {
  traceId: string;
  spanId: string;
  /** Span start in ms, approximate: it only narrows the ledger scan. */
  startMs: number;
  teamId: string | null;
  costCenter: string | null;
  projectId: string | null;
  environment: string | null;
  attributionSource: AttributionSource | null;
  attributionStatus: AttributionStatus;
  exceptions: ExceptionReason[];
}

/**
 * What a request changes besides appending billed rows. Committed in the same transaction as the request's
 * rows, so the client's OK means all of it is durable, and a crash leaves none or all of it.
 */
export interface LedgerChanges {
  duplicates: DuplicateRow[];
  moves: RowMove[];
  ownerUpdates: OwnerUpdate[];
}

export const hasChanges = (c: LedgerChanges | null | undefined): c is LedgerChanges =>
  c != null && (c.duplicates.length > 0 || c.moves.length > 0 || c.ownerUpdates.length > 0);

/** `earlier` then `later` in one set of changes (the ledger applies a key's last change); null when empty. */
export function mergeChanges(earlier: LedgerChanges, later: LedgerChanges | null): LedgerChanges | null {
  const merged: LedgerChanges = {
    duplicates: [...earlier.duplicates, ...(later?.duplicates ?? [])],
    moves: [...earlier.moves, ...(later?.moves ?? [])],
    ownerUpdates: [...earlier.ownerUpdates, ...(later?.ownerUpdates ?? [])],
  };
  return hasChanges(merged) ? merged : null;
}
