import type { DuckDBConnection, DuckDBInstance, DuckDBPreparedStatement, DuckDBResult, DuckDBType, DuckDBValue } from '@duckdb/node-api';
import { LOCKDOWN_SETTINGS } from '../../exporters/duckdb/read-only-query.js';
import { SqlError, SqlState, sqlErrorFromDuckDb } from './sql-error.js';

/**
 * The server's DuckDB database as the endpoint sees it: the instance the ledger writer holds (it may be
 * replaced when the writer reopens the file), sealed before the first query connection is made on it.
 */
export class SharedDatabase {
  private readonly sealed = new WeakMap<DuckDBInstance, Promise<DatabaseFacts>>();

  constructor(private readonly current: () => DuckDBInstance | null) {}

  /** Seals the open instance now, if there is one (at startup: a problem shows before any client connects). */
  async sealCurrent(): Promise<void> {
    if (this.current() !== null) await this.open();
  }

  /** The open instance, sealed, with what the endpoint needs to know about it; throws when none is open. */
  async open(): Promise<{ instance: DuckDBInstance; facts: DatabaseFacts }> {
    const instance = this.current();
    if (instance === null) throw new SqlError('57P03', 'the ledger database is not open (the server is starting, reopening the ledger or shutting down)');
    let facts = this.sealed.get(instance);
    if (facts === undefined) {
      facts = sealInstance(instance);
      this.sealed.set(instance, facts);
      facts.catch(() => this.sealed.delete(instance));
    }
    return { instance, facts: await facts };
  }
}

/** Learned once per instance, after sealing it. */
export interface DatabaseFacts {
  duckdbVersion: string;
  /** Table functions and table macros DuckDB has (lower-case). */
  tableFunctions: ReadonlySet<string>;
  /** Keywords quote_ident() must quote (all but the unreserved ones, as PostgreSQL does). */
  quotedKeywords: readonly string[];
}

/**
 * Applies LOCKDOWN_SETTINGS to an open, writable instance (SET GLOBAL, lock_configuration last). They apply to
 * every connection, the writer's included: the writer never reads outside its file, loads an extension or
 * changes a setting after it opened the database (a reopened database is a new instance, sealed again
 * before its first query). An instance that is already locked must already be sealed.
 */
async function sealInstance(instance: DuckDBInstance): Promise<DatabaseFacts> {
  const connection = await instance.connect();
  try {
    const current = new Map(
      (await connection.runAndReadAll(`SELECT name, value FROM duckdb_settings() WHERE name IN (${LOCKDOWN_SETTINGS.map(([n]) => `'${n}'`).join(', ')})`))
        .getRows()
        .map((r) => [String(r[0]), String(r[1])]),
    );
    for (const [name, value] of LOCKDOWN_SETTINGS) {
      if (current.get(name) === value) continue;
      if (current.get('lock_configuration') === 'true') {
        throw new Error(`the ledger database's configuration is locked with ${name}=${current.get(name)}; the SQL endpoint needs ${name}=${value}`);
      }
      await connection.run(`SET GLOBAL ${name} = ${value}`);
    }
    const version = String((await connection.runAndReadAll('SELECT library_version FROM pragma_version()')).getRows()[0]?.[0] ?? '');
    const tableFunctions = new Set(
      (await connection.runAndReadAll(`SELECT DISTINCT lower(function_name) FROM duckdb_functions() WHERE function_type IN ('table', 'table_macro')`))
        .getRows()
        .map((r) => String(r[0])),
    );
    const quotedKeywords = (await connection.runAndReadAll(`SELECT keyword_name FROM duckdb_keywords() WHERE keyword_category <> 'unreserved' ORDER BY 1`))
      .getRows()
      .map((r) => String(r[0]));
    return { duckdbVersion: version, tableFunctions, quotedKeywords };
  } finally {
    connection.closeSync();
  }
}

/** A slot in the limit on queries running at once (DuckDB runs each on a libuv thread while it computes). */
export class QuerySlots {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  /** Resolves with a release function once a slot is free; rejects if `signal` aborts first. */
  acquire(signal: AbortSignal): Promise<() => void> {
    const release = () => {
      this.running--;
      this.waiting.shift()?.();
    };
    if (this.running < this.limit) {
      this.running++;
      return Promise.resolve(once(release));
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal.removeEventListener('abort', onAbort);
        this.running++;
        resolve(once(release));
      };
      const onAbort = () => {
        const i = this.waiting.indexOf(grant);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal.reason);
      };
      if (signal.aborted) return reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(grant);
    });
  }
}

const once = (f: () => void) => {
  let done = false;
  return () => {
    if (!done) {
      done = true;
      f();
    }
  };
};

export type CancelReason = 'timeout' | 'user' | 'shutdown';

/** Column names and DuckDB types of a prepared statement's result; null when DuckDB cannot tell before binding. */
export interface ResultShape {
  names: string[];
  types: DuckDBType[];
}

