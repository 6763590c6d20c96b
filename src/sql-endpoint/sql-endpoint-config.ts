import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { z } from 'zod';
import { TlsConfig } from '../security/tls-files.js';

/**
 * The live SQL endpoint (docs/sql.md): PostgreSQL wire protocol, read-only, on the ledger the server writes.
 * A password is never in the config itself: it comes from a file or an environment variable.
 */
export const SqlEndpointConfig = z
  .object({
    /** Serve the endpoint (it also needs the server's ledger database). */
    enabled: z.boolean().default(true),
    /** Address to bind. Anything but a loopback address needs a password (passwordFile or passwordEnv). */
    host: z.string().min(1).default('127.0.0.1'),
    /** TCP port; 0 picks a free one. 5433, beside a PostgreSQL server's 5432. */
    port: z.number().int().min(0).max(65535).default(5433),
    /** File holding the password (its first line). Clients then authenticate with SCRAM-SHA-256; any user name. */
    passwordFile: z.string().min(1).optional(),
    /** Name of an environment variable holding the password, e.g. GENAI_LEDGER_SQL_PASSWORD. */
    passwordEnv: z.string().min(1).optional(),
    /** TLS (PEM files). With TLS on, plaintext clients are refused (sslmode=require or stronger). */
    tls: TlsConfig.optional(),
    /** A statement running longer is cancelled (SQLSTATE 57014). A client's SET statement_timeout can only lower it. */
    statementTimeoutMs: z.number().int().positive().default(30_000),
    /** Client connections at once; one more is refused with SQLSTATE 53300. */
    maxConnections: z.number().int().positive().max(10_000).default(16),
    /**
     * Queries computing at once; more wait (their wait counts toward the timeout). DuckDB runs a query on one
     * of Node's libuv pool threads (4 by default, UV_THREADPOOL_SIZE), which ledger commits, file reads and
     * gzip also use: keeping queries to 2 leaves threads for ingestion.
     */
    maxConcurrentQueries: z.number().int().positive().max(64).default(2),
    /** Largest query text (any client message) accepted; a larger one is refused without being held in memory. */
    maxQueryBytes: z.number().int().min(1024).max(1024 * 1024 * 1024).default(1024 * 1024),
    /** Most rows one statement may return; past it the statement fails with SQLSTATE 54000. */
    maxResultRows: z.number().int().positive().default(1_000_000),
  })
  .strict();
export type SqlEndpointConfig = z.output<typeof SqlEndpointConfig>;
export type SqlEndpointConfigInput = z.input<typeof SqlEndpointConfig>;

/** True for 127.0.0.0/8, ::1 (also IPv4-mapped) and `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h === 'localhost.') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./.test(h) || /^0*:0*:0*:0*:0*:0*:0*:0*1$/.test(h);
  return false;
}

/**
 * The refuse-to-start rule: on an address other clients can reach, the endpoint needs a password.
 * `keyPath` names the config section in messages (e.g. `sql`).
 */
export function checkExposure(config: SqlEndpointConfig, keyPath: string): void {
  if (!config.enabled || isLoopbackHost(config.host)) return;
  if (config.passwordFile === undefined && config.passwordEnv === undefined) {
    throw new Error(
      `${keyPath}.host is ${config.host}, which other machines can reach, but no password is configured: ` +
        `set ${keyPath}.passwordFile or ${keyPath}.passwordEnv (and ${keyPath}.tls), or bind ${keyPath}.host to 127.0.0.1`,
    );
  }
}

/** Shortest password accepted. */
export const MIN_PASSWORD_LENGTH = 12;

/** Reads the configured password; null when none is configured. Errors name the key, file or variable. */
export async function loadSqlPassword(config: SqlEndpointConfig, keyPath: string, env: NodeJS.ProcessEnv = process.env): Promise<string | null> {
  if (config.passwordFile === undefined && config.passwordEnv === undefined) return null;
  if (config.passwordFile !== undefined && config.passwordEnv !== undefined) {
    throw new Error(`${keyPath}: set passwordFile or passwordEnv, not both`);
  }
  let password: string;
  let where: string;
  if (config.passwordFile !== undefined) {
    where = `${keyPath}.passwordFile (${config.passwordFile})`;
    try {
      password = (await readFile(config.passwordFile, 'utf8')).split(/\r?\n/)[0] ?? '';
    } catch (err) {
      throw new Error(`${keyPath}.passwordFile: cannot read ${config.passwordFile}: ${(err as Error).message}`);
    }
  } else {
    where = `${keyPath}.passwordEnv (${config.passwordEnv})`;
    const value = env[config.passwordEnv!];
    if (value === undefined || value === '') throw new Error(`${keyPath}.passwordEnv: environment variable ${config.passwordEnv} is not set`);
    password = value;
  }
  if (password !== password.trim()) throw new Error(`${where}: the password must not start or end with spaces`);
  if (password.length < MIN_PASSWORD_LENGTH) throw new Error(`${where}: the password is shorter than ${MIN_PASSWORD_LENGTH} characters`);
  return password;
}
