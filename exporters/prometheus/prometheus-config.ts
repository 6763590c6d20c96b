import { z } from 'zod';
import { MetricsServerConfig } from './metrics-server.js';
import { LedgerMetricsConfig } from './ledger-metrics.js';

/**
 * The whole `exporters.prometheus` config block: the operations port (enabled, host, port) and the
 * metrics' own settings (series limits, process metrics, ledger gauge timeout). Pass the parsed value to
 * both `new LedgerMetrics(config)` and `new MetricsServer(config, …)`; each reads its own keys.
 */
export const PrometheusExporterConfig = z
  .object({ ...MetricsServerConfig.shape, ...LedgerMetricsConfig.shape })
  .strict();
export type PrometheusExporterConfig = z.output<typeof PrometheusExporterConfig>;
