import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DuckDBInstance, type DuckDBAppender, type DuckDBConnection } from '@duckdb/node-api';
import { z } from 'zod';
import type { Component } from '../../src/component.js';
import { ATTRIBUTION_STATUSES, type LedgerRow } from '../../src/model/ledger-row.js';
import { PipelineError } from '../../src/pipeline/errors.js';
import { inspectLedgerFile, isLockConflict, notDuckDbError } from './ledger-file.js';
import { ADD_MISSING_COLUMNS, createLedgerStatements, DUPLICATE_SPANS_STATEMENTS, LEDGER_VIEWS, SCHEMA_VERSION } from './schema.js';
import { hasChanges, type LedgerChanges } from '../../src/model/ledger-changes.js';
import {
  appendMoves,
  appendOwnerUpdates,
  changeStatements,
  type ChangeStatement,
  CLEAR_CHANGES_STAGING,
  CREATE_CHANGES_STAGING_TABLES,
  DUPLICATE_STAGED_COLUMNS,
  DUPLICATES_STAGING_TABLE,
  mergeChanges,
  MOVES_STAGING_TABLE,
  OWNER_UPDATES_STAGING_TABLE,
} from './ledger-changes-sql.js';
import { readRecentLineage, type RecentLedgerSpan } from './recent-lineage.js';
import {
  buildPlainChunks,
  buildStagingChunks,
  CLEAR_STAGING,
  CREATE_STAGING_TABLES,
  DROP_STAGING_TABLES,
  INSERT_FROM_STAGING,
  INSERT_NEW_FROM_STAGING,
  isDuplicateKeyError,
  StagingAppenders,
  type StagedBatch,
} from './staging-table.js';

export const DuckDbExporterConfig = z
  .object({
    /** The ledger file. Created (with its parent directory) when missing; only a genai-ledger file is reused. */
    path: z.string().min(1).default('./genai-ledger.duckdb'),
    /**
     * Most rows committed in one transaction. Concurrent writes are grouped up to this many rows; a single
     * write larger than this is still committed whole, on its own.
     */
    maxBatchRows: z.number().int().positive().default(50_000),
    /**
     * WAL size at which DuckDB folds the log into the database file. A checkpoint runs inside a commit and
     * blocks writers, so a larger threshold means fewer stalls (measured: +15% sustained throughput at
     * 256MB over DuckDB's 16MB) at the price of a longer WAL replay when a crashed server restarts.
     */
    checkpointThreshold: z
      .string()
      .regex(/^\d+(\.\d+)?\s*(B|KB|MB|GB|KiB|MiB|GiB)$/i, 'a size such as "256MB"')
      .default('256MB'),
    /**
     * DuckDB worker threads for the writer. Ingest is a stream of small appends and the event loop needs a
     * core for decoding; on 2 cores one DuckDB thread measured fastest (53k vs 46k spans/s at 2 threads).
     */
    threads: z.number().int().positive().max(256).default(1),
    /**
     * DuckDB compression methods never tried when a checkpoint writes the ledger (`disabled_compression_methods`).
     * FSST string compression is off by default: at checkpoint DuckDB analyses every candidate method per
     * column segment, and FSST's analysis was ~40% of checkpoint CPU on ledger rows (7.1 → 4.1 µs per row)
     * for a file only ~12% smaller (150 → 170 bytes per row); the ids it would compress are random hex.
     * `[]` lets DuckDB try everything.
     */
    disabledCompressionMethods: z.array(z.string().regex(/^[a-z_]+$/, 'a DuckDB compression method name')).default(['fsst']),
    /**
     * DuckDB's buffer-pool limit (`memory_limit`), e.g. "512MB". Unset: DuckDB's default, 80% of RAM. The
     * pool caches the ledger as it grows, so this is what bounds the server's memory over a long run
     * (docs/reliability.md).
     */
    memoryLimit: z
      .string()
      .regex(/^\d+(\.\d+)?\s*(B|KB|MB|GB|KiB|MiB|GiB)$/i, 'a size such as "512MB"')
      .optional(),
  })
  .strict();
