import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { z } from 'zod';
import type { LineageSource, ProcessedBatch, TraceExporter } from '../../core/exporter.js';
import type { LedgerRow } from '../../core/ledger-row.js';
import { rowProblem } from '../../src/pipeline/row-check.js';
import { PipelineError } from '../../core/pipeline-errors.js';
import { inspectLedgerFile, isLockConflict, notDuckDbError } from './ledger-file.js';
import { ADD_MISSING_COLUMNS, createLedgerStatements, DUPLICATE_SPANS_STATEMENTS, LEDGER_VIEWS, SCHEMA_VERSION } from './schema.js';
import { hasChanges, mergeChanges, type LedgerChanges } from '../../core/ledger-changes.js';
import { readRecentLineage, type RecentLedgerSpan } from './recent-lineage.js';
import { buildStagingChunks } from './staging-table.js';
import { type PendingWrite, WriterLane } from './writer-lane.js';

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
     * Writer connections committing side by side. DuckDB overlaps one connection's INSERT and COMMIT with
     * another's: with the exporter alone on 2 cores, 2 writers committed 45–47k rows/s against 36–38k. But
     * each commit then carries fewer rows and DuckDB's fixed cost per transaction is large, so DuckDB used
     * ~40% more CPU per row, and end to end on 2 cores (where the event loop needs the other core) W1 did
     * not gain: hence 1 by default; more can pay where cores are free. Writes that carry late changes
     * (duplicates, moves, ownership updates) always commit alone, after every earlier write, because their
     * UPDATEs must see the rows they change.
     */
    writers: z.number().int().min(1).max(8).default(1),
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
  /** Told after each committed transaction: how long it took and how many rows it carried (for /metrics). */
  onCommit?: (seconds: number, rows: number) => void;
  /** Told after each transaction that failed to commit. */
  onCommitFailed?: () => void;
}

/** Seconds a client is asked to wait after a storage failure or during shutdown. */
const RETRY_AFTER_SECONDS = 1;
/** Least time between two attempts to reopen an invalidated database. */
const REOPEN_INTERVAL_MS = 1000;
/** DuckDB's words for an error after which the database instance cannot be used any more. */
const FATAL_DUCKDB_ERROR = /FATAL Error|database has been invalidated/i;

/**
 * The ledger writer. `write()` resolves only when its rows are committed; concurrent writes are
 * group-committed: each writer lane (one DuckDB connection, `writers` of them) takes its share of what is
 * queued (up to `maxBatchRows`), stages it, moves it into `genai_calls` in one transaction, commits, and
 * settles those writes together. A write that carries changes waits until every earlier write has
 * committed and then commits with no other lane active (see `takeBatch`).
 *
 * Durability: DuckDB writes and fsyncs its write-ahead log when a transaction commits (there is no setting
 * to relax this in DuckDB 1.5, and we do not want one); the WAL is folded into the database file by DuckDB's
 * automatic checkpoint (`checkpoint_threshold`, 16 MiB by default) and by the CHECKPOINT run at shutdown.
 */
export class DuckDbExporter implements TraceExporter, LineageSource {
  readonly name = 'duckdb';
  /** The ledger always acknowledges: a 200/OK means the rows are committed. */
  readonly acknowledges = true;
  readonly config: DuckDbExporterConfig;
  /**
   * Moves and ownership updates of a batch whose commit failed, committed with the next batch. The failed
   * batch's own rows come back with the client's retry; these changes would not, because the trace index
   * already holds the decision they carry.
   */
  private carried: LedgerChanges | null = null;
  private instance: DuckDBInstance | null = null;
  private readonly lanes: WriterLane[];
  /** A batch with changes is committing: no other lane may start one. */
  private exclusive = false;
  private starting: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  private accepting = false;
  private queue: PendingWrite[] = [];
  private committedBatches = 0;
  private committedRows = 0;

  /** Batches failed since the last successful commit. */
  private failedBatches = 0;
  /** Set when DuckDB invalidated the database: the error that did it. */
  private invalidatedBy: string | null = null;
  private nextReopenAt = 0;

