import { access } from 'node:fs/promises';
import type { Component } from '../../core/component.js';
import type { LedgerConfig } from '../config/ledger-config.js';
import { InFlightLimiter } from '../pipeline/in-flight-limiter.js';
import type { ConsumeInfo, ConsumeResult, RefusalObserver, TraceConsumer } from '../../core/consumer.js';
import { PipelineError } from '../../core/pipeline-errors.js';
import { countSpans, type TraceRequest } from '../../core/otlp.js';
import type { TraceExporter } from '../../core/exporter.js';
import type { DuckDBConnection } from '@duckdb/node-api';
import { LedgerMetrics } from '../../exporters/prometheus/ledger-metrics.js';
import { MetricsServer } from '../../exporters/prometheus/metrics-server.js';
import { ledgerReadiness } from '../../exporters/prometheus/readiness.js';
import { OtlpExporter } from '../../exporters/otlp/otlp-exporter.js';
import { buildExporters } from './exporter-factories.js';
import { readLedgerGauges } from './ledger-gauges.js';
import { SqlEndpoint } from '../sql-endpoint/sql-endpoint.js';
import { AlertsService } from '../alerts/alerts-service.js';
import { recordMappingTables } from '../reports/record-mapping-tables.js';
import type { MappingTables } from '../../processors/attribution/mapping-tables.js';
import { LedgerPipeline } from '../pipeline/ledger-pipeline.js';
import { LedgerProcessor } from '../pipeline/ledger-processor.js';
import { OtlpHttpReceiver } from '../../receivers/otlp/http-receiver.js';
import { OtlpGrpcReceiver } from '../../receivers/otlp/grpc-receiver.js';
import { DuckDbExporter, type LedgerWriteEvent } from '../../exporters/duckdb/duckdb-exporter.js';
import { inspectLedgerFile, notDuckDbError } from '../../exporters/duckdb/ledger-file.js';
import { loadMappingTables } from '../../processors/attribution/mapping-tables.js';
import { Attributor } from '../../processors/attribution/attributor.js';
import { PriceBook } from '../../processors/pricing/price-book.js';
import { costMismatchThresholds } from '../../processors/pricing/cost-mismatch.js';
import { loadBearerTokenVerifier, type BearerTokenVerifier } from '../security/bearer-auth.js';
import { loadTlsMaterial, type TlsMaterial } from '../security/tls-files.js';
import { UserIdPolicy } from '../../processors/privacy/user-id-policy.js';
import { generatedKeyPath, loadUserIdKey } from '../../processors/privacy/user-id-key.js';

export interface Listener {
  name: 'otlp/http' | 'otlp/grpc' | 'metrics' | 'sql';
  host: string;
  port: number;
  /** Served over TLS (https:// for OTLP/HTTP). */
  tls?: boolean;
}

/** What a successful mapping reload loaded. */
export interface MappingReloadResult {
  teams: number | null;
  services: number | null;
}

/** What a successful price overrides reload loaded. */
export interface PriceReloadResult {
  /** The `unit_price_snapshot` new rows get from now on. */
  snapshot: string;
  /** Non-fatal notices about the new file (e.g. a newer minor version). */
  warnings: readonly string[];
}

export interface LedgerServerOptions {
  /** Told when ledger writes start failing, when DuckDB invalidates the file, and when writes succeed again. */
  onLedgerWriteEvent?: (event: LedgerWriteEvent) => void;
  /** Where components that log (the forwarders) write their lines; default stderr. */
  log?: (line: string) => void;
}

/** One listener that could not be bound. */
export interface ListenerBindFailure {
  listener: Listener['name'];
  /** `OTLP/HTTP`, `OTLP/gRPC` or `metrics`. */
  label: string;
  host: string;
  port: number;
  /** The errno code (`EADDRINUSE`, `EACCES`, `EADDRNOTAVAIL`, …) when known. */
  code: string | undefined;
  /** The system's message. */
  reason: string;
  /** The config keys that set the address, e.g. `receivers.otlp.http.port`. */
  portKey: string;
  hostKey: string;
}

