import { randomInt } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { StatementType, type DuckDBPreparedStatement, type DuckDBType, type DuckDBValue } from '@duckdb/node-api';
import { DuckDbSession, type Execution, type QuerySlots, type SharedDatabase } from './duckdb-session.js';
import { copyRow, initialSettings, intercept, REPORTED_PARAMETERS, type Intercepted } from './pg-compat.js';
import { binaryParameterText, duckDbTypeForOid, Oid, parameterOid, pgColumnType, textColumnType, type PgColumnType } from './pg-types.js';
import {
  CANCEL_REQUEST_CODE,
  GSSENC_REQUEST_CODE,
  MessageFramer,
  MessageReader,
  MessageWriter,
  ProtocolViolation,
  SSL_REQUEST_CODE,
  writeError,
  writeRowDescription,
  type FieldDescription,
  type Framed,
} from './pg-wire.js';
import { checkReadOnly, explainedQuery, refusedKind } from './read-only-guard.js';
import { SCRAM_MECHANISM, ScramError, ScramServerExchange, type ScramSecret } from './scram.js';
import { SqlError, SqlState } from './sql-error.js';
import { rewriteForDuckDb, splitStatements, SqlLexError, tokenize, type Statement } from './sql-text.js';

/** What every session of one endpoint shares. */
export interface SessionContext {
  database: SharedDatabase;
  slots: QuerySlots;
  registry: SessionRegistry;
  /** Null: no password configured (loopback only). */
  secret: ScramSecret | null;
  /** Null: TLS not configured, SSLRequest is answered 'N'. */
  tls: SecureContext | null;
  serverVersion: string;
  limits: {
    statementTimeoutMs: number;
    maxQueryBytes: number;
    maxResultRows: number;
    maxConnections: number;
  };
}

/** Startup and authentication must finish within this (PostgreSQL's authentication_timeout is 1 min). */
const AUTHENTICATION_TIMEOUT_MS = 30_000;
/** Largest message before authentication (startup packet, SASL messages). */
const MAX_STARTUP_MESSAGE_BYTES = 10_000;
/** Named prepared statements (and portals) one connection may hold: each is a DuckDB prepared statement. */
const MAX_NAMED_OBJECTS = 1000;
/** Rows encoded before the socket is written and its backpressure honoured. */
const ROWS_PER_WRITE = 1024;
const WRITE_HIGH_WATER = 256 * 1024;

/** Cancel keys and the count of admitted connections, across the endpoint. */
export class SessionRegistry {
  private readonly byPid = new Map<number, PgSession>();

  get size(): number {
    return this.byPid.size;
  }

  get sessions(): IterableIterator<PgSession> {
    return this.byPid.values();
  }

  /** A fresh backend process id for `session`, or null when `max` sessions are admitted already. */
  admit(session: PgSession, max: number): number | null {
    if (this.byPid.size >= max) return null;
    let pid: number;
    do pid = randomInt(1000, 2 ** 31 - 1);
    while (this.byPid.has(pid));
    this.byPid.set(pid, session);
    return pid;
  }

  remove(pid: number): void {
    this.byPid.delete(pid);
  }

  /** A CancelRequest: cancels the statement running on the session with this pid, when the key matches. */
  cancel(pid: number, secretKey: number): void {
    const session = this.byPid.get(pid);
    if (session !== undefined && session.secretKey === secretKey) session.cancelStatement('user');
  }
}

type TransactionStatus = 'I' | 'T' | 'E';

/** A statement prepared with Parse (or for one simple-query statement). */
interface PreparedEntry {
  statement: Statement | null;
  /** For DuckDB statements. */
  duck: DuckStatement | null;
  paramOids: number[];
}

interface DuckStatement {
  prepared: DuckDBPreparedStatement;
  explain: boolean;
  /** Result columns known at prepare time. */
  shape: { names: string[]; types: DuckDBType[] } | null;
}

interface Portal {
  entry: PreparedEntry;
  params: (string | null)[];
  resultFormats: number[];
  execution: Execution | null;
  columns: PgColumnType[] | null;
  rows: number;
  done: boolean;
  /** An intercepted statement's result, computed once. */
  intercepted: Intercepted | null;
}

/**
 * One client connection: startup (SSL/GSS negotiation, cancel requests), SCRAM-SHA-256 authentication,
 * then the simple and extended query protocols. Messages are handled one at a time; while a query runs,
 * incoming bytes are held up to the message limit and then the socket is paused.
 */
