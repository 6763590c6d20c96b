/**
 * Restating costs: recompute the cost of every ledger row in a time range with the current price book (after
 * a price correction or a negotiated rate) and, unless it is a dry run, write the new costs back — keeping
 * the old ones auditable:
 * - `genai_cost_restatements`: one row per restatement — who, when, the range, the new snapshot and the old
 *   ones, row counts, old and new totals;
 * - `genai_cost_restatement_teams`: the delta per team of each restatement;
 * - `genai_cost_history`: for every changed row, its previous snapshot, costs, exceptions and status.
 * Everything (history, update, records) is one transaction: a failed or interrupted restatement changes
 * nothing.
 *
 * The ledger must not be open in a running server (DuckDB allows one writing process per file); the error
 * says so. Rows are read as a stream and priced in JavaScript chunk by chunk; the changed rows go through a
 * staging table and are applied with set-based INSERT/UPDATE statements, batch by batch.
 */
import { randomBytes } from 'node:crypto';
import {
  BIGINT,
  BOOLEAN,
  DECIMAL,
  DuckDBDataChunk,
  DuckDBDecimalValue,
  DuckDBInstance,
  VARCHAR,
  type DuckDBConnection,
  type DuckDBType,
  type DuckDBValue,
} from '@duckdb/node-api';

import { attributionStatusOf, byReasonOrder, type ExceptionReason } from '../../core/ledger-row.js';
import { priceCall } from '../../processors/pricing/price-call.js';
import type { PriceBook } from '../../processors/pricing/price-book.js';
import { DEFAULT_COST_MISMATCH, type CostMismatchThresholds } from '../../processors/pricing/cost-mismatch.js';
import { inspectLedgerFile, isLockConflict, notDuckDbError } from './ledger-file.js';
import { ADD_MISSING_COLUMNS, MONEY_SCALE, MONEY_TYPE, MONEY_WIDTH } from './schema.js';

export interface RestateOptions {
  dbPath: string;
  /** Inclusive start of the range (unix ms, compared with `timestamp`). */
  fromMs: number;
  /** Exclusive end of the range (unix ms). */
  toMs: number;
  dryRun: boolean;
  priceBook: PriceBook;
  costMismatch?: CostMismatchThresholds;
  /** Who runs it (recorded), e.g. $USER. */
  user: string;
  /** The command line, recorded for the audit trail. */
  command?: string;
  /** Rows priced per batch (default 100,000). */
  batchRows?: number;
  /** Called after each batch: rows examined so far, and rows in the range. */
  onProgress?: (done: number, total: number) => void;
  /** Called once every row is priced, BEFORE anything is written: the delta that is about to be applied. */
  onPlanned?: (plan: RestateResult) => void;
}

export interface TeamDelta {
  teamId: string | null;
  rows: number;
  oldPicoUsd: bigint;
  newPicoUsd: bigint;
  /** Rows whose cost was NULL before / is NULL after. */
  oldUnpriced: number;
  newUnpriced: number;
}

export interface RestateResult {
  /** Id of the recorded restatement; null for a dry run or when nothing changed. */
  restatementId: string | null;
  rowsExamined: number;
  rowsChanged: number;
  newSnapshot: string;
  /** Distinct snapshots of the examined rows before, with row counts. */
  oldSnapshots: Map<string | null, number>;
  teams: TeamDelta[];
  oldPicoUsd: bigint;
  newPicoUsd: bigint;
}

