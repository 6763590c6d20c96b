import type { LedgerChanges } from '../../../core/ledger-changes.js';
import type { LedgerRow } from '../../../core/ledger-row.js';
import type { ProcessResult } from '../ledger-processor.js';

/** What a test compares about one stored GenAI span. */
export interface ModelRow {
  table: 'calls' | 'duplicates';
  spanName: string;
  teamId: string | null;
  projectId: string | null;
  attributionSource: string | null;
  attributionStatus: string;
  costPicoUsd: string | null;
  duplicateReason: string | null;
  attributedLate: boolean;
}

/**
 * A tiny model of the two DuckDB tables with the exporter's semantics (insert-if-absent, moves, ownership
 * updates, in that order per write), to check the processor's decisions without a database.
 */
export class LedgerModel {
  readonly rows = new Map<string, ModelRow>();

  apply(result: Pick<ProcessResult, 'rows' | 'changes'>): void {
    for (const row of result.rows) this.insert(row, 'calls', null);
    const changes: LedgerChanges | null = result.changes;
    if (changes === null) return;
    for (const row of changes.duplicates) this.insert(row, 'duplicates', row.duplicateReason);
    for (const move of changes.moves) {
      const row = this.rows.get(`${move.traceId}/${move.spanId}`);
      if (row === undefined) continue;
      if (move.toDuplicate && row.table === 'calls') Object.assign(row, { table: 'duplicates', duplicateReason: move.duplicateReason });
      if (!move.toDuplicate && row.table === 'duplicates') Object.assign(row, { table: 'calls', duplicateReason: null });
    }
    for (const u of changes.ownerUpdates) {
      const row = this.rows.get(`${u.traceId}/${u.spanId}`);
      if (row === undefined) continue;
      Object.assign(row, {
        teamId: u.teamId,
        projectId: u.projectId,
        attributionSource: u.attributionSource,
        attributionStatus: u.attributionStatus,
        attributedLate: true,
      });
    }
  }

  private insert(row: LedgerRow, table: ModelRow['table'], reason: string | null): void {
    const key = `${row.traceId}/${row.spanId}`;
    if (this.rows.has(key)) return;
    this.rows.set(key, {
      table,
      spanName: row.spanName,
      teamId: row.teamId,
      projectId: row.projectId,
      attributionSource: row.attributionSource,
      attributionStatus: row.attributionStatus,
      costPicoUsd: row.requestCostPicoUsd === null ? null : String(row.requestCostPicoUsd),
      duplicateReason: reason,
      attributedLate: false,
    });
  }

  /** Span names of the billed rows, sorted. */
  billed(): string[] {
    return [...this.rows.values()].filter((r) => r.table === 'calls').map((r) => r.spanName).sort();
  }

  /** span name → [table, team, source] for every stored span, sorted by name. */
  summary(): Record<string, [string, string | null, string | null]> {
    return Object.fromEntries(
      [...this.rows.values()]
        .sort((a, b) => (a.spanName < b.spanName ? -1 : 1))
        .map((r) => [r.spanName, [r.table, r.teamId, r.attributionSource]]),
    );
  }
}