export class PgSession {
  private stream: Socket;
  private readonly framer: MessageFramer;
  private readonly out = new MessageWriter();
  private state: 'startup' | 'sasl-initial' | 'sasl-final' | 'ready' | 'closed' = 'startup';
  private processing = false;
  private scram: ScramServerExchange | null = null;
  private authTimer: NodeJS.Timeout | null;
  private tlsActive = false;
  pid = 0;
  readonly secretKey = randomInt(-(2 ** 31), 2 ** 31 - 1);
  private user = '';
  private settings = new Map<string, string>();
  private status: TransactionStatus = 'I';
  private skipUntilSync = false;
  private readonly statements = new Map<string, PreparedEntry>();
  private readonly portals = new Map<string, Portal>();
  private readonly duck: DuckDbSession;
  /** Guard verdicts for statement texts already checked on this connection. */
  private readonly checked = new Set<string>();
  /** Resolves when the current message is handled (for shutdown). */
  private idle: Promise<void> = Promise.resolve();
  private readonly onData = (chunk: Buffer) => this.receive(chunk);

  constructor(
    socket: Socket,
    private readonly ctx: SessionContext,
  ) {
    this.stream = socket;
    this.framer = new MessageFramer(MAX_STARTUP_MESSAGE_BYTES, false);
    this.duck = new DuckDbSession(ctx.database, ctx.slots, ctx.serverVersion);
    socket.setNoDelay(true);
    socket.on('data', this.onData);
    socket.on('error', () => this.closed());
    socket.on('close', () => this.closed());
    this.authTimer = setTimeout(() => this.fatal(new SqlError(SqlState.protocolViolation, 'authentication timed out', { fatal: true })), AUTHENTICATION_TIMEOUT_MS);
    this.authTimer.unref();
  }

  // ---- socket plumbing -----------------------------------------------------------------------------------