/**
 * One PostgreSQL connection's DuckDB connection: compatibility macros, prepare, and queries streamed in
 * chunks inside a READ ONLY transaction, interruptible at any point (timeout, cancel request, shutdown).
 */
export class DuckDbSession {
  private connection: DuckDBConnection | null = null;
  private instance: DuckDBInstance | null = null;
  private facts: DatabaseFacts | null = null;
  /** DuckDB calls in flight: an interrupt is only sent while one runs (DuckDB ignores it otherwise). */
  private inFlight = 0;
  private cancelReason: CancelReason | null = null;
  private abort = new AbortController();

  /** Answered by pg_backend_pid(); set once the connection is admitted. */
  backendPid = 0;

  constructor(
    private readonly database: SharedDatabase,
    private readonly slots: QuerySlots,
    private readonly serverVersion: string,
  ) {}

  /** Table functions DuckDB has, for the PostgreSQL rewrite (empty until connected). */
  get tableFunctions(): ReadonlySet<string> {
    return this.facts?.tableFunctions ?? new Set();
  }

  /** Connects (again, if the writer reopened the database) and installs the compatibility macros. */
  async connect(): Promise<DuckDBConnection> {
    const { instance, facts } = await this.database.open();
    if (this.connection !== null && this.instance === instance) return this.connection;
    await this.release();
    const connection = await instance.connect();
    try {
      for (const sql of compatibilityMacros(this.backendPid, `PostgreSQL ${this.serverVersion}, DuckDB ${facts.duckdbVersion}`, facts.quotedKeywords)) {
        await connection.run(sql);
      }
    } catch (err) {
      connection.closeSync();
      throw err;
    }
    this.connection = connection;
    this.instance = instance;
    this.facts = facts;
    return connection;
  }

  /** `json_serialize_sql` of `sql` (DuckDB's parser only; nothing is bound or run). */
  async serialize(sql: string): Promise<string> {
    const connection = await this.connect();
    const reader = await this.call(() => connection.runAndReadAll('SELECT json_serialize_sql($1::VARCHAR)', [sql]));
    return String(reader.getRows()[0]?.[0] ?? '');
  }

  async prepare(sql: string): Promise<DuckDBPreparedStatement> {
    const connection = await this.connect();
    return this.call(async () => {
      const extracted = await connection.extractStatements(sql);
      if (extracted.count !== 1) throw new SqlError(SqlState.syntaxError, 'one statement at a time');
      return extracted.prepare(0);
    });
  }

  /** The result's columns as DuckDB knows them after prepare, or null when they depend on parameter types. */
  static shape(prepared: DuckDBPreparedStatement): ResultShape | null {
    const names: string[] = [];
    const types: DuckDBType[] = [];
    try {
      for (let i = 0; i < prepared.columnCount; i++) {
        names.push(prepared.columnName(i));
        types.push(prepared.columnType(i));
      }
    } catch {
      return null;
    }
    return { names, types };
  }

  /** Clears a previous statement's cancellation: a cancel applies to the statement running when it arrives. */
  beginStatement(): AbortSignal {
    this.cancelReason = null;
    this.abort = new AbortController();
    return this.abort.signal;
  }

  /** Stops the running statement: interrupts DuckDB if it is computing, and makes the next step fail. */
  cancel(reason: CancelReason): void {
    if (this.cancelReason === null || reason === 'shutdown') this.cancelReason = reason;
    this.abort.abort(this.cancelled());
    if (this.inFlight > 0) this.connection?.interrupt();
  }

  /** Throws the 57014-style error when the statement was cancelled. */
  throwIfCancelled(): void {
    if (this.cancelReason !== null) throw this.cancelled();
  }

  private cancelled(): SqlError {
    return sqlErrorFromDuckDb(new Error('INTERRUPT Error: Interrupted!'), this.cancelReason ?? 'user');
  }

  /**
   * Starts `prepared` (parameters already bound) in its own READ ONLY transaction, once a query slot is
   * free. The returned execution holds the slot and the transaction until closed.
   */
  async start(prepared: DuckDBPreparedStatement, signal: AbortSignal): Promise<Execution> {
    const connection = await this.connect();
    const release = await this.slots.acquire(signal).catch((err: unknown) => {
      throw err instanceof SqlError ? err : this.cancelled();
    });
    try {
      this.throwIfCancelled();
      await this.call(() => connection.run('BEGIN TRANSACTION READ ONLY'));
      const result = await this.call(() => prepared.stream()).catch(async (err: unknown) => {
        await this.rollback(connection);
        throw err;
      });
      return new Execution(this, connection, result, release);
    } catch (err) {
      release();
      throw this.translate(err);
    }
  }

  /** Runs a DuckDB call, counting it as in flight (so a cancel interrupts it) and translating its error. */
  async call<T>(f: () => Promise<T>): Promise<T> {
    this.inFlight++;
    try {
      return await f();
    } catch (err) {
      throw this.translate(err);
    } finally {
      this.inFlight--;
    }
  }