  constructor(
    config: DuckDbExporterConfigInput = {},
    private readonly options: DuckDbExporterOptions = {},
  ) {
    this.config = DuckDbExporterConfig.parse(config);
    this.lanes = Array.from({ length: this.config.writers }, () => new WriterLane());
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

  /** The exporter contract (core/exporter.ts): commits the batch's rows and changes, with carried changes. */
  async export(batch: ProcessedBatch): Promise<void> {
    let changes = batch.changes;
    if (this.carried !== null) {
      changes = mergeChanges(this.carried, changes);
      this.carried = null;
    }
    try {
      await this.write(batch.rows, changes);
    } catch (err) {
      this.carry(changes);
      throw err;
    }
  }

  private carry(changes: LedgerChanges | null): void {
    if (changes === null || (changes.moves.length === 0 && changes.ownerUpdates.length === 0)) return;
    const kept: LedgerChanges = { duplicates: [], moves: changes.moves, ownerUpdates: changes.ownerUpdates };
    this.carried = this.carried === null ? kept : mergeChanges(this.carried, kept);
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
      this.instance = instance;
      const connection = await instance.connect();
      await this.lanes[0]!.attach(connection);
      // Not accepted as an instance option by DuckDB 1.5, so set it on the connection (it is global). The
      // names are checked by the config schema to be bare lowercase words.
      await connection.run(`SET disabled_compression_methods = '${this.config.disabledCompressionMethods.join(',')}'`);
      if ((await tableNames(connection)).length === 0) {
        await inTransaction(connection, createLedgerStatements(`genai-ledger ${await packageVersion()}`, new Date()));
      } else {
        // Views belong to genai-ledger: refresh them so a newer version's definitions apply.
        await inTransaction(connection, [...ADD_MISSING_COLUMNS, ...LEDGER_VIEWS, ...DUPLICATE_SPANS_STATEMENTS]);
      }
      for (const lane of this.lanes.slice(1)) await lane.attach(await instance.connect());
    } catch (err) {
      this.release();
      throw err;
    }
  }

