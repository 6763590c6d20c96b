import type { Component } from '../component.js';
import type { LedgerConfig } from '../config/ledger-config.js';
import { InFlightLimiter } from '../pipeline/in-flight-limiter.js';
import { LedgerPipeline } from '../pipeline/ledger-pipeline.js';
import { LedgerProcessor } from '../pipeline/ledger-processor.js';
import { OtlpHttpReceiver } from '../../receivers/otlp/http-receiver.js';
import { OtlpGrpcReceiver } from '../../receivers/otlp/grpc-receiver.js';
import { DuckDbExporter } from '../../exporters/duckdb/duckdb-exporter.js';
import { loadMappingTables } from '../../processors/attribution/mapping-tables.js';
import { Attributor } from '../../processors/attribution/attributor.js';
import { PriceBook } from '../../processors/pricing/price-book.js';
import { costMismatchThresholds } from '../../processors/pricing/cost-mismatch.js';

export interface Listener {
  name: 'otlp/http' | 'otlp/grpc';
  host: string;
  port: number;
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
  ) {}

  static async create(config: LedgerConfig): Promise<LedgerServer> {
    const tables = await loadMappingTables({
      teamsFile: config.attribution.teamsFile,
      servicesFile: config.attribution.servicesFile,
    });
    const priceBook = await PriceBook.load(config.pricing.overridesFile);
    const processor = new LedgerProcessor(new Attributor(tables), priceBook, {
      costMismatch: costMismatchThresholds(config.pricing.costMismatch),
    });
    const exporter = new DuckDbExporter(config.exporters.duckdb);
    const pipeline = new LedgerPipeline(processor, exporter);
    const limiter = new InFlightLimiter({
      maxBytes: config.pipeline.maxInFlightBytes,
      maxSpans: config.pipeline.maxInFlightSpans,
    });
    const server = new LedgerServer(config, pipeline, limiter);
    server.warnings.push(...(priceBook.overrides?.warnings ?? []));
    server.priceSnapshot = priceBook.snapshot;
    return server;
  }

  /** Non-fatal notices from loading the input files (e.g. a newer minor version of the price overrides). */
  readonly warnings: string[] = [];
  /** The `unit_price_snapshot` new rows get. */
  priceSnapshot = '';

  async start(): Promise<void> {
    await this.pipeline.start();
    this.started = true;
    const { http, grpc } = this.config.receivers.otlp;
    try {
      if (http.enabled) {
        const receiver = new OtlpHttpReceiver(http, this.pipeline, this.limiter);
        await receiver.start();
        this.receivers.push(receiver);
      }
      if (grpc.enabled) {
        const receiver = new OtlpGrpcReceiver(grpc, this.pipeline, this.limiter);
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