export type DuckDbExporterConfig = z.output<typeof DuckDbExporterConfig>;
export type DuckDbExporterConfigInput = z.input<typeof DuckDbExporterConfig>;

/**
 * The ledger's write health, reported when it changes (the CLI logs it; components never print):
 * - `failing`: a commit failed (disk full, file size limit, I/O error); writes get 503 / UNAVAILABLE and the
 *   next commit tries again, so the ledger recovers by itself once the file can grow;
 * - `invalidated`: DuckDB declared the database unusable after a failed write (a failed checkpoint is FATAL
 *   to it); the exporter reopens the file — replaying its WAL — before the next commit, at most once every
 *   {@link REOPEN_INTERVAL_MS};
 * - `recovered`: a commit succeeded again.
 */
export type LedgerWriteEvent =
  | { kind: 'failing'; message: string }
  | { kind: 'invalidated'; message: string }
  | { kind: 'recovered'; failedBatches: number };

export interface DuckDbExporterOptions {
  onWriteEvent?: (event: LedgerWriteEvent) => void;
}

/** A write waiting for its commit, with its rows already de-duplicated and built into data chunks. */
interface PendingWrite {
  rows: number;
  staged: StagedBatch;
  /** Duplicates, moves and late ownership (null in the common case: only new billed rows). */
  changes: LedgerChanges | null;
  resolve: () => void;
  reject: (err: Error) => void;
}

/** Seconds a client is asked to wait after a storage failure or during shutdown. */
const RETRY_AFTER_SECONDS = 1;
/**
 * Rows staged before the TEMP staging table is dropped and created afresh. DuckDB keeps the storage of rows
 * removed with DELETE in a temp table (measured: ~120 MiB still held after 180k rows staged and deleted), so
 * without this the server's memory grew with every row it ever wrote (docs/reliability.md, soak).
 */
const RECREATE_STAGING_AFTER_ROWS = 50_000;

/** Least time between two attempts to reopen an invalidated database. */
const REOPEN_INTERVAL_MS = 1000;
/** DuckDB's words for an error after which the database instance cannot be used any more. */
const FATAL_DUCKDB_ERROR = /FATAL Error|database has been invalidated/i;
const MAX_MONEY_PICO_USD = 10n ** 18n; // DECIMAL(18,12) holds |x| < 10^6 USD = 10^18 pico-USD

/**
 * The ledger writer. `write()` resolves only when its rows are committed; concurrent writes are
 * group-committed: one loop takes everything queued (up to `maxBatchRows`), stages it, moves it into
 * `genai_calls` in one transaction, commits, and settles all those writes together.
 *
 * Durability: DuckDB writes and fsyncs its write-ahead log when a transaction commits (there is no setting
 * to relax this in DuckDB 1.5, and we do not want one); the WAL is folded into the database file by DuckDB's
 * automatic checkpoint (`checkpoint_threshold`, 16 MiB by default) and by the CHECKPOINT run at shutdown.
 */
export class DuckDbExporter implements Component {
  readonly config: DuckDbExporterConfig;
  private instance: DuckDBInstance | null = null;
  private connection: DuckDBConnection | null = null;
  private appender: StagingAppenders | null = null;
  /** Appenders of the changes' staging tables, opened on first use. */
  private changeAppenders: Map<string, DuckDBAppender> | null = null;
  private starting: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  private accepting = false;
  private queue: PendingWrite[] = [];
  private loop: Promise<void> | null = null;
  private committedBatches = 0;
  private committedRows = 0;

  /** Batches failed since the last successful commit. */
  private failedBatches = 0;
  /** Set when DuckDB invalidated the database: the error that did it. */
  private invalidatedBy: string | null = null;
  private nextReopenAt = 0;
  /** Rows staged since the staging table was created. */
  private stagedRows = 0;
  /**
   * True while the connection holds a transaction opened ahead of the next commit (see `commit`). Nothing
   * is written in it until that commit stages its rows.
   */
  private transactionOpen = false;

