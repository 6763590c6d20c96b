#!/usr/bin/env -S node --max-semi-space-size=64
/**
 * The `genai-ledger` command. The only place in the program that prints for humans or exits the process.
 */
import { runServe } from './serve-command.js';
import { runQuery } from './query-command.js';
import { runDemo } from './demo-command.js';
import { CliUsageError } from './cli-usage-error.js';
import { runPrices } from './prices-command.js';
import { runReprice } from './reprice-command.js';
// Issue 15: reconciliation, exports, offline ingest and audit (their own folders; docs/reconciliation.md, docs/exports.md).
import { RECONCILE_USAGE, runReconcile, runReconciliationReport } from '../reconcile/cli.js';
import { EXPORT_USAGE, runExport } from '../exports/cli.js';
import { OFFLINE_USAGE, runAudit, runIngest } from '../offline/cli.js';
import { REPORT_USAGE, runReport } from '../reports/report-command.js';

const USAGE = `genai-ledger — OpenTelemetry GenAI spans in, priced and attributed rows in DuckDB out

Usage:
  genai-ledger serve [--config FILE] [--db PATH] [--host H] [--http-port N] [--grpc-port N]
                     [--metrics-port N|off] [--sql-port N|off] [--forward URL]...
                     [--teams FILE] [--services FILE] [--prices FILE]
  genai-ledger query [--db PATH] [--format table|csv|json] [--snapshot] [--sql-port N] "SQL"
  genai-ledger demo [--endpoint URL] [--calls N]
  genai-ledger prices show MODEL [--provider P] [--at DATE] [--tier T] [--prices FILE] [--config FILE]
  genai-ledger prices check [--db PATH] [--prices FILE] [--config FILE]
  genai-ledger reprice [--db PATH] --from DATE --to DATE [--dry-run] [--prices FILE] [--config FILE]
${RECONCILE_USAGE}
${EXPORT_USAGE}
${OFFLINE_USAGE}
${REPORT_USAGE}
  genai-ledger help

--db defaults to ./genai-ledger.duckdb (serve and reprice: the config file's exporters.duckdb.path).
query goes through a running server's SQL port (default 5433) when one serves that ledger; --snapshot
queries a point-in-time copy instead.

Docs: README.md, docs/configuration.md, docs/schema.md, docs/pricing.md, docs/reports.md, docs/reconciliation.md, docs/exports.md`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  // Issue 15: `report reconciliation` lives with the reconciliation code; other reports are not routed here.
  if (command === 'report' && rest[0] === 'reconciliation') return runReconciliationReport(rest.slice(1));
  switch (command) {
    case 'serve':
      return runServe(rest);
    case 'query':
      return runQuery(rest);
    case 'demo':
      return runDemo(rest);
    case 'prices':
      return runPrices(rest);
    case 'reprice':
      return runReprice(rest);
    case 'reconcile':
      return runReconcile(rest);
    case 'export':
      return runExport(rest);
    case 'ingest':
      return runIngest(rest);
    case 'audit':
      return runAudit(rest);
    case 'report':
      return runReport(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return 0;
    default:
      throw new CliUsageError(`unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof CliUsageError) {
      console.error(`genai-ledger: ${err.message}\n\n${USAGE}`);
      process.exitCode = 2;
    } else {
      console.error(`genai-ledger: ${err instanceof Error ? err.message : String(err)}`);
      process.exitCode = 1;
    }
  },
);

