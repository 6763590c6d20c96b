import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { DuckDBInstance } from '@duckdb/node-api';
import type { Component } from '../../core/component.js';
import { loadTlsMaterial } from '../security/tls-files.js';
import { QuerySlots, SharedDatabase } from './duckdb-session.js';
import { PgSession, SessionRegistry, type SessionContext } from './pg-session.js';
import { scramSecret } from './scram.js';
import { checkExposure, loadSqlPassword, SqlEndpointConfig, type SqlEndpointConfigInput } from './sql-endpoint-config.js';

/** Reported to clients as server_version: a PostgreSQL version they accept, and who we are. */
export const SERVER_VERSION = '15.0 (genai-ledger)';
/** Sockets beyond maxConnections still allowed in (cancel requests, the polite "too many clients" answer). */
const EXTRA_SOCKETS = 16;

export interface SqlEndpointOptions {
  /** Config key of this section, for error messages. Default `sql`. */
  keyPath?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Live SQL while serving: the PostgreSQL wire protocol (v3) over the ledger, read-only, for Grafana, BI
 * tools, psql and pandas (docs/sql.md).
 *
 * It queries the DuckDB database the server already holds (`database`: the instance, or a function returning
 * the current one, since the ledger writer opens a new instance when it reopens the file). Each client gets
 * its own DuckDB connection on that instance: a query sees the rows committed when it started, while the
 * writer goes on committing (DuckDB's MVCC). On first use the instance is sealed — external access off, no
 * extension loading, configuration locked — which the writer does not need after it opened the file.
 *
 * Start it after the ledger writer has opened the database; shut it down before the writer closes it.
 */
export class SqlEndpoint implements Component {
  readonly config: SqlEndpointConfig;
  private readonly keyPath: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly database: SharedDatabase;
  private readonly registry = new SessionRegistry();
  private readonly sockets = new Set<Socket>();
  private readonly sessions = new Set<PgSession>();
  private server: Server | null = null;
  private starting: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;

  constructor(config: SqlEndpointConfigInput, database: DuckDBInstance | (() => DuckDBInstance | null), options: SqlEndpointOptions = {}) {
    this.config = SqlEndpointConfig.parse(config);
    this.keyPath = options.keyPath ?? 'sql';
    this.env = options.env ?? process.env;
    // The refuse-to-start rule is about the config alone: checked before anything else happens.
    checkExposure(this.config, this.keyPath);
    this.database = new SharedDatabase(typeof database === 'function' ? database : () => database);
  }

  /**
   * Loads the password and TLS files (errors name the key), seals the ledger database if it is open, then
   * listens. Does nothing when disabled.
   */
  start(): Promise<void> {
    if (this.stopping) return Promise.reject(new Error('the SQL endpoint was shut down; create a new one'));
    this.starting ??= this.listen();
    return this.starting;
  }

  /** The bound address (port resolved when configured as 0). */
  get address(): AddressInfo {
    const address = this.server?.address();
    if (address === null || address === undefined || typeof address === 'string') throw new Error('the SQL endpoint is not listening');
    return address;
  }

  get tls(): boolean {
    return this.config.tls !== undefined;
  }

  /** Connections admitted now. */
  get connections(): number {
    return this.registry.size;
  }

  /**
   * Closes every client's DuckDB connection (running queries fail; the next query reconnects). Call it when
   * the ledger writer is about to close or replace its DuckDB instance (e.g. on its `invalidated` event), so
   * no connection keeps the old instance and its file open.
   */
  async releaseDatabaseConnections(): Promise<void> {
    await Promise.all([...this.sessions].map((s) => s.releaseDatabase()));
  }

  /** Stops listening, ends every connection (a running query is cancelled), releases DuckDB connections. */
  shutdown(): Promise<void> {
    this.stopping ??= this.close();
    return this.stopping;
  }

  private async listen(): Promise<void> {
    if (!this.config.enabled) return;
    const password = await loadSqlPassword(this.config, this.keyPath, this.env);
    let tls: SecureContext | null = null;
    if (this.config.tls !== undefined) {
      const material = await loadTlsMaterial(this.config.tls, `${this.keyPath}.tls`);
      tls = createSecureContext({ cert: material.cert, key: material.key });
    }
    const ctx: SessionContext = {
      database: this.database,
      slots: new QuerySlots(this.config.maxConcurrentQueries),
      registry: this.registry,
      secret: password === null ? null : scramSecret(password),
      tls,
      serverVersion: SERVER_VERSION,
      limits: {
        statementTimeoutMs: this.config.statementTimeoutMs,
        maxQueryBytes: this.config.maxQueryBytes,
        maxResultRows: this.config.maxResultRows,
        maxConnections: this.config.maxConnections,
      },
    };
    await this.database.sealCurrent();
    const server = createServer((socket) => this.accept(socket, ctx));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.config.port, this.config.host, () => {
        server.off('error', reject);
        resolve();
      });
    }).catch((err: NodeJS.ErrnoException) => {
      throw new Error(`${this.keyPath}: cannot listen on ${this.config.host}:${this.config.port}: ${err.message}`, { cause: err });
    });
    this.server = server;
  }

  private accept(socket: Socket, ctx: SessionContext): void {
    if (this.stopping || this.sockets.size >= this.config.maxConnections + EXTRA_SOCKETS) {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    const session = new PgSession(socket, ctx);
    this.sessions.add(session);
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.sessions.delete(session);
    });
  }

  private async close(): Promise<void> {
    if (this.starting) await this.starting.catch(() => undefined);
    const server = this.server;
    this.server = null;
    const closed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    await Promise.all([...this.sessions].map((s) => s.terminate()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }
}
