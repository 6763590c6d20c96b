import type { DuckDBAppender } from '@duckdb/node-api';
import type { DuplicateRow, LedgerChanges, OwnerUpdate, RowMove } from '../../core/ledger-changes.js';
import { DUPLICATE_COLUMNS, ident, LEDGER_COLUMNS } from './schema.js';
import { fromStaged, STAGED_COLUMNS, STAGING_SQL_TYPE, type StagedColumn } from './staging-table.js';

/**
 * The SQL of the counted-once and late-ownership changes (core/ledger-changes.ts), run inside the same
 * transaction as a group commit's new rows and only when a batch has such changes: a batch of independent
 * calls (the common case) runs exactly the statements it ran before.
 *
 * Everything travels through TEMP staging tables filled by appenders, never through SQL text. The moves and
 * updates also bind one parameter, `$1`: a time (epoch seconds) before the oldest changed row's span start.
 * The ledger is appended in roughly time order, so DuckDB's zone maps skip every older row group instead of
 * scanning the whole ledger to find a few recent rows.
 */

/** `genai_duplicate_spans` rows are staged like `genai_calls` rows, plus what they duplicate and why. */
export const DUPLICATE_STAGED_COLUMNS: readonly StagedColumn<DuplicateRow>[] = [
  ...STAGED_COLUMNS,
  { name: 'duplicate_of_trace_id', kind: 'varchar', get: (r) => r.duplicateOfTraceId },
  { name: 'duplicate_of_span_id', kind: 'varchar', get: (r) => r.duplicateOfSpanId },
  { name: 'duplicate_reason', kind: 'varchar', get: (r) => r.duplicateReason },
];

export const DUPLICATES_STAGING_TABLE = 'genai_duplicates_staging';
export const MOVES_STAGING_TABLE = 'genai_moves_staging';
export const OWNER_UPDATES_STAGING_TABLE = 'genai_owner_updates_staging';

export const CREATE_CHANGES_STAGING_TABLES: readonly string[] = [
  `CREATE TEMP TABLE ${DUPLICATES_STAGING_TABLE} (${DUPLICATE_STAGED_COLUMNS.map(
    (c) => `${ident(c.name)} ${STAGING_SQL_TYPE[c.kind]}`,
  ).join(', ')})`,
  `CREATE TEMP TABLE ${MOVES_STAGING_TABLE} (trace_id VARCHAR, span_id VARCHAR,
    to_duplicate BOOLEAN, duplicate_of_trace_id VARCHAR, duplicate_of_span_id VARCHAR, duplicate_reason VARCHAR)`,
  `CREATE TEMP TABLE ${OWNER_UPDATES_STAGING_TABLE} (trace_id VARCHAR, span_id VARCHAR,
    team_id VARCHAR, cost_center VARCHAR, project_id VARCHAR, environment VARCHAR, attribution_source VARCHAR,
    attribution_status VARCHAR, exceptions VARCHAR)`,
];

const ledgerColumnList = LEDGER_COLUMNS.map((c) => ident(c.name)).join(', ');
const ledgerColumnsOf = (alias: string) => LEDGER_COLUMNS.map((c) => `${alias}.${ident(c.name)}`).join(', ');
const dupColumnList = DUPLICATE_COLUMNS.map((c) => ident(c.name)).join(', ');
/** Same key, and (for zone maps) a ledger row no older than the bound in `$1`. */
const sameRow = (a: string, b: string) =>
  `${a}.trace_id = ${b}.trace_id AND ${a}.span_id = ${b}.span_id AND ${a}."timestamp" >= to_timestamp($1::DOUBLE)`;

/** New duplicates: the first staged copy of each key, skipping keys already stored (a re-sent duplicate). */
const INSERT_DUPLICATES = `INSERT INTO genai_duplicate_spans (${DUPLICATE_STAGED_COLUMNS.map((c) => ident(c.name)).join(', ')})
SELECT ${DUPLICATE_STAGED_COLUMNS.map((c) => fromStaged(c as StagedColumn)).join(', ')}
FROM ${DUPLICATES_STAGING_TABLE}
QUALIFY row_number() OVER (PARTITION BY trace_id, span_id ORDER BY rowid) = 1
ON CONFLICT DO NOTHING`;

/** Billed rows found to be duplicates: copied (with ingested_at) into the duplicates table, then removed. */
const MOVE_TO_DUPLICATES = [
  `INSERT INTO genai_duplicate_spans (${ledgerColumnList}, ${dupColumnList})
SELECT ${ledgerColumnsOf('c')}, m.duplicate_of_trace_id, m.duplicate_of_span_id, m.duplicate_reason
FROM genai_calls c JOIN ${MOVES_STAGING_TABLE} m ON ${sameRow('c', 'm')}
WHERE m.to_duplicate
ON CONFLICT DO NOTHING`,
  `DELETE FROM genai_calls c USING ${MOVES_STAGING_TABLE} m WHERE ${sameRow('c', 'm')} AND m.to_duplicate`,
];

/** Duplicates whose billed twin turned out to be an outer span: back into the ledger. */
const MOVE_TO_CALLS = [
  `INSERT INTO genai_calls (${ledgerColumnList})
SELECT ${ledgerColumnsOf('d')}
FROM genai_duplicate_spans d JOIN ${MOVES_STAGING_TABLE} m ON ${sameRow('d', 'm')}
WHERE NOT m.to_duplicate
ON CONFLICT DO NOTHING`,
  `DELETE FROM genai_duplicate_spans d USING ${MOVES_STAGING_TABLE} m WHERE ${sameRow('d', 'm')} AND NOT m.to_duplicate`,
];