/**
 * Startup stopped because one or more listeners could not be bound. Nothing was created: the listeners are
 * bound before the user id key is generated and before the ledger file is opened.
 */
export class ListenerBindError extends Error {
  constructor(readonly failures: readonly ListenerBindFailure[]) {
    super(
      failures
        .map((f) => `${f.label} cannot listen on ${formatHostPort(f.host, f.port)}: ${f.reason} (change ${f.portKey} or ${f.hostKey})`)
        .join('\n'),
    );
    this.name = 'ListenerBindError';
  }
}

/** `host:port`, with IPv6 literals in brackets. */
export function formatHostPort(host: string, port: number): string {
  return `${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`;
}

/** How user ids are stored, with the key's warnings and the words for the startup log. */
type UserIds = { policy: UserIdPolicy; warnings: string[]; description: string };

/** Security material loaded (and validated) before anything is bound. */
interface LoadedSecurity {
  verifier: BearerTokenVerifier | null;
  httpTls: TlsMaterial | null;
  grpcTls: TlsMaterial | null;
}

/**
 * The assembled collector: receivers → pipeline (detect, attribute, price) → DuckDB ledger.
 * `create` loads and validates every input file first, so a bad file stops startup before any port
 * is bound or the ledger is touched; `start` then binds every listener before it creates anything (the
 * user id key, the ledger file), so a port in use leaves nothing behind either.
 */
export class LedgerServer implements Component {
  private readonly receivers: (OtlpHttpReceiver | OtlpGrpcReceiver)[] = [];
  private metricsServer: MetricsServer | null = null;
  /** The live SQL endpoint (PostgreSQL wire protocol) on the ledger's database; null when disabled. */
  private readonly sql: SqlEndpoint | null;
  private sqlListening = false;
  /** Budget and anomaly alerts over the ledger (exists while the ledger is open). */
  private alerts: AlertsService | null = null;
  private ledger: DuckDbExporter | null = null;
  private started = false;
  /** /metrics: the server's own counters and the ledger's gauges (exporters.prometheus). */
  readonly metrics: LedgerMetrics;
  private tables: MappingTables;
  private processor: LedgerProcessor | undefined;
  private ledgerPipeline: LedgerPipeline | undefined;
  /** What the receivers call: refuses with 503 / UNAVAILABLE until the ledger is open. */
  private readonly gate: StartupGate;

  private constructor(
    private readonly config: LedgerConfig,
    private readonly options: LedgerServerOptions,
    private readonly limiter: InFlightLimiter,
    private attributor: Attributor,
    private priceBook: PriceBook,
    /** null until `start` on a first start: the key is generated only once the listeners are bound. */
    private userIdSetup: UserIds | null,
    private readonly security: LoadedSecurity,
    tables: MappingTables,
  ) {
    this.tables = tables;
    // Refuses a non-loopback address without a password here, before anything is bound.
    this.sql = config.sql.enabled ? new SqlEndpoint(config.sql, () => this.ledger?.database ?? null, { keyPath: 'sql' }) : null;
    this.metrics = new LedgerMetrics(config.exporters.prometheus);
    this.gate = new StartupGate(this.metrics);
    this.metrics.setSources({
      ledgerGauges: () => readLedgerGauges(() => this.openReader(), () => this.tables, config.exporters.duckdb.path),
      inFlightBytes: () => limiter.inFlight.bytes,
      readiness: this.readiness,
    });
    this.recordConfigInfo(priceBook);
  }

  /** /readyz: listeners up, ledger open and committing, not refusing load. */
  readonly readiness = ledgerReadiness(() => ({
    listenersUp: this.receivers.length > 0,
    ledgerOpen: this.ledger !== null && this.started,
    ledgerCommitting: this.ledger?.healthy ?? false,
    refusingLoad: this.metrics.refusedLoadWithin(10_000),
  }));

  /** A reader connection on the ledger's database (for /metrics gauges and other readers in this process). */
  openReader(): Promise<DuckDBConnection> {
    if (this.ledger === null) return Promise.reject(new Error('the ledger is not open'));
    return this.ledger.openReader();
  }