  private receive(chunk: Buffer): void {
    this.framer.push(chunk);
    // Hold at most one message's worth while busy; beyond it, stop reading until this one is handled.
    if (this.processing && this.framer.bufferedBytes > this.framer.limit + 64 * 1024) this.stream.pause();
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.processing || this.state === 'closed') return;
    this.processing = true;
    let done!: () => void;
    this.idle = new Promise((r) => (done = r));
    try {
      for (let framed = this.framer.next(); framed !== null && !this.isClosed(); framed = this.framer.next()) {
        await this.handle(framed);
        // Answer a pipelined batch (Parse/Bind/Describe/Execute/Sync) in one write.
        if (this.framer.bufferedBytes === 0 || this.out.size > 64 * 1024) await this.flush();
      }
      await this.flush();
    } catch (err) {
      this.fatal(err);
    } finally {
      this.processing = false;
      done();
      if (!this.isClosed() && this.stream.isPaused()) this.stream.resume();
    }
  }

  /** Writes what is buffered; waits while the client is slow to read (the socket's buffer is over its mark). */
  private async flush(): Promise<void> {
    if (this.out.size > 0 && this.state !== 'closed' && !this.stream.destroyed) this.stream.write(this.out.take());
    else if (this.out.size > 0) this.out.take();
    if (this.stream.writableLength > WRITE_HIGH_WATER && this.state !== 'closed') {
      await new Promise<void>((resolve) => {
        const done = () => {
          this.stream.off('drain', done);
          this.stream.off('close', done);
          resolve();
        };
        this.stream.on('drain', done);
        this.stream.on('close', done);
      });
    }
  }

  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private closed(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.authTimer) clearTimeout(this.authTimer);
    if (this.pid !== 0) this.ctx.registry.remove(this.pid);
    this.duck.cancel('user');
    // The statement running (if any) stops at the cancel; its portals and the DuckDB connection close after it.
    this.released = this.idle
      .then(() => this.closeAllPortals())
      .catch(() => undefined)
      .finally(() => this.duck.release());
  }

  /** Resolves once the DuckDB connection is closed, after the client connection ended. */
  private released: Promise<void> = Promise.resolve();

  /** The ledger database is going away: stop the statement and close the DuckDB connection (the next query reconnects). */
  async releaseDatabase(): Promise<void> {
    this.duck.cancel('user');
    await this.idle;
    await this.closeAllPortals().catch(() => undefined);
    await this.duck.release();
  }

  /** Sends a FATAL error (when the socket is still writable) and closes the connection. */
  private fatal(err: unknown): void {
    if (this.state === 'closed') return;
    const e = err instanceof SqlError ? err : err instanceof ProtocolViolation ? new SqlError(SqlState.protocolViolation, err.message) : toSqlError(err);
    writeError(this.out, { severity: 'FATAL', code: e.sqlState, message: e.message, ...(e.options.hint ? { hint: e.options.hint } : {}) });
    if (!this.stream.destroyed) this.stream.end(this.out.take());
    this.closed();
  }

  /** Server shutdown: cancel what runs, tell the client, close. */
  async terminate(): Promise<void> {
    this.cancelStatement('shutdown');
    await Promise.race([this.idle, new Promise((r) => setTimeout(r, 2000).unref())]);
    this.fatal(new SqlError(SqlState.adminShutdown, 'terminating connection due to administrator command', { fatal: true }));
    this.stream.destroy();
    this.closed();
    await this.released;
  }

  cancelStatement(reason: 'user' | 'timeout' | 'shutdown'): void {
    this.duck.cancel(reason);
  }

  // ---- dispatch ------------------------------------------------------------------------------------------

  private async handle(framed: Framed): Promise<void> {
    if (this.state === 'startup') {
      if (framed.kind === 'oversized') throw new ProtocolViolation('invalid length of startup packet');
      return this.startupPacket(framed.body);
    }
    if (this.state === 'sasl-initial' || this.state === 'sasl-final') {
      if (framed.kind === 'oversized' || framed.type !== 0x70 /* p */) throw new ProtocolViolation('expected a SASL response');
      return this.saslResponse(framed.body);
    }
    const type = String.fromCharCode(framed.type);
    if (framed.kind === 'oversized') {
      if (framed.length < 0) throw new ProtocolViolation('invalid message length');
      const err = new SqlError(
        SqlState.programLimitExceeded,
        `${type === 'Q' || type === 'P' ? 'query text' : 'message'} of ${framed.length} bytes is larger than the endpoint accepts (maxQueryBytes ${this.ctx.limits.maxQueryBytes})`,
      );
      if (type === 'Q') {
        this.sendError(err);
        this.readyForQuery();
      } else {
        this.extendedError(err);
      }
      return;
    }
    const body = new MessageReader(framed.body);
    if (this.skipUntilSync && type !== 'S') return;
    switch (type) {
      case 'Q':
        return this.simpleQuery(body.cstring());
      case 'P':
        return this.extended(() => this.parse(body));
      case 'B':
        return this.extended(() => this.bind(body));
      case 'D':
        return this.extended(() => this.describe(body));
      case 'E':
        return this.extended(() => this.execute(body));
      case 'C':
        return this.extended(() => this.close(body));
      case 'S':
        return this.sync();
      case 'H':
        return;
      case 'X':
        this.stream.end();
        this.closed();
        return;
      case 'F':
        return this.extended(async () => {
          throw new SqlError(SqlState.featureNotSupported, 'the function call protocol is not supported');
        });
      case 'd':
      case 'c':
      case 'f':
        // Copy-in data outside COPY FROM STDIN (never started here): ignored, as PostgreSQL does.
        return;
      default:
        throw new ProtocolViolation(`invalid frontend message type ${framed.type}`);
    }
  }

  // ---- startup and authentication ---------------------------------------------------------------------

  private async startupPacket(body: Buffer): Promise<void> {
    const reader = new MessageReader(body);
    const code = reader.int32();
    if (code === SSL_REQUEST_CODE) {
      if (this.ctx.tls === null || this.tlsActive) {
        this.stream.write('N');
        return;
      }
      // Bytes sent after the SSLRequest and before the handshake would be read as if encrypted (CVE-2021-23214).
      if (this.framer.bufferedBytes > 0) throw new ProtocolViolation('received unencrypted data after SSL request');
      this.stream.write('S');
      this.upgradeToTls(this.ctx.tls);
      return;
    }
    if (code === GSSENC_REQUEST_CODE) {
      this.stream.write('N');
      return;
    }
    if (code === CANCEL_REQUEST_CODE) {
      const pid = reader.int32();
      const key = reader.int32();
      this.ctx.registry.cancel(pid, key);
      this.stream.end();
      this.closed();
      return;
    }
    const major = code >> 16;
    const minor = code & 0xffff;
    if (major !== 3) {
      throw new SqlError(SqlState.featureNotSupported, `unsupported frontend protocol ${major}.${minor}: server supports 3.0`, { fatal: true });
    }
    const params = new Map<string, string>();
    for (let name = reader.cstring(); name !== ''; name = reader.cstring()) params.set(name, reader.cstring());
    if (this.ctx.tls !== null && !this.tlsActive) {
      throw new SqlError(SqlState.invalidAuthorizationSpecification, 'the genai-ledger SQL endpoint requires TLS (sslmode=require)', { fatal: true });
    }
    this.user = params.get('user') ?? '';
    if (this.user === '') throw new SqlError(SqlState.invalidAuthorizationSpecification, 'no PostgreSQL user name specified in startup packet', { fatal: true });
    const unknownOptions = [...params.keys()].filter((k) => k.startsWith('_pq_.'));
    if (minor > 0 || unknownOptions.length > 0) {
      // NegotiateProtocolVersion: we speak 3.0 and none of the protocol extensions asked for.
      this.out.begin('v').int32(0).int32(unknownOptions.length);
      for (const o of unknownOptions) this.out.cstring(o);
      this.out.end();
    }
    this.framer.typed = true;
    const pid = this.ctx.registry.admit(this, this.ctx.limits.maxConnections);
    if (pid === null) throw new SqlError(SqlState.tooManyConnections, 'sorry, too many clients already', { fatal: true });
    this.pid = pid;
    this.duck.backendPid = pid;
    this.settings = initialSettings(this.ctx.serverVersion, this.user, params.get('application_name') ?? '', this.ctx.limits.statementTimeoutMs);
    // Startup options such as `-c extra_float_digits=3` or JDBC's extra_float_digits/DateStyle parameters.
    for (const [name, value] of params) {
      if (['user', 'database', 'application_name', 'options', 'replication', 'client_encoding'].includes(name)) continue;
      this.applyStartupSetting(name, value);
    }
    if (this.ctx.secret === null) return this.authenticated();
    this.out.begin('R').int32(10).cstring(SCRAM_MECHANISM).int8(0).end();
    this.state = 'sasl-initial';
  }

  private applyStartupSetting(name: string, value: string): void {
    try {
      const result = intercept({ text: '', tokens: tokenize(`SET ${quoteIdent(name)} = ${quoteLit(value)}`) }, this.settings, this.ctx.limits, false);
      if (result?.kind === 'command' && result.changed) this.settings.set(result.changed[0], result.changed[1] || this.settings.get(result.changed[0]) || '');
    } catch {
      // A startup parameter we do not model is ignored, as PostgreSQL ignores unknown GUC placeholders.
    }
  }

  private upgradeToTls(context: SecureContext): void {
    const raw = this.stream;
    raw.off('data', this.onData);
    const tls = new TLSSocket(raw, { isServer: true, secureContext: context });
    tls.on('data', this.onData);
    tls.on('error', () => this.closed());
    tls.on('close', () => this.closed());
    this.stream = tls;
    this.tlsActive = true;
  }

  private async saslResponse(body: Buffer): Promise<void> {
    const reader = new MessageReader(body);
    try {
      if (this.state === 'sasl-initial') {
        const mechanism = reader.cstring();
        if (mechanism !== SCRAM_MECHANISM) {
          throw new SqlError(SqlState.invalidAuthorizationSpecification, `SASL mechanism ${mechanism} is not supported; use ${SCRAM_MECHANISM}`, { fatal: true });
        }
        const length = reader.int32();
        const data = length < 0 ? '' : reader.bytes(length).toString('utf8');
        this.scram = new ScramServerExchange(this.ctx.secret!);
        const serverFirst = this.scram.first(data);
        this.out.begin('R').int32(11).bytes(Buffer.from(serverFirst)).end();
        this.state = 'sasl-final';
        return;
      }
      const serverFinal = this.scram!.final(body.toString('utf8'));
      if (serverFinal === null) {
        throw new SqlError(SqlState.invalidPassword, `password authentication failed for user "${this.user}"`, { fatal: true });
      }
      this.out.begin('R').int32(12).bytes(Buffer.from(serverFinal)).end();
      this.authenticated();
    } catch (err) {
      if (err instanceof ScramError) throw new SqlError(SqlState.invalidPassword, `password authentication failed for user "${this.user}": ${err.message}`, { fatal: true });
      throw err;
    }
  }

  private authenticated(): void {
    if (this.authTimer) clearTimeout(this.authTimer);
    this.authTimer = null;
    this.out.begin('R').int32(0).end();
    for (const [key, name] of REPORTED_PARAMETERS) this.parameterStatus(name, this.settings.get(key) ?? '');
    this.out.begin('K').int32(this.pid).int32(this.secretKey).end();
    this.state = 'ready';
    this.framer.limit = this.ctx.limits.maxQueryBytes;
    this.readyForQuery();
  }

  private parameterStatus(name: string, value: string): void {
    this.out.begin('S').cstring(name).cstring(value).end();
  }

  private readyForQuery(): void {
    this.out.begin('Z').int8(this.status.charCodeAt(0)).end();
  }

  private sendError(err: unknown): void {
    const e = toSqlError(err);
    writeError(this.out, { severity: 'ERROR', code: e.sqlState, message: e.message, ...(e.options.hint ? { hint: e.options.hint } : {}) });
    if (this.status === 'T') this.status = 'E';
  }

  // ---- simple query ----------------------------------------------------------------------------------

  private async simpleQuery(sql: string): Promise<void> {
    let statements: Statement[];
    try {
      statements = splitStatements(sql);
    } catch (err) {
      this.sendError(err);
      this.readyForQuery();
      return;
    }
    if (statements.length === 0) this.out.begin('I').end();
    for (const statement of statements) {
      let entry: PreparedEntry | null = null;
      try {
        entry = await this.prepareEntry(statement, []);
        const portal: Portal = { entry, params: [], resultFormats: [], execution: null, columns: null, rows: 0, done: false, intercepted: null };
        await this.run(portal, 0, true);
        entry.duck?.prepared.destroySync();
      } catch (err) {
        entry?.duck?.prepared.destroySync();
        if (err instanceof SqlError && err.options.fatal) throw err;
        this.sendError(err);
        break;
      }
    }
    this.readyForQuery();
  }

  // ---- extended query ------------------------------------------------------------------------------

  /** Runs an extended-protocol step; an error is reported and everything up to the next Sync skipped. */
  private async extended(step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (err) {
      if (err instanceof SqlError && err.options.fatal) throw err;
      if (err instanceof ProtocolViolation) throw err;
      this.extendedError(err);
    }
  }

  private extendedError(err: unknown): void {
    this.sendError(err);
    this.skipUntilSync = true;
  }

  private async parse(body: MessageReader): Promise<void> {
    const name = body.cstring();
    const sql = body.cstring();
    const count = body.int16();
    const oids: number[] = [];
    for (let i = 0; i < count; i++) oids.push(body.int32());
    if (name !== '' && this.statements.has(name)) throw new SqlError('42P05', `prepared statement "${name}" already exists`);
    if (name !== '' && this.statements.size >= MAX_NAMED_OBJECTS) {
      throw new SqlError(SqlState.programLimitExceeded, `more than ${MAX_NAMED_OBJECTS} prepared statements on one connection; close some`);
    }
    let statements: Statement[];
    try {
      statements = splitStatements(sql);
    } catch (err) {
      throw toSqlError(err);
    }
    if (statements.length > 1) throw new SqlError(SqlState.syntaxError, 'cannot insert multiple commands into a prepared statement');
    const entry = await this.prepareEntry(statements[0] ?? null, oids);
    this.statements.set(name, entry);
    this.out.begin('1').end();
  }

  private async bind(body: MessageReader): Promise<void> {
    const portalName = body.cstring();
    const statementName = body.cstring();
    const formats = Array.from({ length: body.int16() }, () => body.int16());
    const values = Array.from({ length: body.int16() }, () => {
      const length = body.int32();
      return length < 0 ? null : body.bytes(length);
    });
    const resultFormats = Array.from({ length: body.int16() }, () => body.int16());
    const entry = this.statements.get(statementName);
    if (entry === undefined) throw new SqlError(SqlState.invalidSqlStatementName, `prepared statement "${statementName}" does not exist`);
    if (values.length !== entry.paramOids.length) {
      throw new SqlError(SqlState.protocolViolation, `bind message supplies ${values.length} parameters, but prepared statement "${statementName}" requires ${entry.paramOids.length}`);
    }
    const params = values.map((v, i) => {
      if (v === null) return null;
      const format = formats.length === 0 ? 0 : formats.length === 1 ? formats[0]! : (formats[i] ?? 0);
      return format === 1 ? binaryParameterText(entry.paramOids[i] ?? Oid.text, v) : v.toString('utf8');
    });
    if (portalName !== '' && this.portals.has(portalName)) throw new SqlError('42P03', `cursor "${portalName}" already exists`);
    if (portalName !== '' && this.portals.size >= MAX_NAMED_OBJECTS) {
      throw new SqlError(SqlState.programLimitExceeded, `more than ${MAX_NAMED_OBJECTS} portals on one connection; close some`);
    }
    await this.closePortal(portalName);
    this.portals.set(portalName, { entry, params, resultFormats, execution: null, columns: null, rows: 0, done: false, intercepted: null });
    this.out.begin('2').end();
  }

  private async describe(body: MessageReader): Promise<void> {
    const kind = String.fromCharCode(body.byte());
    const name = body.cstring();
    if (kind === 'S') {
      const entry = this.statements.get(name);
      if (entry === undefined) throw new SqlError(SqlState.invalidSqlStatementName, `prepared statement "${name}" does not exist`);
      this.out.begin('t').int16(entry.paramOids.length);
      for (const oid of entry.paramOids) this.out.int32(oid);
      this.out.end();
      this.rowDescription(this.describeEntry(entry), []);
      return;
    }
    if (kind !== 'P') throw new ProtocolViolation(`invalid Describe kind ${kind}`);
    const portal = this.portals.get(name);
    if (portal === undefined) throw new SqlError(SqlState.invalidCursorName, `portal "${name}" does not exist`);
    this.rowDescription(this.describeEntry(portal.entry), portal.resultFormats);
  }

  private async execute(body: MessageReader): Promise<void> {
    const name = body.cstring();
    const maxRows = body.int32();
    const portal = this.portals.get(name);
    if (portal === undefined) throw new SqlError(SqlState.invalidCursorName, `portal "${name}" does not exist`);
    await this.run(portal, Math.max(0, maxRows), false);
  }

  private async close(body: MessageReader): Promise<void> {
    const kind = String.fromCharCode(body.byte());
    const name = body.cstring();
    if (kind === 'S') this.statements.delete(name);
    else await this.closePortal(name);
    this.out.begin('3').end();
  }

  private async sync(): Promise<void> {
    this.skipUntilSync = false;
    // Outside a transaction block, Sync ends the implicit transaction: its portals go with it.
    if (this.status === 'I') await this.closeAllPortals();
    this.readyForQuery();
  }

  private async closePortal(name: string): Promise<void> {
    const portal = this.portals.get(name);
    if (portal === undefined) return;
    this.portals.delete(name);
    await portal.execution?.close();
  }

  private async closeAllPortals(): Promise<void> {
    for (const name of [...this.portals.keys()]) await this.closePortal(name);
  }

  // ---- statements ------------------------------------------------------------------------------------

  /** Classifies a statement: one the endpoint answers, or a DuckDB query checked and prepared. */
  private async prepareEntry(statement: Statement | null, declaredOids: readonly number[]): Promise<PreparedEntry> {
    if (statement === null) return { statement, duck: null, paramOids: [] };
    const intercepted = intercept(statement, this.settings, this.ctx.limits, this.status !== 'I');
    if (intercepted !== null) {
      // COPY runs a query: check it now, so refusals come from Parse like any other statement.
      if (intercepted.kind === 'copy') await this.prepareDuck(splitStatements(intercepted.query)[0] ?? statement, []);
      return { statement, duck: null, paramOids: declaredOids.map((o) => o || Oid.text) };
    }
    const duck = await this.prepareDuck(statement, declaredOids);
    const paramOids: number[] = [];
    for (let i = 1; i <= duck.prepared.parameterCount; i++) {
      paramOids.push(declaredOids[i - 1] || parameterOid(parameterTypeId(duck.prepared, i)));
    }
    return { statement, duck, paramOids };
  }

  /**
   * Rewrites for DuckDB, checks with the read-only guard, prepares. Parameters the client declared a type
   * for are cast to it; parameters DuckDB cannot type on its own are cast to VARCHAR, as PostgreSQL
   * resolves an unknown parameter as text.
   */
  private async prepareDuck(statement: Statement, declaredOids: readonly number[]): Promise<DuckStatement> {
    if (this.status === 'E') throw abortedTransaction();
    await this.duck.connect();
    const rewritten = rewriteForDuckDb(statement, { settings: this.settings, isTableFunction: (n) => this.duck.tableFunctions.has(n) });
    const rewrittenStatement: Statement = { text: rewritten, tokens: tokenize(rewritten) };
    const inner = explainedQuery(rewrittenStatement);
    const checkedText = inner ?? rewritten;
    if (!this.checked.has(checkedText)) {
      const firstWords = tokenize(checkedText).slice(0, 2).map((t) => t.value);
      await checkReadOnly(checkedText, firstWords, (sql) => this.duck.serialize(sql));
      if (this.checked.size > 256) this.checked.clear();
      this.checked.add(checkedText);
    }
    const casts = new Map<number, string>();
    declaredOids.forEach((oid, i) => {
      const type = duckDbTypeForOid(oid);
      if (type !== null) casts.set(i + 1, type);
    });
    let prepared = await this.duck.prepare(withParameterCasts(rewrittenStatement, casts));
    const untyped: number[] = [];
    for (let i = 1; i <= prepared.parameterCount; i++) {
      if (!casts.has(i) && parameterTypeId(prepared, i) === null) untyped.push(i);
    }
    if (untyped.length > 0) {
      for (const i of untyped) casts.set(i, 'VARCHAR');
      prepared.destroySync();
      prepared = await this.duck.prepare(withParameterCasts(rewrittenStatement, casts));
    }
    const expected = inner === null ? StatementType.SELECT : StatementType.EXPLAIN;
    if (prepared.statementType !== expected) {
      const words = tokenize(checkedText).slice(0, 2).map((t) => t.value);
      prepared.destroySync();
      throw refusedKind(words);
    }
    return { prepared, explain: inner !== null, shape: DuckDbSession.shape(prepared) };
  }

  /** The columns a statement returns, for Describe; null for NoData. */
  private describeEntry(entry: PreparedEntry): { names: string[]; types: PgColumnType[] } | null {
    if (entry.duck !== null) {
      const shape = entry.duck.shape;
      if (shape === null) return null;
      return { names: shape.names, types: shape.types.map(pgColumnType) };
    }
    if (entry.statement === null) return null;
    const intercepted = intercept(entry.statement, this.settings, this.ctx.limits, this.status !== 'I');
    if (intercepted?.kind === 'show') {
      const names = intercepted.columns ?? [intercepted.column];
      return { names, types: names.map(() => textColumnType) };
    }
    return null;
  }

  private rowDescription(columns: { names: string[]; types: PgColumnType[] } | null, formats: readonly number[]): void {
    if (columns === null) {
      this.out.begin('n').end();
      return;
    }
    const fields: FieldDescription[] = columns.names.map((name, i) => ({
      name,
      typeOid: columns.types[i]!.oid,
      typeSize: columns.types[i]!.size,
      typeModifier: columns.types[i]!.typeModifier,
      format: formatOf(formats, i),
    }));
    writeRowDescription(this.out, fields);
  }

  /**
   * Executes a portal: up to `maxRows` rows (0 = all), then PortalSuspended or CommandComplete. With
   * `describe` (simple query), the RowDescription comes first.
   */
  private async run(portal: Portal, maxRows: number, describe: boolean): Promise<void> {
    const { entry } = portal;
    if (entry.statement === null) {
      this.out.begin('I').end();
      return;
    }
    if (entry.duck === null) return this.runIntercepted(portal, describe);
    if (portal.done) {
      this.commandComplete(portal, 0);
      return;
    }
    const signal = this.duck.beginStatement();
    const timeoutMs = Number(this.settings.get('statement_timeout')) || this.ctx.limits.statementTimeoutMs;
    const timer = setTimeout(() => this.duck.cancel('timeout'), timeoutMs);
    try {
      if (portal.execution === null) {
        // One result stream per connection: another portal's open stream is closed first.
        for (const other of this.portals.values()) {
          if (other !== portal && other.execution !== null) {
            await other.execution.close();
            other.execution = null;
            other.done = true;
          }
        }
        bindParameters(entry.duck.prepared, portal.params);
        portal.execution = await this.duck.start(entry.duck.prepared, signal);
        portal.columns = portal.execution.types.map(pgColumnType);
        if (describe) this.rowDescription({ names: portal.execution.names, types: portal.columns }, portal.resultFormats);
      }
      const execution = portal.execution;
      const columns = portal.columns!;
      let sent = 0;
      for (;;) {
        const want = maxRows > 0 ? Math.min(ROWS_PER_WRITE, maxRows - sent) : ROWS_PER_WRITE;
        if (want === 0) break;
        const rows = await execution.next(want);
        if (rows.length === 0) break;
        if (portal.rows + rows.length > this.ctx.limits.maxResultRows) {
          throw new SqlError(SqlState.programLimitExceeded, `the result has more than maxResultRows (${this.ctx.limits.maxResultRows}) rows`, {
            hint: 'add a LIMIT or aggregate, or raise maxResultRows',
          });
        }
        for (const row of rows) this.dataRow(row, columns, portal.resultFormats);
        portal.rows += rows.length;
        sent += rows.length;
        await this.flush();
        this.duck.throwIfCancelled();
      }
      if (maxRows > 0 && sent === maxRows && !execution.done) {
        // There may be more: the client asks again with another Execute.
        this.out.begin('s').end();
        return;
      }
      portal.done = true;
      portal.execution = null;
      await execution.close();
      this.commandComplete(portal, portal.rows);
    } catch (err) {
      const execution = portal.execution;
      portal.execution = null;
      portal.done = true;
      await execution?.close();
      throw err instanceof SqlError ? err : this.duck.translate(err);
    } finally {
      clearTimeout(timer);
    }
  }

  private commandComplete(portal: Portal, rows: number): void {
    this.out.begin('C').cstring(portal.entry.duck?.explain ? 'EXPLAIN' : `SELECT ${rows}`).end();
  }

  private dataRow(row: readonly DuckDBValue[], columns: readonly PgColumnType[], formats: readonly number[]): void {
    this.out.begin('D').int16(row.length);
    for (let i = 0; i < row.length; i++) {
      const value = row[i];
      if (value === null || value === undefined) this.out.int32(-1);
      else if (formatOf(formats, i) === 1) this.out.binaryField(columns[i]!.binary(value));
      else this.out.textField(columns[i]!.text(value));
    }
    this.out.end();
  }

  private async runIntercepted(portal: Portal, describe: boolean): Promise<void> {
    const statement = portal.entry.statement!;
    const isEnd = /^(commit|end|rollback|abort)$/i.test(statement.tokens[0]?.value ?? '');
    if (this.status === 'E' && !isEnd) throw abortedTransaction();
    const result = portal.intercepted ?? intercept(statement, this.settings, this.ctx.limits, this.status !== 'I');
    portal.intercepted = result;
    if (result === null) throw new SqlError(SqlState.internalError, 'statement changed kind between Parse and Execute');
    switch (result.kind) {
      case 'command': {
        if (result.notice) writeError(this.out, { severity: 'WARNING', code: '25001', message: result.notice }, 'N');
        if (result.changed) {
          const [name, value] = result.changed;
          const next = value === '' ? initialSettings(this.ctx.serverVersion, this.user, '', this.ctx.limits.statementTimeoutMs).get(name) ?? '' : value;
          this.settings.set(name, next);
          const reported = REPORTED_PARAMETERS.find(([key]) => key === name);
          if (reported) this.parameterStatus(reported[1], next);
        }
        let tag = result.tag;
        if (result.transaction === 'begin') this.status = 'T';
        if (result.transaction === 'commit' || result.transaction === 'rollback') {
          if (this.status === 'E') tag = 'ROLLBACK';
          this.status = 'I';
          await this.closeAllPortals().catch(() => undefined);
        }
        this.out.begin('C').cstring(tag).end();
        return;
      }
      case 'show': {
        const names = result.columns ?? [result.column];
        if (describe) this.rowDescription({ names, types: names.map(() => textColumnType) }, []);
        for (const row of result.rows) {
          this.out.begin('D').int16(row.length);
          for (const v of row) this.out.textField(v);
          this.out.end();
        }
        this.out.begin('C').cstring('SHOW').end();
        return;
      }
      case 'copy':
        return this.copyOut(result);
    }
  }

  /** COPY (query) TO STDOUT: the rows as CopyData in text or CSV format. */
  private async copyOut(copy: Extract<Intercepted, { kind: 'copy' }>): Promise<void> {
    const statement = splitStatements(copy.query)[0];
    if (statement === undefined) throw new SqlError(SqlState.syntaxError, 'COPY needs a query');
    const duck = await this.prepareDuck(statement, []);
    const signal = this.duck.beginStatement();
    const timer = setTimeout(() => this.duck.cancel('timeout'), Number(this.settings.get('statement_timeout')) || this.ctx.limits.statementTimeoutMs);
    let execution: Execution | null = null;
    try {
      execution = await this.duck.start(duck.prepared, signal);
      const columns = execution.types.map(pgColumnType);
      this.out.begin('H').int8(0).int16(columns.length);
      for (let i = 0; i < columns.length; i++) this.out.int16(0);
      this.out.end();
      if (copy.header) this.copyData(copyRow(execution.names, copy));
      let count = 0;
      for (let rows = await execution.next(0); rows.length > 0; rows = await execution.next(0)) {
        count += rows.length;
        if (count > this.ctx.limits.maxResultRows) {
          throw new SqlError(SqlState.programLimitExceeded, `the result has more than maxResultRows (${this.ctx.limits.maxResultRows}) rows`);
        }
        for (const row of rows) this.copyData(copyRow(row.map((v, i) => (v === null || v === undefined ? null : columns[i]!.text(v))), copy));
        await this.flush();
      }
      this.out.begin('c').end();
      this.out.begin('C').cstring(`COPY ${count}`).end();
    } finally {
      clearTimeout(timer);
      await execution?.close();
      duck.prepared.destroySync();
    }
  }

  private copyData(line: string): void {
    this.out.begin('d').bytes(Buffer.from(`${line}\n`, 'utf8')).end();
  }
}