  private async close(): Promise<void> {
    this.accepting = false;
    if (this.starting) await this.starting.catch(() => undefined);
    // A lane finishing may kick another, so wait until no loop is left.
    while (this.lanes.some((l) => l.loop !== null)) await Promise.all(this.lanes.map((l) => l.loop));
    const connection = this.lanes[0]!.openConnection;
    if (!connection) return;
    try {
      if (this.invalidatedBy !== null) {
        throw new Error(`${this.invalidatedBy}; no final checkpoint was possible`);
      }
      // The transactions opened ahead of next commits hold nothing: end them, so nothing is open at close.
      for (const lane of this.lanes) await lane.rollback();
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
    for (const lane of this.lanes) lane.release();
    this.instance?.closeSync();
    this.instance = null;
  }

  // ---- group commit ----------------------------------------------------------------------------

  /** Starts every idle lane that has something it may take (see `takeBatch`). */
  private kick(): void {
    for (const lane of this.lanes) {
      // Only a lane that may take something: a lane started to find nothing would restart itself forever.
      if (lane.loop !== null || !this.mayTake(lane)) continue;
      // Start on the next microtask so writes issued in the same tick join the first batches.
      lane.loop = Promise.resolve()
        .then(() => this.drain(lane))
        .finally(() => {
          lane.loop = null;
          if (this.queue.length > 0) this.kick();
        });
    }
  }

  /**
   * A lane's loop: takes a batch (see `takeBatch`), commits it as one transaction and settles its writes,
   * until there is nothing it may take.
   */
  private async drain(lane: WriterLane): Promise<void> {
    for (let writes = this.takeBatch(lane); writes !== null; writes = this.takeBatch(lane)) {
      lane.committing = true;
      const started = performance.now();
      try {
        await this.reopenIfInvalidated();
        await lane.commit(writes);
        this.committedBatches++;
        let rows = 0;
        for (const w of writes) rows += w.rows;
        this.committedRows += rows;
        this.options.onCommit?.((performance.now() - started) / 1000, rows);
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
        this.options.onCommitFailed?.();
        const failure = new PipelineError('unavailable', `ledger write to ${this.config.path} failed: ${message}`, RETRY_AFTER_SECONDS, {
          cause: err,
        });
        for (const w of writes) w.reject(failure);
      } finally {
        lane.committing = false;
        // Only a batch that starts with a write carrying changes was taken exclusively.
        if (writes[0]!.changes !== null) this.exclusive = false;
      }
      // Other lanes may have stopped at the barrier this batch held.
      this.kick();
    }
  }

  /**
   * What `lane` may commit now, oldest writes first, or null:
   * - nothing while a batch with changes is committing;
   * - a write with changes only once no other lane is committing; it then commits with the writes after it
   *   (up to maxBatchRows) while the other lanes wait. Its moves and ownership UPDATEs touch rows of earlier
   *   writes, which must be committed for the UPDATEs to see them;
   * - otherwise whole writes without changes, stopping before one with changes: a share of what is queued
   *   when other lanes are idle (so they commit the rest alongside), everything up to maxBatchRows if not;
   * - nothing while the database is invalidated and another lane is still committing (reopening it closes
   *   every connection).
   */
  private takeBatch(lane: WriterLane): PendingWrite[] | null {
    if (!this.mayTake(lane)) return null;
    const limit = this.config.maxBatchRows;
    if (this.queue[0]!.changes !== null) {
      this.exclusive = true;
      return this.queue.splice(0, countWithin(this.queue, limit, () => true));
    }
    let plainRows = 0;
    for (const w of this.queue) {
      if (w.changes !== null) break;
      plainRows += w.rows;
    }
    const idleLanes = this.lanes.filter((l) => !l.committing).length;
    const share = Math.min(limit, Math.ceil(plainRows / Math.max(1, idleLanes)));
    return this.queue.splice(0, countWithin(this.queue, share, (w) => w.changes === null));
  }

  /** Whether `takeBatch(lane)` would return a batch now (no side effects). */
  private mayTake(lane: WriterLane): boolean {
    const head = this.queue[0];
    if (head === undefined || this.exclusive) return false;
    const othersCommitting = this.lanes.some((l) => l !== lane && l.committing);
    return !othersCommitting || (head.changes === null && this.invalidatedBy === null);
  }

  /**
   * After DuckDB invalidated the database, closes it and opens the file again (replaying the WAL, which
   * holds every acknowledged row), at most once every REOPEN_INTERVAL_MS; in between, commits fail at once
   * with the reason. Runs in a writer loop while no other lane is committing (`takeBatch` sees to that).
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

  /**
   * A new connection on the ledger's database, for readers in the same process (/metrics gauges, the SQL
   * endpoint, alerts): DuckDB gives each connection a consistent snapshot while the writer lanes commit.
   * The caller closes it. After the database was reopened (see reopenIfInvalidated) old connections fail:
   * connect again.
   */
  async openReader(): Promise<DuckDBConnection> {
    if (this.instance === null) throw new Error('the ledger is not open');
    return this.instance.connect();
  }

  /** The database instance itself (null when closed), for components that manage their own connections. */
  get database(): DuckDBInstance | null {
    return this.instance;
  }

  /** True while writes are accepted and the last commit did not fail. */
  get healthy(): boolean {
    return this.accepting && this.failedBatches === 0 && this.invalidatedBy === null;
  }

  /**
   * The GenAI spans of the last `windowSeconds` (billed and duplicates, newest last, at most `limit`), for
   * the trace index to be rebuilt after a restart. Call after start, before the first write.
   */
  async recentLineage(windowSeconds: number, limit: number): Promise<RecentLedgerSpan[]> {
    const connection = this.lanes[0]!.openConnection;
    if (!connection) throw new Error('the ledger is not open');
    return readRecentLineage(connection, windowSeconds, limit);
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
 * How many writes from the head of `queue` fit in `maxRows` rows (at least one, if the first is eligible),
 * stopping at the first write `eligible` refuses.
 */
function countWithin(queue: readonly PendingWrite[], maxRows: number, eligible: (w: PendingWrite) => boolean): number {
  let rows = 0;
  let n = 0;
  while (n < queue.length && eligible(queue[n]!)) {
    const size = queue[n]!.rows;
    if (n > 0 && rows + size > maxRows) break;
    rows += size;
    n++;
  }
  return n;
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

/**
 * Checks what DuckDB would otherwise reject for the whole batch (or silently wrap); returns why the first
 * bad row is bad. The processor already dropped such rows span by span (src/pipeline/row-check.ts), so this
 * firing means a bug upstream: the batch is refused rather than written wrong.
 */
function findInvalidRow(rows: readonly LedgerRow[]): string | null {
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    const problem = rowProblem(r);
    if (problem !== null) return `ledger row ${i} (trace ${r.traceId}, span ${r.spanId}): ${problem}`;
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