  private recordConfigInfo(priceBook: PriceBook): void {
    this.metrics.setConfigInfo('prices', priceBook.snapshot);
    const { teams, services } = this.tables.sources ?? { teams: null, services: null };
    if (teams !== null) this.metrics.setConfigInfo('teams', `sha256:${teams.sha256}`);
    if (services !== null) this.metrics.setConfigInfo('services', `sha256:${services.sha256}`);
  }

  /**
   * Writes the mapping tables in force into the ledger's versioned reference tables (genai_teams,
   * genai_services), so SQL and reports join owners and budgets as they were at any time. A new version only
   * when the content changed.
   */
  private async recordReferenceData(): Promise<void> {
    if (this.ledger === null) return;
    try {
      const connection = await this.openReader();
      try {
        await recordMappingTables(connection, this.tables, new Date());
      } finally {
        connection.closeSync();
      }
    } catch (err) {
      // The tables are in force for attribution either way; only their copy in the ledger is late.
      const log = this.options.log ?? ((line: string) => console.error(`genai-ledger: ${line}`));
      log(`could not record the mapping tables in the ledger (genai_teams, genai_services): ${(err as Error).message}; retried on the next reload`);
    }
  }

  /**
   * Loads and validates every input file (mapping tables, price overrides, token and TLS files, an existing
   * user id key). Creates nothing: a first start's user id key is generated in `start`, once the listeners
   * are bound.
   */
  static async create(config: LedgerConfig, options: LedgerServerOptions = {}): Promise<LedgerServer> {
    const tables = await loadMappingTables({
      teamsFile: config.attribution.teamsFile,
      servicesFile: config.attribution.servicesFile,
    });
    const priceBook = await PriceBook.load(config.pricing.overridesFile);
    let userIds: UserIds | null = null;
    if (await userIdKeyExists(config)) userIds = await userIdPolicy(config);
    // The key is generated in start(); a file that is not a ledger is refused now, before anything is bound.
    else if ((await inspectLedgerFile(config.exporters.duckdb.path)) === 'not-duckdb') throw notDuckDbError(config.exporters.duckdb.path);
    const limiter = new InFlightLimiter({
      maxBytes: config.pipeline.maxInFlightBytes,
      maxSpans: config.pipeline.maxInFlightSpans,
    });
    const { http, grpc, auth } = config.receivers.otlp;
    const security: LoadedSecurity = {
      verifier: await loadBearerTokenVerifier(auth),
      httpTls: http.enabled && http.tls ? await loadTlsMaterial(http.tls, 'receivers.otlp.http.tls') : null,
      grpcTls: grpc.enabled && grpc.tls ? await loadTlsMaterial(grpc.tls, 'receivers.otlp.grpc.tls') : null,
    };
    const server = new LedgerServer(config, options, limiter, new Attributor(tables), priceBook, userIds, security, tables);
    server.warnings.push(...(priceBook.overrides?.warnings ?? []), ...(userIds?.warnings ?? []));
    server.priceSnapshot = priceBook.snapshot;
    return server;
  }

  /** The receive core (stats, shutdown); exists once `start` has opened the ledger. */
  get pipeline(): LedgerPipeline {
    if (this.ledgerPipeline === undefined) throw new Error('the ledger server has not been started');
    return this.ledgerPipeline;
  }

  /**
   * Reloads the mapping files named in the config and swaps them in atomically. A file with errors is
   * refused with the same file/line/column message as at startup (a MappingFileError) and the tables
   * already in force stay in force.
   */
  async reloadMappings(): Promise<MappingReloadResult> {
    const tables = await loadMappingTables({
      teamsFile: this.config.attribution.teamsFile,
      servicesFile: this.config.attribution.servicesFile,
    });
    this.attributor = new Attributor(tables);
    this.tables = tables;
    this.processor?.replaceAttributor(this.attributor);
    this.recordConfigInfo(this.priceBook);
    await this.recordReferenceData();
    return { teams: tables.teams?.size ?? null, services: tables.services?.size ?? null };
  }