  constructor(
    config: DuckDbExporterConfigInput = {},
    private readonly options: DuckDbExporterOptions = {},
  ) {
    this.config = DuckDbExporterConfig.parse(config);
  }

  get path(): string {
    return this.config.path;
  }

  /** Transactions committed and rows handed to them (before de-duplication against the ledger). */
  get stats(): { batches: number; rows: number } {
    return { batches: this.committedBatches, rows: this.committedRows };
  }

  start(): Promise<void> {
    if (this.stopping) return Promise.reject(new Error('the DuckDB exporter was shut down; create a new one'));
    this.starting ??= this.open();
    return this.starting;
  }

  /**
   * Resolves when the rows (and `changes`: duplicates, moves, late ownership) are COMMITTED, all in one
   * transaction; rejects with PipelineError('unavailable') on storage failure.
   */
  write(rows: readonly LedgerRow[], changes?: LedgerChanges | null): Promise<void> {
    if (!this.accepting) {
      const why = this.stopping ? 'the ledger is shutting down' : 'the ledger is not open';
      return Promise.reject(new PipelineError('unavailable', why, RETRY_AFTER_SECONDS));
    }
    const invalid = findInvalidRow(rows) ?? (changes ? findInvalidRow(changes.duplicates) : null);
    if (invalid) return Promise.reject(new PipelineError('invalid', invalid));
    const extra = hasChanges(changes) ? changes : null;
    if (rows.length === 0 && extra === null) return Promise.resolve();
    // Building chunks here, per write, spreads the CPU work over request handling instead of stalling
    // the writer loop between commits.
    const unique = dedupe(rows);
    const staged = buildStagingChunks(unique);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ rows: unique.length, staged, changes: extra, resolve, reject });
      this.kick();
    });
  }

  /** Finishes queued writes, runs CHECKPOINT and closes the file. Safe twice and without start. */
  shutdown(): Promise<void> {
    this.stopping ??= this.close();
    return this.stopping;
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  private async open(): Promise<void> {
    const { path } = this.config;
    const kind = await inspectLedgerFile(path);
    if (kind === 'not-duckdb') throw notDuckDbError(path);
    if (kind === 'duckdb') await verifyExistingLedger(path);
    else await mkdir(dirname(path), { recursive: true });
    await this.connect();
    this.accepting = true;
  }

  /** Opens the database (DuckDB replays its WAL), creates or upgrades the ledger, prepares staging. */
  private async connect(): Promise<void> {
    const { path } = this.config;
    const instance = await openInstance(path, {
      checkpoint_threshold: this.config.checkpointThreshold,
      threads: String(this.config.threads),
      ...(this.config.memoryLimit === undefined ? {} : { memory_limit: this.config.memoryLimit }),
    });
    try {
      const connection = await instance.connect();
      this.instance = instance;
      this.connection = connection;
      // Not accepted as an instance option by DuckDB 1.5, so set it on the connection (it is global). The
      // names are checked by the config schema to be bare lowercase words.
      await connection.run(`SET disabled_compression_methods = '${this.config.disabledCompressionMethods.join(',')}'`);
      if ((await tableNames(connection)).length === 0) {
        await inTransaction(connection, createLedgerStatements(`genai-ledger ${await packageVersion()}`, new Date()));
      } else {
        // Views belong to genai-ledger: refresh them so a newer version's definitions apply.
        await inTransaction(connection, [...ADD_MISSING_COLUMNS, ...LEDGER_VIEWS, ...DUPLICATE_SPANS_STATEMENTS]);
      }
      for (const statement of CREATE_STAGING_TABLES) await connection.run(statement);
      for (const ddl of CREATE_CHANGES_STAGING_TABLES) await connection.run(ddl);
      this.appender = await StagingAppenders.open(connection);
    } catch (err) {
      this.release();
      throw err;
    }
  }

  private async close(): Promise<void> {
    this.accepting = false;
    if (this.starting) await this.starting.catch(() => undefined);
    while (this.loop) await this.loop;
    const connection = this.connection;
    if (!connection) return;
    try {
      if (this.invalidatedBy !== null) {
        throw new Error(`${this.invalidatedBy}; no final checkpoint was possible`);
      }
      // The transaction opened ahead of a next commit holds nothing: end it, so nothing is open at close.
      if (this.transactionOpen) await this.rollback(connection);
      await connection.run('CHECKPOINT');
    } catch (err) {
      throw new Error(
        `the ledger ${this.config.path} could not be checkpointed at shutdown (${(err as Error).message}); ` +
          'every acknowledged row is in its write-ahead log and is replayed on the next start',
        { cause: err },
      );
    } finally {
      this.release();
    }
  }

  private release(): void {
    this.closeChangeAppenders();
    try {
      this.appender?.close();
    } catch {
      // The appender holds only staging rows, which are cleared anyway.
    }
    this.connection?.closeSync();
    this.instance?.closeSync();
    this.appender = null;
    this.connection = null;
    this.instance = null;
    this.transactionOpen = false;
  }

  // ---- group commit ----------------------------------------------------------------------------

  private kick(): void {
    if (this.loop) return;
    // Start on the next microtask so writes issued in the same tick join the first batch.
    this.loop = Promise.resolve()
      .then(() => this.drain())
      .finally(() => {
        this.loop = null;
        if (this.queue.length > 0) this.kick();
      });
  }

  /**
   * The writer loop: takes everything queued (up to maxBatchRows), commits it as one transaction, and
   * settles those writes; writes that arrive meanwhile form the next batch.
   */
  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const writes = this.takeBatch();
      try {
        await this.reopenIfInvalidated();
        await this.commit(writes);
        if (this.failedBatches > 0) {
          this.options.onWriteEvent?.({ kind: 'recovered', failedBatches: this.failedBatches });
          this.failedBatches = 0;
        }
        for (const w of writes) w.resolve();
      } catch (err) {
        const message = (err as Error).message;
        if (this.invalidatedBy === null && FATAL_DUCKDB_ERROR.test(message)) {
          this.invalidatedBy = `DuckDB invalidated the ledger database after a failed write: ${message}`;
          this.options.onWriteEvent?.({ kind: 'invalidated', message: this.invalidatedBy });
        } else if (this.failedBatches === 0) {
          this.options.onWriteEvent?.({ kind: 'failing', message });
        }
        this.failedBatches++;
        const failure = new PipelineError('unavailable', `ledger write to ${this.config.path} failed: ${message}`, RETRY_AFTER_SECONDS, {
          cause: err,
        });
        for (const w of writes) w.reject(failure);
      }
    }
  }

  /**
   * After DuckDB invalidated the database, closes it and opens the file again (replaying the WAL, which
   * holds every acknowledged row), at most once every REOPEN_INTERVAL_MS; in between, commits fail at once
   * with the reason. Runs in the writer loop, so no commit overlaps it.
   */
  private async reopenIfInvalidated(): Promise<void> {
    if (this.invalidatedBy === null) return;
    if (Date.now() < this.nextReopenAt) throw new Error(`${this.invalidatedBy}; reopening it shortly`);
    this.nextReopenAt = Date.now() + REOPEN_INTERVAL_MS;
    this.release();
    try {
      await this.connect();
    } catch (err) {
      throw new Error(`${this.invalidatedBy}; reopening it failed: ${(err as Error).message}`, { cause: err });
    }
    this.invalidatedBy = null;
  }

  /** Whole writes, oldest first, up to maxBatchRows rows (always at least one write). */
  private takeBatch(): PendingWrite[] {
    let rows = 0;
    let n = 0;
    while (n < this.queue.length) {
      const size = this.queue[n]!.rows;
      if (n > 0 && rows + size > this.config.maxBatchRows) break;
      rows += size;
      n++;
    }
    return this.queue.splice(0, n);
  }

  /**
   * Stages the batch and moves it into the ledger in one transaction. The staging append runs inside that
   * transaction: the staged rows then live only in the transaction's local storage and are never committed
   * to the TEMP tables (measured ~1.4 µs less main-thread time per row than an auto-committed append, and a
   * cheaper INSERT). A batch that hits an existing (trace_id, span_id) is rolled back and staged again for
   * the ON CONFLICT form; the chunks were kept for that.
   *
   * The statement that commits also opens the next batch's transaction, so a commit is one append and one
   * call to DuckDB's thread. A separate BEGIN was a second round trip per commit (0.7–1.6 ms measured),
   * and its answer waited for an event loop busy decoding the next requests.
   */
  private async commit(writes: readonly PendingWrite[]): Promise<void> {
    const connection = this.connection;
    if (!connection || !this.appender) throw new Error('the ledger is closed');
    const attempt = async (insert: string): Promise<void> => {
      if (!this.transactionOpen) {
        await connection.run('BEGIN TRANSACTION');
        this.transactionOpen = true;
      }
      try {
        if (!this.appender) throw new Error('the ledger is closed');
        this.appender.append(writes.map((w) => w.staged));
        const changes = await this.stageChanges(connection, writes);
        // The common case (new rows only) is one round trip; changes bind a parameter, so statement by statement.
        if (changes.length === 0) await connection.run([insert, ...CLEAR_STAGING, 'COMMIT', 'BEGIN TRANSACTION'].join(';\n'));
        else await runChangesAndCommit(connection, insert, changes);
      } catch (err) {
        await this.rollback(connection);
        throw err;
      }
    };
    try {
      try {
        await attempt(INSERT_FROM_STAGING);
      } catch (err) {
        if (!isDuplicateKeyError(err)) throw err;
        await attempt(INSERT_NEW_FROM_STAGING);
      }
      this.committedBatches++;
      for (const w of writes) {
        this.committedRows += w.rows;
        this.stagedRows += w.rows;
      }
    } catch (err) {
      await this.resetStaging(connection);
      throw err;
    }
    if (this.stagedRows >= RECREATE_STAGING_AFTER_ROWS) await this.resetStaging(connection);
  }

  /** Ends the open transaction, if any, without keeping anything it staged. */
  private async rollback(connection: DuckDBConnection): Promise<void> {
    this.transactionOpen = false;
    await connection.run('ROLLBACK').catch(() => undefined);
  }

  /**
   * Stages the batch's duplicates, moves and ownership updates (merged over its writes, the last change to
   * a key winning) and returns the statements that apply them; none for a batch of plain new rows.
   */
  private async stageChanges(connection: DuckDBConnection, writes: readonly PendingWrite[]): Promise<ChangeStatement[]> {
    const all: LedgerChanges[] = [];
    for (const w of writes) if (w.changes !== null) all.push(w.changes);
    if (all.length === 0) return [];
    const { duplicates, moves, ownerUpdates } = mergeChanges(all);
    if (duplicates.length > 0) {
      const appender = await this.changeAppender(connection, DUPLICATES_STAGING_TABLE);
      for (const chunk of buildPlainChunks(duplicates, DUPLICATE_STAGED_COLUMNS)) appender.appendDataChunk(chunk);
      appender.flushSync();
    }
    if (moves.length > 0) appendMoves(await this.changeAppender(connection, MOVES_STAGING_TABLE), moves);
    if (ownerUpdates.length > 0) appendOwnerUpdates(await this.changeAppender(connection, OWNER_UPDATES_STAGING_TABLE), ownerUpdates);
    let oldestStartMs = Infinity;
    for (const m of moves) oldestStartMs = Math.min(oldestStartMs, m.startMs);
    for (const u of ownerUpdates) oldestStartMs = Math.min(oldestStartMs, u.startMs);
    const staged = { duplicates: duplicates.length > 0, moves: moves.length > 0, ownerUpdates: ownerUpdates.length > 0 };
    return changeStatements(staged, Number.isFinite(oldestStartMs) ? oldestStartMs : 0);
  }

  private async changeAppender(connection: DuckDBConnection, table: string): Promise<DuckDBAppender> {
    this.changeAppenders ??= new Map();
    let appender = this.changeAppenders.get(table);
    if (appender === undefined) {
      appender = await connection.createAppender(table, 'main', 'temp');
      this.changeAppenders.set(table, appender);
    }
    return appender;
  }

  private closeChangeAppenders(): void {
    for (const appender of this.changeAppenders?.values() ?? []) {
      try {
        appender.closeSync();
      } catch {
        // Holds only staging rows, which are cleared anyway.
      }
    }
    this.changeAppenders = null;
  }

  /**
   * The GenAI spans of the last `windowSeconds` (billed and duplicates, newest last, at most `limit`), for
   * the trace index to be rebuilt after a restart. Call after start, before the first write.
   */
  async recentLineage(windowSeconds: number, limit: number): Promise<RecentLedgerSpan[]> {
    if (!this.connection) throw new Error('the ledger is not open');
    return readRecentLineage(this.connection, windowSeconds, limit);
  }

  /**
   * A fresh, empty staging table and appender: after a failure (the appender may hold half a batch) and every
   * RECREATE_STAGING_AFTER_ROWS rows (dropping the table is what gives its memory back).
   */
  private async resetStaging(connection: DuckDBConnection): Promise<void> {
    this.closeChangeAppenders();
    try {
      this.appender?.close();
    } catch {
      // Already failed; it is replaced below.
    }
    this.appender = null;
    this.stagedRows = 0;
    try {
      // Outside any transaction: the one opened ahead of the next commit holds nothing yet.
      if (this.transactionOpen) await this.rollback(connection);
      for (const clear of CLEAR_CHANGES_STAGING) await connection.run(clear);
      for (const statement of DROP_STAGING_TABLES) await connection.run(statement);
      for (const statement of CREATE_STAGING_TABLES) await connection.run(statement);
      this.appender = await StagingAppenders.open(connection);
    } catch {
      // The database itself is failing; the next commit reports it.
    }
  }
}