/** Restatement tables; created on first use (a ledger from an older build simply has none yet). */
export const CREATE_RESTATEMENT_TABLES: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS genai_cost_restatements (
  restatement_id VARCHAR PRIMARY KEY,
  restated_at TIMESTAMPTZ NOT NULL,
  restated_by VARCHAR NOT NULL,
  command VARCHAR,
  range_from TIMESTAMPTZ NOT NULL,
  range_to TIMESTAMPTZ NOT NULL,
  new_unit_price_snapshot VARCHAR NOT NULL,
  old_unit_price_snapshots VARCHAR[] NOT NULL,
  rows_examined BIGINT NOT NULL,
  rows_changed BIGINT NOT NULL,
  old_cost_usd DECIMAL(38,12) NOT NULL,
  new_cost_usd DECIMAL(38,12) NOT NULL,
  delta_usd DECIMAL(38,12) NOT NULL
)`,
  `CREATE TABLE IF NOT EXISTS genai_cost_restatement_teams (
  restatement_id VARCHAR NOT NULL,
  team_id VARCHAR,
  "rows" BIGINT NOT NULL,
  old_cost_usd DECIMAL(38,12) NOT NULL,
  new_cost_usd DECIMAL(38,12) NOT NULL,
  delta_usd DECIMAL(38,12) NOT NULL,
  old_unpriced_rows BIGINT NOT NULL,
  new_unpriced_rows BIGINT NOT NULL
)`,
  `CREATE TABLE IF NOT EXISTS genai_cost_history (
  restatement_id VARCHAR NOT NULL,
  trace_id VARCHAR NOT NULL,
  span_id VARCHAR NOT NULL,
  "timestamp" TIMESTAMPTZ NOT NULL,
  team_id VARCHAR,
  unit_price_snapshot VARCHAR,
  request_cost_usd ${MONEY_TYPE},
  input_cost_usd ${MONEY_TYPE},
  cached_input_cost_usd ${MONEY_TYPE},
  cache_write_cost_usd ${MONEY_TYPE},
  output_cost_usd ${MONEY_TYPE},
  exceptions VARCHAR[],
  attribution_status VARCHAR,
  cache_write_1h_cost_usd ${MONEY_TYPE},
  reasoning_cost_usd ${MONEY_TYPE}
)`,
];

const READ_COLUMNS = [
  'rowid',
  'epoch_ns("timestamp")',
  'provider',
  'model',
  'CAST(input_tokens AS DOUBLE)',
  'CAST(cached_input_tokens AS DOUBLE)',
  'CAST(cache_write_tokens AS DOUBLE)',
  'CAST(output_tokens AS DOUBLE)',
  'CAST(reasoning_tokens AS DOUBLE)',
  'CAST(cache_write_1h_tokens AS DOUBLE)',
  'service_tier',
  'reported_cost_usd',
  'unit_price_snapshot',
  'request_cost_usd',
  'input_cost_usd',
  'cached_input_cost_usd',
  'cache_write_cost_usd',
  'output_cost_usd',
  "array_to_string(exceptions, ',')",
  'attribution_status',
  'team_id',
  'cache_write_1h_cost_usd',
  'reasoning_cost_usd',
  'CAST(input_audio_tokens AS DOUBLE)',
  'CAST(output_audio_tokens AS DOUBLE)',
] as const;

/** The staged new values of one changed row. */
const STAGE_TYPES: DuckDBType[] = [
  BIGINT,
  VARCHAR,
  ...Array.from({ length: 7 }, () => DECIMAL(MONEY_WIDTH, MONEY_SCALE)),
  VARCHAR,
  VARCHAR,
  BOOLEAN,
];
const STAGE_TABLE = 'restate_stage';
const CREATE_STAGE = `CREATE TEMP TABLE ${STAGE_TABLE} (
  rid BIGINT, unit_price_snapshot VARCHAR, request_cost_usd ${MONEY_TYPE}, input_cost_usd ${MONEY_TYPE},
  cached_input_cost_usd ${MONEY_TYPE}, cache_write_cost_usd ${MONEY_TYPE}, output_cost_usd ${MONEY_TYPE},
  cache_write_1h_cost_usd ${MONEY_TYPE}, reasoning_cost_usd ${MONEY_TYPE},
  exceptions VARCHAR, attribution_status VARCHAR, exceptions_changed BOOLEAN)`;

/** The reasons pricing decides (processors/pricing/price-call.ts): recomputed, never carried over. */
const PRICING_REASONS: ReadonlySet<ExceptionReason> = new Set(['missing_tokens', 'invalid_tokens', 'unpriced_model', 'cost_mismatch']);

const lit = (s: string): string => `'${s.replaceAll("'", "''")}'`;
const tsLit = (ms: number): string => `TIMESTAMPTZ ${lit(new Date(ms).toISOString())}`;
const money = (pico: bigint | null): DuckDBValue => (pico === null ? null : new DuckDBDecimalValue(pico, MONEY_WIDTH, MONEY_SCALE));
const money38 = (pico: bigint): string => `CAST(${lit(formatPico(pico))} AS DECIMAL(38,12))`;

function formatPico(pico: bigint): string {
  const neg = pico < 0n;
  const digits = (neg ? -pico : pico).toString().padStart(13, '0');
  return `${neg ? '-' : ''}${digits.slice(0, -12)}.${digits.slice(-12)}`;
}

