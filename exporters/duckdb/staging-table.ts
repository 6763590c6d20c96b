import {
  DECIMAL,
  DOUBLE,
  DuckDBDataChunk,
  DuckDBDecimalValue,
  DuckDBTimestampTZValue,
  TIMESTAMPTZ,
  VARCHAR,
  type DuckDBAppender,
  type DuckDBType,
  type DuckDBVector,
} from '@duckdb/node-api';
import type { LedgerRow } from '../../src/model/ledger-row.js';
import { ident, LEDGER_COLUMNS, MONEY_SCALE, MONEY_TYPE, MONEY_WIDTH } from './schema.js';

/**
 * The bulk path into `genai_calls`: rows are written column by column into DuckDB data chunks (2048 rows
 * each) and appended to a TEMP staging table that has no key, then one `INSERT ... SELECT ... ON CONFLICT
 * DO NOTHING` moves them into the ledger. Measured on 2 cores this is ~4× faster than the row-by-row
 * appender and ~3× faster than binding the batch as one JSON string (see bench/duckdb-exporter-bench.ts).
 *
 * Staged types are chosen for the cheapest write from JavaScript, and converted in the INSERT:
 * token counts travel as DOUBLE (exact for safe integers, no BigInt per value) and become BIGINT;
 * `exceptions` travels as one comma-joined VARCHAR and becomes VARCHAR[].
 */

type Kind = 'varchar' | 'timestamptz' | 'double' | 'money' | 'count' | 'reasons';

export interface StagedColumn<R extends LedgerRow = LedgerRow> {
  name: string;
  kind: Kind;
  get: (row: R) => string | number | bigint | null;
}

const NANOS_PER_MICRO = 1000n;