  /**
   * Reloads the price overrides file named in the config and swaps the whole price book in at once. A file
   * with errors is refused with the same file/line/key message as at startup (a ConfigFileError) and the
   * book already in force stays in force. Returns null when no overrides file is configured.
   */
  async reloadPrices(): Promise<PriceReloadResult | null> {
    const file = this.config.pricing.overridesFile;
    if (file === undefined) return null;
    const priceBook = await PriceBook.load(file);
    this.priceBook = priceBook;
    this.processor?.replacePriceBook(priceBook);
    this.recordConfigInfo(priceBook);
    this.priceSnapshot = priceBook.snapshot;
    return { snapshot: priceBook.snapshot, warnings: priceBook.overrides?.warnings ?? [] };
  }

  /** Non-fatal notices from loading the input files (e.g. a newer minor version of the price overrides). */
  readonly warnings: string[] = [];
  /** The `unit_price_snapshot` new rows get. */
  priceSnapshot = '';
  /** How user ids are stored, in words (for the startup log); known once `start` has run. */
  get userIds(): string {
    return this.userIdSetup?.description ?? '';
  }

  /**
   * Binds every enabled listener first; when one cannot be bound, releases the others and throws a
   * ListenerBindError naming each failure, having created nothing (no user id key, no ledger file). Then
   * generates the user id key if this is the first start, opens the ledger and starts answering. A request
   * arriving in between is answered 503 / UNAVAILABLE with Retry-After, which exporters retry.
   */
  async start(): Promise<void> {
    await this.bindListeners();
    try {
      if (this.userIdSetup === null) {
        this.userIdSetup = await userIdPolicy(this.config);
        this.warnings.push(...this.userIdSetup.warnings);
      }
      const { ancestorWindowSeconds, traceCacheMaxSpans } = this.config.attribution;
      const processor = new LedgerProcessor(this.attributor, this.priceBook, {
        costMismatch: costMismatchThresholds(this.config.pricing.costMismatch),
        userIds: this.userIdSetup.policy,
        ancestorWindowSeconds,
        traceCacheMaxSpans,
      });
      const metrics = this.metrics;
      const ledger = new DuckDbExporter(this.config.exporters.duckdb, {
        onWriteEvent: (event) => {
          // The writer is replacing its database instance: no SQL client may keep the old one open.
          if (event.kind === 'invalidated') void this.sql?.releaseDatabaseConnections();
          this.options.onLedgerWriteEvent?.(event);
        },
        onCommit: (seconds, rows) => metrics.commitSucceeded(seconds, rows),
        onCommitFailed: () => metrics.commitFailed(),
      });
      this.ledger = ledger;
      const exporters: TraceExporter[] = [ledger, ...buildExporters(this.config, { log: this.options.log })];
      for (const e of exporters) {
        if (e instanceof OtlpExporter) metrics.addForwarder(e.name, () => e.forwarder.stats);
      }
      const pipeline = new LedgerPipeline(processor, exporters, {
        source: ledger,
        windowSeconds: ancestorWindowSeconds,
        maxSpans: traceCacheMaxSpans,
      });
      // Billed rows only: duplicates are not part of the bill.
      pipeline.observe((batch) => metrics.recordRows(batch.rows));
      this.processor = processor;
      this.ledgerPipeline = pipeline;
      await pipeline.start();
      this.started = true;
      await this.recordReferenceData();
      if (this.config.alerts.enabled) {
        const log = this.options.log ?? ((line: string) => console.error(`genai-ledger: ${line}`));
        const alerts = new AlertsService(this.config.alerts, () => this.openReader(), {
          log: (level, message) => log(`alerts: ${level}: ${message}`),
        });
        await alerts.start();
        this.alerts = alerts;
        metrics.setWebhookStats(() =>
          alerts.stats.webhooks.map((w) => ({ webhook: w.id, healthy: w.healthy, delivered: w.delivered, failedAttempts: w.failedAttempts, givenUp: w.givenUp })),
        );
      }
      this.gate.open(pipeline);
    } catch (err) {
      await this.shutdown();
      throw err;
    }
  }

