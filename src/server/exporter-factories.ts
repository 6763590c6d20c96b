import type { TraceExporter } from '../../core/exporter.js';
import type { LedgerConfig } from '../config/ledger-config.js';
import { OtlpExporter } from '../../exporters/otlp/otlp-exporter.js';

export interface ExporterContext {
  log?: (line: string) => void;
}

/**
 * The optional exporters, built from their config sections: each factory reads its own section and returns
 * its instances (none when the section is empty). Adding an exporter means its folder, its config key in
 * ledger-config.ts, and one line here. The DuckDB ledger is not among them: it is always on and the server
 * also reads from it.
 */
const FACTORIES: readonly ((config: LedgerConfig, context: ExporterContext) => TraceExporter[])[] = [
  (config, { log }) =>
    Object.entries(config.exporters.otlp).map(
      ([name, forwarder]) => new OtlpExporter(`otlp/${name}`, forwarder, { configKey: `exporters.otlp.${name}`, ...(log ? { log } : {}) }),
    ),
];

export function buildExporters(config: LedgerConfig, context: ExporterContext = {}): TraceExporter[] {
  return FACTORIES.flatMap((factory) => factory(config, context));
}
