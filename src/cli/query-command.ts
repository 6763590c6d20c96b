import { parseArgs } from 'node:util';
import { runReadOnlyQuery } from '../../exporters/duckdb/read-only-query.js';
import { formatCsv, formatJson, formatTable } from '../../exporters/duckdb/format-result.js';
import { CliUsageError } from './cli-usage-error.js';

const FORMATTERS = { table: formatTable, csv: formatCsv, json: formatJson } as const;

/** `genai-ledger query --db PATH [--format table|csv|json] "SQL"`: read-only SQL on a ledger file. */
export async function runQuery(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: { db: { type: 'string', default: './genai-ledger.duckdb' }, format: { type: 'string', default: 'table' } },
    });
  } catch (err) {
    throw new CliUsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  const format = values.format;
  if (!(format in FORMATTERS)) throw new CliUsageError(`--format must be table, csv or json, got "${format}"`);
  if (positionals.length !== 1) throw new CliUsageError('query takes exactly one SQL string (quote it)');
  const result = await runReadOnlyQuery(values.db, positionals[0]!);
  process.stdout.write(FORMATTERS[format as keyof typeof FORMATTERS](result));
  return 0;
}