  translate(err: unknown): SqlError {
    if (err instanceof SqlError) return err;
    return sqlErrorFromDuckDb(err, this.cancelReason);
  }

  async rollback(connection: DuckDBConnection): Promise<void> {
    this.inFlight++;
    try {
      await connection.run('ROLLBACK');
    } catch {
      // No transaction open (DuckDB rolled back after an error): nothing to end.
    } finally {
      this.inFlight--;
    }
  }

  /**
   * Closes the DuckDB connection, once the call running on it (interrupted first) has returned. Safe to call
   * more than once.
   */
  async release(): Promise<void> {
    const connection = this.connection;
    this.connection = null;
    this.instance = null;
    if (connection === null) return;
    if (this.inFlight > 0) connection.interrupt();
    while (this.inFlight > 0) await new Promise((r) => setTimeout(r, 5));
    connection.closeSync();
  }
}

/** A running query's result, read in row batches; `close` ends the transaction and frees the slot. */
export class Execution {
  private buffered: DuckDBValue[][] = [];
  private finished = false;
  private closed = false;
  rowsRead = 0;

  constructor(
    private readonly session: DuckDbSession,
    private readonly connection: DuckDBConnection,
    readonly result: DuckDBResult,
    private readonly releaseSlot: () => void,
  ) {}

  get names(): string[] {
    return this.result.columnNames();
  }

  get types(): DuckDBType[] {
    return this.result.columnTypes();
  }

  get done(): boolean {
    return this.finished && this.buffered.length === 0;
  }

  /** Up to `max` rows (0 = a whole chunk); an empty array once the result is exhausted. */
  async next(max: number): Promise<DuckDBValue[][]> {
    this.session.throwIfCancelled();
    if (this.buffered.length === 0 && !this.finished) {
      const chunk = await this.session.call(() => this.result.fetchChunk());
      // An interrupt between two fetches ends the stream quietly: the cancel flag tells it from the end.
      this.session.throwIfCancelled();
      if (chunk === null || chunk.rowCount === 0) this.finished = true;
      else this.buffered = chunk.getRows();
    }
    const take = max > 0 ? Math.min(max, this.buffered.length) : this.buffered.length;
    const rows = take === this.buffered.length ? this.buffered : this.buffered.slice(0, take);
    this.buffered = take === this.buffered.length ? [] : this.buffered.slice(take);
    this.rowsRead += rows.length;
    return rows;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.session.rollback(this.connection);
    } finally {
      this.releaseSlot();
    }
  }
}

/**
 * Session macros and a view (temporary, on this connection only) for what PostgreSQL clients call that
 * DuckDB lacks or answers differently. `version()` shadows DuckDB's; the others do not exist in DuckDB.
 */
function compatibilityMacros(backendPid: number, versionText: string, quotedKeywords: readonly string[]): string[] {
  const lit = (s: string) => `'${s.replaceAll("'", "''")}'`;
  const keywords = `[${quotedKeywords.map(lit).join(', ')}]`;
  return [
    `CREATE OR REPLACE TEMP MACRO version() AS ${lit(`${versionText} (genai-ledger SQL endpoint)`)}`,
    `CREATE OR REPLACE TEMP MACRO pg_backend_pid() AS ${backendPid}`,
    `CREATE OR REPLACE TEMP MACRO pg_is_in_recovery() AS false`,
    `CREATE OR REPLACE TEMP MACRO pg_postmaster_start_time() AS TIMESTAMPTZ '${new Date().toISOString()}'`,
    // PostgreSQL quotes an identifier unless it is lower-case letters, digits and underscores and not a keyword.
    `CREATE OR REPLACE TEMP MACRO quote_ident(s) AS CASE WHEN regexp_full_match(s, '[a-z_][a-z0-9_$]*') AND NOT list_contains(${keywords}, s) THEN s ELSE '"' || replace(s, '"', '""') || '"' END`,
    `CREATE OR REPLACE TEMP MACRO parse_ident(s) AS list_transform(string_split(s, '.'), p -> CASE WHEN p LIKE '"%"' THEN replace(p[2:-2], '""', '"') ELSE lower(trim(p)) END)`,
    `CREATE OR REPLACE TEMP MACRO array_lower(a, d) AS CASE WHEN d = 1 AND len(a) > 0 THEN 1 END`,
    `CREATE OR REPLACE TEMP MACRO array_upper(a, d) AS CASE WHEN d = 1 AND len(a) > 0 THEN len(a) END`,
    `CREATE OR REPLACE TEMP MACRO pg_get_userbyid(id) AS 'genai-ledger'`,
    // No extensions: Grafana asks for TimescaleDB's version here and gets no row.
    `CREATE OR REPLACE TEMP VIEW pg_extension AS SELECT 0::BIGINT AS oid, ''::VARCHAR AS extname, ''::VARCHAR AS extversion WHERE false`,
  ];
}