const num = (v: DuckDBValue): number | null => (typeof v === 'number' ? v : null);
const str = (v: DuckDBValue): string | null => (typeof v === 'string' ? v : null);
const pico = (v: DuckDBValue): bigint | null => (v instanceof DuckDBDecimalValue ? v.value : null);

async function openLedger(path: string, readOnly: boolean): Promise<DuckDBInstance> {
  const kind = await inspectLedgerFile(path);
  if (kind === 'missing') throw new Error(`no ledger at ${path}`);
  if (kind === 'not-duckdb') throw notDuckDbError(path);
  try {
    return await DuckDBInstance.create(path, readOnly ? { access_mode: 'READ_ONLY' } : {});
  } catch (err) {
    if (isLockConflict(err)) {
      throw new Error(
        `${path} is in use by a running genai-ledger server (or another process). Stop the server first: ` +
          'reprice needs the ledger to itself, and restarting the server afterwards loses nothing (clients retry).',
        { cause: err },
      );
    }
    throw new Error(`cannot open ledger ${path}: ${(err as Error).message}`, { cause: err });
  }
}

async function columnNames(connection: DuckDBConnection, table: string): Promise<Set<string>> {
  const reader = await connection.runAndReadAll(
    `SELECT column_name FROM duckdb_columns() WHERE table_name = ${lit(table)} AND schema_name = 'main'`,
  );
  return new Set(reader.getRows().map((r) => String(r[0])));
}