/** The type DuckDB inferred for parameter `i` (1-based), or null when it could not. */
function parameterTypeId(prepared: DuckDBPreparedStatement, i: number): number | null {
  try {
    const id = prepared.parameterTypeId(i);
    // INVALID, ANY, SQLNULL, STRING_LITERAL and INTEGER_LITERAL are "no type yet".
    return [0, 34, 36, 37, 38].includes(id) ? null : id;
  } catch {
    return null;
  }
}

/** `$n` → `CAST($n AS T)` for the parameters in `casts`. */
function withParameterCasts(statement: Statement, casts: ReadonlyMap<number, string>): string {
  if (casts.size === 0) return statement.text;
  let out = '';
  let at = 0;
  for (const t of statement.tokens) {
    if (t.kind !== 'param') continue;
    const type = casts.get(Number(t.value));
    if (type === undefined) continue;
    out += `${statement.text.slice(at, t.start)}CAST(${t.text} AS ${type})`;
    at = t.end;
  }
  return out + statement.text.slice(at);
}

/** Binds text values (NULL as NULL); DuckDB casts each to the parameter's type. */
function bindParameters(prepared: DuckDBPreparedStatement, params: readonly (string | null)[]): void {
  prepared.clearBindings();
  params.forEach((value, i) => {
    if (value === null) prepared.bindNull(i + 1);
    else prepared.bindVarchar(i + 1, value);
  });
}

function formatOf(formats: readonly number[], i: number): number {
  return formats.length === 0 ? 0 : formats.length === 1 ? formats[0]! : (formats[i] ?? 0);
}

function abortedTransaction(): SqlError {
  return new SqlError(SqlState.inFailedSqlTransaction, 'current transaction is aborted, commands ignored until end of transaction block');
}

function toSqlError(err: unknown): SqlError {
  if (err instanceof SqlError) return err;
  if (err instanceof SqlLexError) return new SqlError(SqlState.syntaxError, err.message);
  if (err instanceof ProtocolViolation) return new SqlError(SqlState.protocolViolation, err.message, { fatal: true });
  return new SqlError(SqlState.internalError, err instanceof Error ? err.message : String(err), { cause: err });
}

const quoteIdent = (s: string) => `"${s.replaceAll('"', '""')}"`;
const quoteLit = (s: string) => `'${s.replaceAll("'", "''")}'`;