  private async bindListeners(): Promise<void> {
    const { http, grpc } = this.config.receivers.otlp;
    const metrics = this.metrics;
    const onRefused: RefusalObserver = (transport, reason, spans) => metrics.spansRefused(transport, reason, spans);
    const candidates = [
      http.enabled && {
        receiver: new OtlpHttpReceiver(http, this.gate, this.limiter, { verifier: this.security.verifier, tls: this.security.httpTls, onRefused }),
        name: 'otlp/http' as const,
        label: 'OTLP/HTTP',
        config: http,
      },
      grpc.enabled && {
        receiver: new OtlpGrpcReceiver(grpc, this.gate, this.limiter, { verifier: this.security.verifier, tls: this.security.grpcTls, onRefused }),
        name: 'otlp/grpc' as const,
        label: 'OTLP/gRPC',
        config: grpc,
      },
    ].filter((c) => c !== false);
    const failures: ListenerBindFailure[] = [];
    for (const { receiver, name, label, config } of candidates) {
      try {
        await receiver.start();
        this.receivers.push(receiver);
      } catch (err) {
        const key = `receivers.otlp.${name === 'otlp/http' ? 'http' : 'grpc'}`;
        failures.push({
          listener: name,
          label,
          host: config.host,
          port: config.port,
          code: errnoCode(err),
          reason: bindFailureReason(err),
          portKey: `${key}.port`,
          hostKey: `${key}.host`,
        });
      }
    }
    const prometheus = this.config.exporters.prometheus;
    if (prometheus.enabled) {
      const server = new MetricsServer(prometheus, { registry: metrics.registry, readiness: this.readiness, verifier: this.security.verifier });
      // Budget status for gateways and apps that enforce "throttle or require approval at 100%" (docs/reports.md).
      server.addRoute('/v1/budgets', async (_req, res, url) => {
        const answer =
          this.alerts === null
            ? { status: 503, body: { error: this.config.alerts.enabled ? 'the ledger is not open yet' : 'alerts are disabled (alerts.enabled: false)' } }
            : await this.alerts.budgetsHandler(url.pathname);
        const { status, body } = answer ?? { status: 404, body: { error: `no such path ${url.pathname}` } };
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      });
      try {
        await server.start();
        this.metricsServer = server;
      } catch (err) {
        failures.push({
          listener: 'metrics',
          label: 'metrics (/metrics, /healthz, /readyz)',
          host: prometheus.host,
          port: prometheus.port,
          code: errnoCode(err),
          reason: bindFailureReason(err),
          portKey: 'exporters.prometheus.port (--metrics-port)',
          hostKey: 'exporters.prometheus.host',
        });
      }
    }
    if (this.sql !== null) {
      // Listens now; the ledger's database is sealed and used from the first query on (after it is open).
      try {
        await this.sql.start();
        this.sqlListening = true;
      } catch (err) {
        const cause = err instanceof Error && err.cause !== undefined ? err.cause : err;
        if (errnoCode(cause) === undefined) {
          failures.length = 0;
          await this.shutdown();
          throw err; // a password or TLS file problem, not a port: its own message names the key
        }
        failures.push({
          listener: 'sql',
          label: 'SQL (PostgreSQL wire protocol)',
          host: this.config.sql.host,
          port: this.config.sql.port,
          code: errnoCode(cause),
          reason: bindFailureReason(cause),
          portKey: 'sql.port (--sql-port)',
          hostKey: 'sql.host',
        });
      }
    }
    if (failures.length > 0) {
      await this.shutdown();
      throw new ListenerBindError(failures);
    }
  }

  /** The real addresses bound (ports resolved when configured as 0). */
  get listeners(): Listener[] {
    const listeners: Listener[] = this.receivers.map((r) => ({
      name: r instanceof OtlpHttpReceiver ? 'otlp/http' : 'otlp/grpc',
      host: r.address.address,
      port: r.address.port,
      tls: r.tls,
    }));
    const metrics = this.metricsServer?.address ?? null;
    if (metrics !== null) listeners.push({ name: 'metrics', host: metrics.host, port: metrics.port });
    if (this.sql !== null && this.sqlListening) {
      listeners.push({ name: 'sql', host: this.sql.address.address, port: this.sql.address.port, tls: this.sql.tls });
    }
    return listeners;
  }