/** Recomputes (and unless `dryRun`, restates) the costs of the rows in [fromMs, toMs). */
export async function restateCosts(options: RestateOptions): Promise<RestateResult> {
  const { dbPath, fromMs, toMs, dryRun, priceBook } = options;
  const thresholds = options.costMismatch ?? DEFAULT_COST_MISMATCH;
  const batchRows = options.batchRows ?? 100_000;
  const instance = await openLedger(dbPath, dryRun);
  try {
    const reader = await instance.connect();
    const writer = dryRun ? null : await instance.connect();
    try {
      const columns = await columnNames(reader, 'genai_calls');
      if (!columns.has('request_cost_usd')) throw new Error(`${dbPath} has no genai_calls ledger table`);
      if (writer !== null) {
        // A ledger from an older build: add the pricing columns (NULL for old rows) and the audit tables.
        await writer.run([...ADD_MISSING_COLUMNS, ...CREATE_RESTATEMENT_TABLES].join(';\n'));
        await writer.run(CREATE_STAGE);
      }
      const have = writer === null ? columns : await columnNames(reader, 'genai_calls');
      const select = READ_COLUMNS.map((c) => {
        const m = /^(?:CAST\()?(\w+)/.exec(c);
        const name = m?.[1] ?? c;
        return name === 'rowid' || name === 'epoch_ns' || name === 'array_to_string' || have.has(name) ? c : 'NULL';
      });
      const where = `"timestamp" >= ${tsLit(fromMs)} AND "timestamp" < ${tsLit(toMs)}`;
      const countReader = await reader.runAndReadAll(`SELECT count(*) FROM genai_calls WHERE ${where}`);
      const total = Number(countReader.getRows()[0]?.[0] ?? 0);

      const teams = new Map<string | null, TeamDelta>();
      const oldSnapshots = new Map<string | null, number>();
      let examined = 0;
      let changed = 0;
      let oldTotal = 0n;
      let newTotal = 0n;
      const restatementId = `rs-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${randomBytes(3).toString('hex')}`;

      let pending: DuckDBValue[][] = [];
      const appender = writer === null ? null : await writer.createAppender(STAGE_TABLE, 'main', 'temp');
      const flushStage = () => {
        if (appender === null || pending.length === 0) return;
        const rows = pending;
        pending = [];
        for (let offset = 0; offset < rows.length; offset += 2048) {
          const slice = rows.slice(offset, offset + 2048);
          const chunk = DuckDBDataChunk.create(STAGE_TYPES, slice.length);
          chunk.setRows(slice);
          appender.appendDataChunk(chunk);
        }
        appender.flushSync();
      };

      let plan: RestateResult | undefined;
      if (writer !== null) await writer.run('BEGIN TRANSACTION');
      try {
        const result = await reader.stream(`SELECT ${select.join(', ')} FROM genai_calls WHERE ${where}`);
        let sinceProgress = 0;
        for (;;) {
          const chunk = await result.fetchChunk();
          if (chunk === null || chunk.rowCount === 0) break;
          const cols = Array.from({ length: READ_COLUMNS.length }, (_, i) => chunk.getColumnValues(i));
          const n = chunk.rowCount;
          for (let i = 0; i < n; i++) {
            const at = (k: number): DuckDBValue => cols[k]![i]!;
            const provider = str(at(2));
            const model = str(at(3));
            const input = num(at(4));
            const output = num(at(7));
            const oldSnapshot = str(at(12));
            const oldCost = pico(at(13));
            const oldExceptions = (str(at(18)) ?? '').split(',').filter((s) => s !== '') as ExceptionReason[];
            const oldStatus = str(at(19));
            const teamId = str(at(20));
            const atNs = at(1) as bigint;
            const tier = str(at(10));
            const reported = pico(at(11));

            // Pricing's own reasons are decided again; the others (ownership, timestamps) are kept. A row whose
            // tokens were unreadable at ingest keeps `invalid_tokens`: its NULL classes are unknown, not zero.
            const tokensInvalid = oldExceptions.includes('invalid_tokens');
            const decision = priceCall(
              priceBook,
              {
                provider,
                model,
                usage: {
                  inputTokens: input,
                  cachedInputTokens: num(at(5)),
                  cacheWriteTokens: num(at(6)),
                  outputTokens: output,
                  reasoningTokens: num(at(8)),
                  cacheWrite1hTokens: num(at(9)),
                  inputAudioTokens: num(at(23)),
                  outputAudioTokens: num(at(24)),
                },
                tokensInvalid,
                atUnixNano: atNs,
                serviceTier: tier,
                reportedCostPicoUsd: reported,
              },
              thresholds,
            );
            const cost = decision.cost;
            const exceptions: ExceptionReason[] = oldExceptions.filter((e) => !PRICING_REASONS.has(e));
            exceptions.push(...decision.reasons);
            if (decision.costMismatch) exceptions.push('cost_mismatch');
            exceptions.sort(byReasonOrder);
            const newSnapshot = cost?.snapshot ?? null;
            const newCost = cost?.totalPicoUsd ?? null;
            const exceptionText = exceptions.join(',');
            const status = attributionStatusOf(exceptions);

            examined++;
            oldSnapshots.set(oldSnapshot, (oldSnapshots.get(oldSnapshot) ?? 0) + 1);
            let team = teams.get(teamId);
            if (team === undefined) {
              team = { teamId, rows: 0, oldPicoUsd: 0n, newPicoUsd: 0n, oldUnpriced: 0, newUnpriced: 0 };
              teams.set(teamId, team);
            }
            team.rows++;
            team.oldPicoUsd += oldCost ?? 0n;
            team.newPicoUsd += newCost ?? 0n;
            if (oldCost === null) team.oldUnpriced++;
            if (newCost === null) team.newUnpriced++;
            oldTotal += oldCost ?? 0n;
            newTotal += newCost ?? 0n;

            const exceptionsChanged = exceptionText !== (str(at(18)) ?? '') || status !== oldStatus;
            const same =
              !exceptionsChanged &&
              newSnapshot === oldSnapshot &&
              newCost === oldCost &&
              (cost?.inputPicoUsd ?? null) === pico(at(14)) &&
              (cost?.cachedInputPicoUsd ?? null) === pico(at(15)) &&
              (cost?.cacheWritePicoUsd ?? null) === pico(at(16)) &&
              (cost?.outputPicoUsd ?? null) === pico(at(17)) &&
              (cost?.cacheWrite1hPicoUsd ?? null) === pico(at(21)) &&
              (cost?.reasoningPicoUsd ?? null) === pico(at(22));
            if (same) continue;
            changed++;
            if (appender !== null) {
              pending.push([
                at(0) as bigint,
                newSnapshot,
                money(newCost),
                money(cost?.inputPicoUsd ?? null),
                money(cost?.cachedInputPicoUsd ?? null),
                money(cost?.cacheWritePicoUsd ?? null),
                money(cost?.outputPicoUsd ?? null),
                money(cost?.cacheWrite1hPicoUsd ?? null),
                money(cost?.reasoningPicoUsd ?? null),
                exceptionText,
                status,
                exceptionsChanged,
              ]);
            }
          }
          sinceProgress += n;
          if (pending.length >= batchRows) flushStage();
          if (sinceProgress >= batchRows || examined === total) {
            sinceProgress = 0;
            options.onProgress?.(examined, total);
          }
        }
        flushStage();
        options.onProgress?.(examined, total);
        plan = {
          restatementId: dryRun || changed === 0 ? null : restatementId,
          rowsExamined: examined,
          rowsChanged: changed,
          newSnapshot: priceBook.snapshot,
          oldSnapshots,
          teams: [...teams.values()].sort((a, b) => (a.teamId ?? '').localeCompare(b.teamId ?? '')),
          oldPicoUsd: oldTotal,
          newPicoUsd: newTotal,
        };
        options.onPlanned?.(plan);

        if (writer !== null && changed > 0) {
          const id = lit(restatementId);
          await writer.run(
            `INSERT INTO genai_cost_history
SELECT ${id}, g.trace_id, g.span_id, g."timestamp", g.team_id, g.unit_price_snapshot, g.request_cost_usd,
  g.input_cost_usd, g.cached_input_cost_usd, g.cache_write_cost_usd, g.output_cost_usd, g.exceptions, g.attribution_status,
  g.cache_write_1h_cost_usd, g.reasoning_cost_usd
FROM genai_calls g JOIN ${STAGE_TABLE} s ON g.rowid = s.rid`,
          );
          await writer.run(
            `UPDATE genai_calls SET
  unit_price_snapshot = s.unit_price_snapshot, request_cost_usd = s.request_cost_usd, input_cost_usd = s.input_cost_usd,
  cached_input_cost_usd = s.cached_input_cost_usd, cache_write_cost_usd = s.cache_write_cost_usd,
  output_cost_usd = s.output_cost_usd, cache_write_1h_cost_usd = s.cache_write_1h_cost_usd,
  reasoning_cost_usd = s.reasoning_cost_usd
FROM ${STAGE_TABLE} s WHERE genai_calls.rowid = s.rid`,
          );
          // A separate, usually tiny, update: rewriting a VARCHAR[] column costs ~100× more per row in DuckDB
          // (measured: 9 s vs 0.09 s for 300k rows), so only rows whose exceptions really change take it.
          await writer.run(
            `UPDATE genai_calls SET
  exceptions = CASE WHEN s.exceptions = '' THEN CAST([] AS VARCHAR[]) ELSE string_split(s.exceptions, ',') END,
  attribution_status = s.attribution_status
FROM ${STAGE_TABLE} s WHERE genai_calls.rowid = s.rid AND s.exceptions_changed`,
          );
          const snapshots = [...oldSnapshots.keys()].map((s) => (s === null ? "'(unpriced)'" : lit(s)));
          await writer.run(
            `INSERT INTO genai_cost_restatements VALUES (${id}, now(), ${lit(options.user)}, ${
              options.command === undefined ? 'NULL' : lit(options.command)
            }, ${tsLit(fromMs)}, ${tsLit(toMs)}, ${lit(priceBook.snapshot)}, [${snapshots.join(', ')}]::VARCHAR[], ${examined}, ${changed}, ${money38(
              oldTotal,
            )}, ${money38(newTotal)}, ${money38(newTotal - oldTotal)})`,
          );
          const teamRows = [...teams.values()].map(
            (t) =>
              `(${id}, ${t.teamId === null ? 'NULL' : lit(t.teamId)}, ${t.rows}, ${money38(t.oldPicoUsd)}, ${money38(t.newPicoUsd)}, ${money38(
                t.newPicoUsd - t.oldPicoUsd,
              )}, ${t.oldUnpriced}, ${t.newUnpriced})`,
          );
          for (let i = 0; i < teamRows.length; i += 1000) {
            await writer.run(`INSERT INTO genai_cost_restatement_teams VALUES ${teamRows.slice(i, i + 1000).join(',\n')}`);
          }
        }
        if (writer !== null) await writer.run('COMMIT');
      } catch (err) {
        if (writer !== null) await writer.run('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        appender?.closeSync();
      }
      if (writer !== null && changed > 0) await writer.run('CHECKPOINT');

      if (plan === undefined) throw new Error('internal: restatement finished without a plan');
      return plan;
    } finally {
      writer?.closeSync();
      reader.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}