const updateOwners = (table: string) => `UPDATE ${table} AS t SET
  team_id = u.team_id, cost_center = u.cost_center, project_id = u.project_id, environment = u.environment,
  attribution_source = u.attribution_source, attribution_status = u.attribution_status,
  exceptions = CASE WHEN u.exceptions = '' THEN CAST([] AS VARCHAR[]) ELSE string_split(u.exceptions, ',') END,
  attribution_updated_at = now()
FROM ${OWNER_UPDATES_STAGING_TABLE} u
WHERE ${sameRow('t', 'u')}`;

/** What one batch carries besides billed rows, already de-duplicated by key (the last change wins). */
export interface StagedChanges {
  duplicates: boolean;
  moves: boolean;
  ownerUpdates: boolean;
}

/** One statement of the changes, with its parameter values (a lower time bound, or none). */
export interface ChangeStatement {
  sql: string;
  params: number[];
}

/** Seconds subtracted from the oldest changed row's start: `startMs` is approximate (float). */
const TIME_MARGIN_SECONDS = 60;

/**
 * The statements to add to a group commit's transaction, after the billed rows' INSERT. `oldestStartMs`:
 * the earliest span start among the moved / updated rows.
 */
export function changeStatements(staged: StagedChanges, oldestStartMs: number): ChangeStatement[] {
  const bound = [Math.floor(oldestStartMs / 1000) - TIME_MARGIN_SECONDS];
  const out: ChangeStatement[] = [];
  if (staged.duplicates) out.push({ sql: INSERT_DUPLICATES, params: [] });
  if (staged.moves) for (const sql of [...MOVE_TO_DUPLICATES, ...MOVE_TO_CALLS]) out.push({ sql, params: bound });
  // After the moves: a row updated in the same batch is found in whichever table it ended up in.
  if (staged.ownerUpdates) {
    out.push({ sql: updateOwners('genai_calls'), params: bound }, { sql: updateOwners('genai_duplicate_spans'), params: bound });
  }
  if (staged.duplicates) out.push({ sql: `DELETE FROM ${DUPLICATES_STAGING_TABLE}`, params: [] });
  if (staged.moves) out.push({ sql: `DELETE FROM ${MOVES_STAGING_TABLE}`, params: [] });
  if (staged.ownerUpdates) out.push({ sql: `DELETE FROM ${OWNER_UPDATES_STAGING_TABLE}`, params: [] });
  return out;
}

export const CLEAR_CHANGES_STAGING: readonly string[] = [
  `DELETE FROM ${DUPLICATES_STAGING_TABLE}`,
  `DELETE FROM ${MOVES_STAGING_TABLE}`,
  `DELETE FROM ${OWNER_UPDATES_STAGING_TABLE}`,
];

/** Merges the changes of a batch's writes, oldest first: for a key moved or updated twice, the last wins. */
export function mergeChanges(all: readonly LedgerChanges[]): { duplicates: DuplicateRow[]; moves: RowMove[]; ownerUpdates: OwnerUpdate[] } {
  const duplicates: DuplicateRow[] = [];
  const moves = new Map<string, RowMove>();
  const updates = new Map<string, OwnerUpdate>();
  for (const c of all) {
    for (const d of c.duplicates) duplicates.push(d);
    for (const m of c.moves) {
      const key = `${m.traceId}/${m.spanId}`;
      moves.delete(key);
      moves.set(key, m);
    }
    for (const u of c.ownerUpdates) {
      const key = `${u.traceId}/${u.spanId}`;
      updates.delete(key);
      updates.set(key, u);
    }
  }
  return { duplicates, moves: [...moves.values()], ownerUpdates: [...updates.values()] };
}

const varcharOrNull = (a: DuckDBAppender, v: string | null) => (v === null ? a.appendNull() : a.appendVarchar(v));

/** Stages moves (rare: a handful per batch at most, so the row-wise appender is fine). */
export function appendMoves(appender: DuckDBAppender, moves: readonly RowMove[]): void {
  for (const m of moves) {
    appender.appendVarchar(m.traceId);
    appender.appendVarchar(m.spanId);
    appender.appendBoolean(m.toDuplicate);
    varcharOrNull(appender, m.duplicateOfTraceId);
    varcharOrNull(appender, m.duplicateOfSpanId);
    varcharOrNull(appender, m.duplicateReason);
    appender.endRow();
  }
  appender.flushSync();
}

export function appendOwnerUpdates(appender: DuckDBAppender, updates: readonly OwnerUpdate[]): void {
  for (const u of updates) {
    appender.appendVarchar(u.traceId);
    appender.appendVarchar(u.spanId);
    varcharOrNull(appender, u.teamId);
    varcharOrNull(appender, u.costCenter);
    varcharOrNull(appender, u.projectId);
    varcharOrNull(appender, u.environment);
    varcharOrNull(appender, u.attributionSource);
    appender.appendVarchar(u.attributionStatus);
    appender.appendVarchar(u.exceptions.join(','));
    appender.endRow();
  }
  appender.flushSync();
}