// ---- helpers -----------------------------------------------------------------------------------

async function openInstance(path: string, options: Record<string, string>): Promise<DuckDBInstance> {
  try {
    return await DuckDBInstance.create(path, options);
  } catch (err) {
    if (isLockConflict(err)) {
      throw new Error(`${path} is in use by another process (is a genai-ledger server running?)`, { cause: err });
    }
    if (err instanceof Error && /not a valid DuckDB database file/i.test(err.message)) throw notDuckDbError(path);
    throw new Error(`cannot open ledger ${path}: ${(err as Error).message}`, { cause: err });
  }
}

async function tableNames(connection: DuckDBConnection): Promise<string[]> {
  const reader = await connection.runAndReadAll(
    `SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND NOT temporary
     UNION ALL
     SELECT view_name FROM duckdb_views() WHERE database_name = current_database() AND NOT internal AND NOT temporary`,
  );
  return reader.getRows().map((r) => String(r[0]));
}

/**
 * Looks at an existing DuckDB file read-only, so a file that is not ours is refused untouched:
 * it must be empty (no tables) or carry our `ledger_meta` with a schema version we understand.
 */
async function verifyExistingLedger(path: string): Promise<void> {
  const instance = await openInstance(path, { access_mode: 'READ_ONLY' });
  try {
    const connection = await instance.connect();
    try {
      const tables = await tableNames(connection);
      if (tables.length === 0) return;
      if (!tables.includes('ledger_meta')) {
        throw new Error(
          `${path} is a DuckDB database that genai-ledger did not create (it has tables but no ledger_meta); ` +
            'refusing to write to it. Point exporters.duckdb.path at a new file.',
        );
      }
      const meta = new Map(
        (await connection.runAndReadAll('SELECT "key", "value" FROM ledger_meta')).getRows().map((r) => [String(r[0]), String(r[1])]),
      );
      const version = Number(meta.get('schema_version'));
      if (!Number.isInteger(version) || version < 1) {
        throw new Error(`${path} has a ledger_meta table without a valid schema_version; refusing to write to it`);
      }
      if (version > SCHEMA_VERSION) {
        throw new Error(
          `${path} has ledger schema version ${version}, created by ${meta.get('created_by') ?? 'a newer genai-ledger'}; ` +
            `this genai-ledger understands version ${SCHEMA_VERSION}. Upgrade genai-ledger.`,
        );
      }
      if (!tables.includes('genai_calls')) throw new Error(`${path} has ledger_meta but no genai_calls table; refusing to write to it`);
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

/**
 * Runs the statements as one transaction in a single call: one round trip to DuckDB's threads, so a
 * busy event loop cannot stretch the transaction between its statements.
 */
async function inTransaction(connection: DuckDBConnection, statements: readonly string[]): Promise<void> {
  try {
    await connection.run(['BEGIN TRANSACTION', ...statements, 'COMMIT'].join(';\n'));
  } catch (err) {
    await connection.run('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * Inside an open transaction: the billed rows' INSERT, the changes, the staging cleanup, COMMIT, and the
 * next commit's BEGIN.
 */
async function runChangesAndCommit(connection: DuckDBConnection, insert: string, changes: readonly ChangeStatement[]): Promise<void> {
  await connection.run(insert);
  for (const { sql, params } of changes) await connection.run(sql, params.length === 0 ? undefined : params);
  for (const statement of CLEAR_STAGING) await connection.run(statement);
  await connection.run('COMMIT;\nBEGIN TRANSACTION');
}

/** Rows in order without repeated (trace_id, span_id): the first occurrence wins. */
function dedupe(rows: readonly LedgerRow[]): readonly LedgerRow[] {
  const seen = new Set<string>();
  const out: LedgerRow[] = [];
  for (const row of rows) {
    const key = `${row.traceId}/${row.spanId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(row);
  }
  return out.length === rows.length ? rows : out;
}

const isCount = (n: number | null) => n === null || (Number.isSafeInteger(n) && n >= 0);
const isMoney = (v: bigint | null) => v === null || (v > -MAX_MONEY_PICO_USD && v < MAX_MONEY_PICO_USD);

/** Checks what DuckDB would otherwise reject for the whole batch; returns why the first bad row is bad. */
function findInvalidRow(rows: readonly LedgerRow[]): string | null {
  if (rows.length === 0) return null;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const where = `ledger row ${i} (trace ${r.traceId}, span ${r.spanId})`;
    if (!r.traceId || !r.spanId) return `${where}: trace_id and span_id are required`;
    if (r.startTimeUnixNano < 0n || r.endTimeUnixNano < 0n) return `${where}: negative timestamp`;
    if (
      !isCount(r.inputTokens) ||
      !isCount(r.cachedInputTokens) ||
      !isCount(r.cacheWriteTokens) ||
      !isCount(r.outputTokens) ||
      !isCount(r.reasoningTokens) ||
      !isCount(r.totalTokens)
    ) {
      return `${where}: token counts must be non-negative safe integers`;
    }
    if (
      !isMoney(r.requestCostPicoUsd) ||
      !isMoney(r.inputCostPicoUsd) ||
      !isMoney(r.cachedInputCostPicoUsd) ||
      !isMoney(r.cacheWriteCostPicoUsd) ||
      !isMoney(r.outputCostPicoUsd)
    ) {
      return `${where}: cost out of range for DECIMAL(18,12) (|cost| must be below $1,000,000 per call)`;
    }
    if (!ATTRIBUTION_STATUSES.includes(r.attributionStatus)) return `${where}: unknown attribution_status "${r.attributionStatus}"`;
    if (r.exceptions.some((e) => e.includes(','))) return `${where}: exception reasons must not contain ","`;
  }
  return null;
}

let cachedVersion: string | undefined;
async function packageVersion(): Promise<string> {
  if (cachedVersion !== undefined) return cachedVersion;
  // dist/exporters/duckdb/ → the package root, both from source and from the compiled output.
  for (const rel of ['../../../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(await readFile(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'genai-ledger' && pkg.version) return (cachedVersion = pkg.version);
    } catch {
      // try the next location
    }
  }
  return (cachedVersion = 'unknown');
}
