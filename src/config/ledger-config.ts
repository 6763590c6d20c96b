import { dirname, isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { OtlpHttpReceiverConfig } from '../../receivers/otlp/http-receiver.js';
import { OtlpGrpcReceiverConfig } from '../../receivers/otlp/grpc-receiver.js';
import { DuckDbExporterConfig } from '../../exporters/duckdb/duckdb-exporter.js';
import { OtlpForwarderConfig } from '../../exporters/otlp/config.js';
import { PrometheusExporterConfig } from '../../exporters/prometheus/prometheus-config.js';
import { SqlEndpointConfig } from '../sql-endpoint/sql-endpoint-config.js';
import { AlertsConfig } from '../alerts/alerts-config.js';
import { loadYamlFile } from './yaml-file.js';
import { CostMismatchConfig } from '../../processors/pricing/cost-mismatch.js';
import { BearerAuthConfig } from '../security/bearer-auth.js';
import { UserIdMode } from '../../processors/privacy/user-id-policy.js';

/**
 * The whole configuration. Every key has a default, so an empty file (or none) runs the embedded
 * defaults: OTLP on 127.0.0.1:4318/4317, ledger at ./genai-ledger.duckdb, no mapping tables.
 * docs/configuration.md documents each key.
 */
export const LedgerConfig = z
  .object({
    receivers: z
      .object({
        otlp: z
          .object({
            http: OtlpHttpReceiverConfig.prefault({}),
            grpc: OtlpGrpcReceiverConfig.prefault({}),
            /** Optional bearer-token authentication for both receivers (docs/security.md). */
            auth: BearerAuthConfig.prefault({}),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    pipeline: z
      .object({
        /** Bytes of request bodies held at once across all requests; beyond it clients get 429/UNAVAILABLE. */
        maxInFlightBytes: z.number().int().positive().default(256 * 1024 * 1024),
        /** Decoded spans held at once across all requests. */
        maxInFlightSpans: z.number().int().positive().default(1_000_000),
      })
      .strict()
      .prefault({}),
    attribution: z
      .object({
        /** CSV `team_id,cost_center[,owner,monthly_budget_usd,...]` owned by FinOps. */
        teamsFile: z.string().min(1).optional(),
        /** CSV `service,team_id[,project_id]`. */
        servicesFile: z.string().min(1).optional(),
        /** Also reload the mapping files when they change on disk (SIGHUP always reloads). */
        reloadOnChange: z.boolean().default(false),
        /** How often changed mapping files are looked for, when reloadOnChange is on. */
        reloadCheckIntervalMs: z.number().int().min(50).default(2000),
        /**
         * How long the spans of a trace are remembered after its last span arrived: a parent/child pair split
         * across requests within it is counted once, and an ancestor arriving within it still gives its team
         * to calls already written (docs/instrumentation.md, "Counted once and ownership across the trace").
         */
        ancestorWindowSeconds: z.number().positive().max(86_400).default(300),
        /** Most spans the trace index holds; beyond it the least recently seen traces are forgotten first. */
        traceCacheMaxSpans: z.number().int().min(0).default(100_000),
      })
      .strict()
      .prefault({}),
    pricing: z
      .object({
        /** Price overrides file (YAML or JSON, docs/pricing.md) layered over the package list prices. */
        overridesFile: z.string().min(1).optional(),
        /** Also reload the overrides file when it changes on disk (SIGHUP always reloads). */
        reloadOnChange: z.boolean().default(false),
        /** How often a changed overrides file is looked for, when reloadOnChange is on. */
        reloadCheckIntervalMs: z.number().int().min(50).default(2000),
        /** Flag `cost_mismatch` when the instrumentation's reported cost differs from ours by more than both. */
        costMismatch: CostMismatchConfig.prefault({}),
      })
      .strict()
      .prefault({}),
    privacy: z
      .object({
        /** How user ids are stored in `user_id`: keyed hash (default), as sent, or not at all (docs/security.md). */
        userIds: UserIdMode.default('pseudonymize'),
        /** Key for the hash (≥ 32 bytes); default: generated once into `<ledger>.userid.key`. */
        userIdKeyFile: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
    /** Budget and anomaly alerts while serving, to webhooks, deduplicated in the ledger (docs/reports.md). */
    alerts: AlertsConfig.prefault({}),
    /** The live SQL endpoint: PostgreSQL wire protocol, read-only, on the ledger (docs/sql.md). */
    sql: SqlEndpointConfig.prefault({}),
    exporters: z
      .object({
        /** The ledger (always on): every other exporter is optional. */
        duckdb: DuckDbExporterConfig.prefault({}),
        /**
         * Forward every span received, GenAI ones enriched, to OTLP destinations, by name (Collector-style:
         * `exporters.otlp.tempo` is `otlp/tempo` in logs and metrics). docs/forwarding.md.
         */
        otlp: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'a name of letters, digits, "_", "." or "-"'), OtlpForwarderConfig).default({}),
        /** /metrics, /healthz, /readyz (docs/metrics.md). */
        prometheus: PrometheusExporterConfig.prefault({}),
      })
      .strict()
      .prefault({}),
  })
  .strict();
export type LedgerConfig = z.output<typeof LedgerConfig>;

/** Loads a config file; relative paths inside it are relative to the file, not the working directory. */
export async function loadLedgerConfig(file: string | undefined): Promise<LedgerConfig> {
  if (file === undefined) return LedgerConfig.parse({});
  const config = await loadYamlFile(file, LedgerConfig);
  const base = dirname(resolve(file));
  const rel = (p: string | undefined) => (p === undefined || isAbsolute(p) ? p : resolve(base, p));
  config.attribution.teamsFile = rel(config.attribution.teamsFile);
  config.attribution.servicesFile = rel(config.attribution.servicesFile);
  config.pricing.overridesFile = rel(config.pricing.overridesFile);
  config.privacy.userIdKeyFile = rel(config.privacy.userIdKeyFile);
  config.exporters.duckdb.path = rel(config.exporters.duckdb.path) ?? config.exporters.duckdb.path;
  for (const forwarder of Object.values(config.exporters.otlp)) {
    if (forwarder.tls?.caFile !== undefined) forwarder.tls.caFile = rel(forwarder.tls.caFile) ?? forwarder.tls.caFile;
    if (forwarder.queue.directory !== undefined) forwarder.queue.directory = rel(forwarder.queue.directory);
    for (const [name, value] of Object.entries(forwarder.headers)) {
      if (typeof value === 'object' && 'file' in value) forwarder.headers[name] = { file: rel(value.file) ?? value.file };
    }
  }
  config.sql.passwordFile = rel(config.sql.passwordFile);
  for (const webhook of config.alerts.webhooks) webhook.urlFile = rel(webhook.urlFile);
  if (config.sql.tls !== undefined) {
    config.sql.tls.certFile = rel(config.sql.tls.certFile) ?? config.sql.tls.certFile;
    config.sql.tls.keyFile = rel(config.sql.tls.keyFile) ?? config.sql.tls.keyFile;
  }
  const otlp = config.receivers.otlp;
  otlp.auth.tokenFile = rel(otlp.auth.tokenFile);
  for (const receiver of [otlp.http, otlp.grpc]) {
    if (receiver.tls !== undefined) {
      receiver.tls.certFile = rel(receiver.tls.certFile) ?? receiver.tls.certFile;
      receiver.tls.keyFile = rel(receiver.tls.keyFile) ?? receiver.tls.keyFile;
    }
  }
  return config;
}
