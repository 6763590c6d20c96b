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
import { REPORT_USAGE, runReport } from '../reports/report-command.js';

const USAGE = `genai-ledger — OpenTelemetry GenAI spans in, priced and attributed rows in DuckDB out

Usage:
  genai-ledger serve [--config FILE] [--db PATH] [--host H] [--http-port N] [--grpc-port N]
                     [--teams FILE] [--services FILE] [--prices FILE]
  genai-ledger query --db PATH [--format table|csv|json] "SQL"
  genai-ledger demo [--endpoint URL] [--calls N]
  genai-ledger prices show MODEL [--provider P] [--at DATE] [--tier T] [--prices FILE]
  genai-ledger prices check --db PATH [--prices FILE]
  genai-ledger reprice --db PATH --from DATE --to DATE [--dry-run] [--prices FILE]
${REPORT_USAGE}
  genai-ledger help

Docs: README.md, docs/configuration.md, docs/schema.md, docs/pricing.md, docs/reports.md`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
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

