import type { Component } from '../component.js';
import type { LedgerConfig } from '../config/ledger-config.js';
import { InFlightLimiter } from '../pipeline/in-flight-limiter.js';
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
import { loadUserIdKey } from '../../processors/privacy/user-id-key.js';

export interface Listener {
  name: 'otlp/http' | 'otlp/grpc';
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
}

/** Security material loaded (and validated) before anything is bound. */
interface LoadedSecurity {
  verifier: BearerTokenVerifier | null;
  httpTls: TlsMaterial | null;
  grpcTls: TlsMaterial | null;
}

/**
 * The assembled collector: receivers → pipeline (detect, attribute, price) → DuckDB ledger.
 * `create` loads and validates every input file first, so a bad file stops startup before any port
 * is bound or the ledger is touched.
 */
export class LedgerServer implements Component {
  private readonly receivers: (OtlpHttpReceiver | OtlpGrpcReceiver)[] = [];
  private started = false;

  private constructor(
    private readonly config: LedgerConfig,
    readonly pipeline: LedgerPipeline,
    private readonly limiter: InFlightLimiter,
    private readonly processor?: LedgerProcessor,
    private readonly security: LoadedSecurity = { verifier: null, httpTls: null, grpcTls: null },
  ) {}

  static async create(config: LedgerConfig, options: LedgerServerOptions = {}): Promise<LedgerServer> {
    const tables = await loadMappingTables({
      teamsFile: config.attribution.teamsFile,
      servicesFile: config.attribution.servicesFile,
    });
    const priceBook = await PriceBook.load(config.pricing.overridesFile);
    const { policy: userIds, warnings: keyWarnings, description: userIdsDescription } = await userIdPolicy(config);
    const { ancestorWindowSeconds, traceCacheMaxSpans } = config.attribution;
    const processor = new LedgerProcessor(new Attributor(tables), priceBook, {
      costMismatch: costMismatchThresholds(config.pricing.costMismatch),
      userIds,
      ancestorWindowSeconds,
      traceCacheMaxSpans,
    });
    const exporter = new DuckDbExporter(config.exporters.duckdb, { onWriteEvent: options.onLedgerWriteEvent });
    const pipeline = new LedgerPipeline(processor, exporter, { windowSeconds: ancestorWindowSeconds, maxSpans: traceCacheMaxSpans });
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
    const server = new LedgerServer(config, pipeline, limiter, processor, security);
    server.warnings.push(...(priceBook.overrides?.warnings ?? []), ...keyWarnings);
    server.priceSnapshot = priceBook.snapshot;
    server.userIds = userIdsDescription;
    return server;
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
    this.processor?.replaceAttributor(new Attributor(tables));
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
    this.processor?.replacePriceBook(priceBook);
    this.priceSnapshot = priceBook.snapshot;
    return { snapshot: priceBook.snapshot, warnings: priceBook.overrides?.warnings ?? [] };
  }

  /** Non-fatal notices from loading the input files (e.g. a newer minor version of the price overrides). */
  readonly warnings: string[] = [];
  /** The `unit_price_snapshot` new rows get. */
  priceSnapshot = '';
  /** How user ids are stored, in words (for the startup log). */
  userIds = '';

  async start(): Promise<void> {
    await this.pipeline.start();
    this.started = true;
    const { http, grpc } = this.config.receivers.otlp;
    try {
      if (http.enabled) {
        const receiver = new OtlpHttpReceiver(http, this.pipeline, this.limiter, {
          verifier: this.security.verifier,
          tls: this.security.httpTls,
        });
        await receiver.start();
        this.receivers.push(receiver);
      }
      if (grpc.enabled) {
        const receiver = new OtlpGrpcReceiver(grpc, this.pipeline, this.limiter, {
          verifier: this.security.verifier,
          tls: this.security.grpcTls,
        });
        await receiver.start();
        this.receivers.push(receiver);
      }
    } catch (err) {
      await this.shutdown();
      throw err;
    }
  }

  /** The real addresses bound (ports resolved when configured as 0). */
  get listeners(): Listener[] {
    return this.receivers.map((r) => ({
      name: r instanceof OtlpHttpReceiver ? 'otlp/http' : 'otlp/grpc',
      host: r.address.address,
      port: r.address.port,
      tls: r.tls,
    }));
  }

  /** Stop accepting, finish and commit what was accepted, close the ledger file. */
  async shutdown(): Promise<void> {
    const receivers = this.receivers.splice(0);
    await Promise.all(receivers.map((r) => r.shutdown()));
    if (this.started) {
      this.started = false;
      await this.pipeline.shutdown();
    }
  }
}

/** The `privacy.userIds` policy, with its key loaded (or generated next to the ledger) when it needs one. */
async function userIdPolicy(config: LedgerConfig): Promise<{ policy: UserIdPolicy; warnings: string[]; description: string }> {
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