  /** The alerts service while the ledger is open (null when disabled or stopped). */
  get alertsService(): AlertsService | null {
    return this.alerts;
  }

  /** The metrics server, for routes other components add (e.g. `/v1/budgets`); null when disabled. */
  get operations(): MetricsServer | null {
    return this.metricsServer;
  }

  /** Stop accepting, finish and commit what was accepted, close the ledger file. */
  async shutdown(): Promise<void> {
    const receivers = this.receivers.splice(0);
    await Promise.all(receivers.map((r) => r.shutdown()));
    // SQL clients and the alerts' connection go before the ledger closes its database.
    this.sqlListening = false;
    await this.sql?.shutdown();
    const alerts = this.alerts;
    this.alerts = null;
    await alerts?.shutdown();
    try {
      if (this.started) {
        this.started = false;
        await this.pipeline.shutdown();
      }
    } finally {
      this.ledger = null;
      // Last, so /healthz and /readyz answer (not ready) while the ledger drains.
      const operations = this.metricsServer;
      this.metricsServer = null;
      await operations?.shutdown();
    }
  }
}

/**
 * The receivers' consumer: answers 503 / UNAVAILABLE (retry in 1 s) until the ledger is open, then hands every
 * request to the pipeline, which refuses the same way once it is shutting down.
 */
class StartupGate implements TraceConsumer {
  private pipeline: LedgerPipeline | null = null;

  open(pipeline: LedgerPipeline): void {
    this.pipeline = pipeline;
  }

  constructor(private readonly metrics: LedgerMetrics) {}

  consume(request: TraceRequest, info: ConsumeInfo): Promise<ConsumeResult> {
    this.metrics.spansReceived(info.transport, countSpans(request));
    if (this.pipeline === null) return Promise.reject(new PipelineError('unavailable', 'genai-ledger is starting; retry shortly', 1));
    return this.pipeline.consume(request, info);
  }
}

function errnoCode(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

function bindFailureReason(err: unknown): string {
  switch (errnoCode(err)) {
    case 'EADDRINUSE':
      return 'the port is already in use (another genai-ledger or OpenTelemetry Collector?)';
    case 'EACCES':
      return 'permission denied (ports below 1024 need privileges)';
    case 'EADDRNOTAVAIL':
      return 'the address is not one of this machine\'s';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

/** True when user ids need no key, or their key file is already there (it is loaded and checked at create). */
async function userIdKeyExists(config: LedgerConfig): Promise<boolean> {
  const { userIds, userIdKeyFile } = config.privacy;
  if (userIds !== 'pseudonymize' || userIdKeyFile !== undefined) return true;
  return access(generatedKeyPath(config.exporters.duckdb.path)).then(
    () => true,
    () => false,
  );
}

/** The `privacy.userIds` policy, with its key loaded (or generated next to the ledger) when it needs one. */
async function userIdPolicy(config: LedgerConfig): Promise<UserIds> {
  const { userIds, userIdKeyFile } = config.privacy;
  if (userIds === 'plain') return { policy: UserIdPolicy.plain(), warnings: [], description: 'stored as sent (privacy.userIds: plain)' };
  if (userIds === 'drop') return { policy: UserIdPolicy.drop(), warnings: [], description: 'not stored (privacy.userIds: drop)' };
  const ledger = config.exporters.duckdb.path;
  // Never leave a generated key beside a file that is not a ledger (the exporter refuses it anyway).
  if (userIdKeyFile === undefined && (await inspectLedgerFile(ledger)) === 'not-duckdb') throw notDuckDbError(ledger);
  const { key, warnings, file, generated } = await loadUserIdKey(userIdKeyFile, ledger);
  const description =
    `pseudonymized with the key in ${file}${generated ? ' (generated now)' : ''}: ` +
    'keep it secret and never commit it to version control; back it up with the ledger';
  return { policy: UserIdPolicy.pseudonymize(key), warnings, description };
}