export const STAGED_COLUMNS: readonly StagedColumn[] = [
  { name: 'timestamp', kind: 'timestamptz', get: (r) => r.startTimeUnixNano },
  { name: 'trace_id', kind: 'varchar', get: (r) => r.traceId },
  { name: 'span_id', kind: 'varchar', get: (r) => r.spanId },
  { name: 'provider', kind: 'varchar', get: (r) => r.provider },
  { name: 'model', kind: 'varchar', get: (r) => r.model },
  { name: 'operation', kind: 'varchar', get: (r) => r.operation },
  { name: 'team_id', kind: 'varchar', get: (r) => r.teamId },
  { name: 'cost_center', kind: 'varchar', get: (r) => r.costCenter },
  { name: 'project_id', kind: 'varchar', get: (r) => r.projectId },
  { name: 'service', kind: 'varchar', get: (r) => r.service },
  { name: 'environment', kind: 'varchar', get: (r) => r.environment },
  { name: 'input_tokens', kind: 'count', get: (r) => r.inputTokens },
  { name: 'cached_input_tokens', kind: 'count', get: (r) => r.cachedInputTokens },
  { name: 'cache_write_tokens', kind: 'count', get: (r) => r.cacheWriteTokens },
  { name: 'output_tokens', kind: 'count', get: (r) => r.outputTokens },
  { name: 'reasoning_tokens', kind: 'count', get: (r) => r.reasoningTokens },
  { name: 'unit_price_snapshot', kind: 'varchar', get: (r) => r.unitPriceSnapshot },
  { name: 'request_cost_usd', kind: 'money', get: (r) => r.requestCostPicoUsd },
  { name: 'attribution_status', kind: 'varchar', get: (r) => r.attributionStatus },
  { name: 'end_timestamp', kind: 'timestamptz', get: (r) => r.endTimeUnixNano },
  {
    name: 'duration_ms',
    kind: 'double',
    get: (r) => Number(r.endTimeUnixNano - r.startTimeUnixNano) / 1e6,
  },
  { name: 'parent_span_id', kind: 'varchar', get: (r) => r.parentSpanId },
  { name: 'span_name', kind: 'varchar', get: (r) => r.spanName },
  { name: 'request_model', kind: 'varchar', get: (r) => r.requestModel },
  { name: 'response_model', kind: 'varchar', get: (r) => r.responseModel },
  { name: 'total_tokens', kind: 'count', get: (r) => r.totalTokens },
  { name: 'attribution_source', kind: 'varchar', get: (r) => r.attributionSource },
  { name: 'input_cost_usd', kind: 'money', get: (r) => r.inputCostPicoUsd },
  { name: 'cached_input_cost_usd', kind: 'money', get: (r) => r.cachedInputCostPicoUsd },
  { name: 'cache_write_cost_usd', kind: 'money', get: (r) => r.cacheWriteCostPicoUsd },
  { name: 'output_cost_usd', kind: 'money', get: (r) => r.outputCostPicoUsd },
  { name: 'exceptions', kind: 'reasons', get: (r) => r.exceptions.join(',') },
  { name: 'status', kind: 'varchar', get: (r) => r.status },
  { name: 'instrumentation_scope', kind: 'varchar', get: (r) => r.instrumentationScope },
  { name: 'cache_write_1h_tokens', kind: 'count', get: (r) => r.cacheWrite1hTokens ?? null },
  { name: 'service_tier', kind: 'varchar', get: (r) => r.serviceTier ?? null },
  { name: 'reported_cost_usd', kind: 'money', get: (r) => r.reportedCostPicoUsd ?? null },
  { name: 'cache_write_1h_cost_usd', kind: 'money', get: (r) => r.cacheWrite1hCostPicoUsd ?? null },
  { name: 'reasoning_cost_usd', kind: 'money', get: (r) => r.reasoningCostPicoUsd ?? null },
  { name: 'input_audio_tokens', kind: 'count', get: (r) => r.inputAudioTokens ?? null },
  { name: 'output_audio_tokens', kind: 'count', get: (r) => r.outputAudioTokens ?? null },
  { name: 'token_convention', kind: 'varchar', get: (r) => r.tokenConvention ?? null },
  { name: 'token_source', kind: 'varchar', get: (r) => r.tokenSource ?? null },
  { name: 'response_id', kind: 'varchar', get: (r) => r.responseId ?? null },
  // Set by the UPDATE that attributes a committed row late; a new row has none.
  { name: 'attribution_updated_at', kind: 'timestamptz', get: () => null },
];

/** Every `genai_calls` column the exporter fills (all but those with a SQL default), in table order. */
export const STAGED_COLUMN_NAMES: readonly string[] = STAGED_COLUMNS.map((c) => c.name);

export const STAGING_SQL_TYPE: Record<Kind, string> = {
  varchar: 'VARCHAR',
  reasons: 'VARCHAR',
  timestamptz: 'TIMESTAMPTZ',
  double: 'DOUBLE',
  count: 'DOUBLE',
  money: MONEY_TYPE,
};

const STAGING_TYPE: Record<Kind, DuckDBType> = {
  varchar: VARCHAR,
  reasons: VARCHAR,
  timestamptz: TIMESTAMPTZ,
  double: DOUBLE,
  count: DOUBLE,
  money: DECIMAL(MONEY_WIDTH, MONEY_SCALE),
};

/** How a staged value becomes the ledger value. */
export function fromStaged(c: StagedColumn): string {
  const col = ident(c.name);
  switch (c.kind) {
    case 'count':
      return `CAST(${col} AS BIGINT)`;
    case 'reasons':
      return `CASE WHEN ${col} = '' THEN CAST([] AS VARCHAR[]) ELSE string_split(${col}, ',') END`;
    default:
      return col;
  }
}

export const STAGING_TABLE = 'genai_calls_staging';

export const CREATE_STAGING_TABLE = `CREATE TEMP TABLE ${STAGING_TABLE} (${STAGED_COLUMNS.map(
  (c) => `${ident(c.name)} ${STAGING_SQL_TYPE[c.kind]}`,
).join(', ')})`;

const INSERT_SELECT = `INSERT INTO genai_calls (${STAGED_COLUMNS.map((c) => ident(c.name)).join(', ')})
SELECT ${STAGED_COLUMNS.map(fromStaged).join(', ')}
FROM ${STAGING_TABLE}`;

/**
 * Moves the staged rows into the ledger; fails on a (trace_id, span_id) already there or staged twice.
 * Tried first because it is about twice as fast as the ON CONFLICT form (measured on 50k-row batches),
 * and a batch holding a re-sent span is the rare case.
 */
export const INSERT_FROM_STAGING = INSERT_SELECT;

/**
 * The same, keeping the first staged copy of each (trace_id, span_id) and skipping those already in the
 * ledger (a re-sent export, or the same span in two writes of one batch).
 */
export const INSERT_NEW_FROM_STAGING = `${INSERT_SELECT}
QUALIFY row_number() OVER (PARTITION BY trace_id, span_id ORDER BY rowid) = 1
ON CONFLICT DO NOTHING`;

/** DuckDB's error for a primary-key violation, which sends the batch down the ON CONFLICT path. */
export const isDuplicateKeyError = (err: unknown): boolean =>
  err instanceof Error && /duplicate key|violates primary key/i.test(err.message);

export const CLEAR_STAGING = `DELETE FROM ${STAGING_TABLE}`;

const CHUNK_ROWS = 2048;

/**
 * Writes `rows` into data chunks shaped like the staging table. This is the CPU-heavy part and touches no
 * connection, so each write builds its own chunks as it arrives, while DuckDB commits earlier batches on
 * its own threads.
 */
export function buildStagingChunks<R extends LedgerRow = LedgerRow>(
  rows: readonly R[],
  columns: readonly StagedColumn<R>[] = STAGED_COLUMNS,
): DuckDBDataChunk[] {
  const types = columns.map((c) => STAGING_TYPE[c.kind]);
  const chunks: DuckDBDataChunk[] = [];
  for (let offset = 0; offset < rows.length; offset += CHUNK_ROWS) {
    const count = Math.min(CHUNK_ROWS, rows.length - offset);
    const chunk = DuckDBDataChunk.create(types, count);
    for (let c = 0; c < columns.length; c++) {
      fillVector(chunk.getColumnVector(c), columns[c]!, rows, offset, count);
    }
    chunks.push(chunk);
  }
  return chunks;
}

/** Appends built chunks to the staging table through `appender` (opened on it) and flushes. */
export function appendToStaging(appender: DuckDBAppender, chunks: readonly DuckDBDataChunk[]): void {
  for (const chunk of chunks) appender.appendDataChunk(chunk);
  appender.flushSync();
}

function fillVector<R extends LedgerRow>(
  vector: DuckDBVector,
  column: StagedColumn<R>,
  rows: readonly R[],
  offset: number,
  count: number,
): void {
  const { get, kind } = column;
  for (let i = 0; i < count; i++) {
    const value = get(rows[offset + i]!);
    if (value === null) {
      vector.setItem(i, null);
      continue;
    }
    switch (kind) {
      case 'timestamptz':
        vector.setItem(i, new DuckDBTimestampTZValue((value as bigint) / NANOS_PER_MICRO));
        break;
      case 'money':
        vector.setItem(i, new DuckDBDecimalValue(value as bigint, MONEY_WIDTH, MONEY_SCALE));
        break;
      default:
        vector.setItem(i, value as string | number);
    }
  }
  vector.flush();
}

/** Guards the hand-written mapping above against drift from schema.ts (checked in the tests too). */
export function stagedColumnsMatchSchema(): boolean {
  const expected = LEDGER_COLUMNS.filter((c) => c.default === undefined).map((c) => c.name);
  return expected.length === STAGED_COLUMN_NAMES.length && expected.every((n, i) => n === STAGED_COLUMN_NAMES[i]);
}
