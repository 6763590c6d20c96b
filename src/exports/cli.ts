import { parseCliDate } from '../cli/cli-dates.js';
import { CliUsageError } from '../cli/cli-usage-error.js';
import { progress } from '../cli/progress.js';
import { dbPathOf, parse } from '../reconcile/cli.js';
import { roundText } from '../reconcile/money-text.js';
import { exportFocus } from './focus-export.js';
import { openLedgerForReading, type LedgerReader } from './ledger-reader.js';
import { exportParquet } from './parquet-export.js';

/** `genai-ledger export focus|parquet` (docs/exports.md). */
export const EXPORT_USAGE = `  genai-ledger export focus --db PATH --month YYYY-MM --out FILE.csv|FILE.parquet
                            [--billing-account-id ID] [--billing-account-name NAME] [--snapshot]
  genai-ledger export parquet --db PATH --out DIR [--from DATE --to DATE] [--instance NAME] [--snapshot]`;

export async function runExport(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'focus') return runFocus(rest);
  if (sub === 'parquet') return runParquet(rest);
  throw new CliUsageError(`export needs focus or parquet${sub === undefined ? '' : `, got "${sub}"`}`);
}

async function open(values: Record<string, string | boolean | undefined>): Promise<LedgerReader> {
  const reader = await openLedgerForReading(await dbPathOf(values), values['snapshot'] === true ? 'always' : 'auto');
  if (reader.fromSnapshot && values['snapshot'] !== true) {
    console.error('genai-ledger: the ledger is held by a running server; exporting from a point-in-time copy of it');
  }
  return reader;
}

async function runFocus(args: string[]): Promise<number> {
  const { values } = parse(args, {
    db: { type: 'string' },
    month: { type: 'string' },
    out: { type: 'string' },
    'billing-account-id': { type: 'string' },
    'billing-account-name': { type: 'string' },
    snapshot: { type: 'boolean', default: false },
  });
  const month = values['month'];
  const out = values['out'];
  if (typeof month !== 'string' || !/^\d{4}-(0[1-9]|1[0-2])$/.test(month)) throw new CliUsageError('export focus needs --month YYYY-MM');
  if (typeof out !== 'string' || !/\.(csv|parquet)$/i.test(out)) throw new CliUsageError('export focus needs --out FILE.csv or FILE.parquet');
  const reader = await open(values);
  try {
    const bar = progress('export focus');
    bar.update(0, null, month);
    const r = await exportFocus(reader.connection, {
      month,
      out,
      ...(typeof values['billing-account-id'] === 'string' ? { billingAccountId: values['billing-account-id'] } : {}),
      ...(typeof values['billing-account-name'] === 'string' ? { billingAccountName: values['billing-account-name'] } : {}),
    });
    bar.finish(
      `export focus: ${out}: ${r.rows} rows, BilledCost $${roundText(r.billedCost)} (ledger total $${roundText(r.ledgerCost)}, ${r.billedCost === r.ledgerCost ? 'equal' : 'DIFFERENT'})` +
        (r.unpricedCalls > 0 ? `; ${r.unpricedCalls} unpriced calls have no cost and are not in the file (see genai_exceptions)` : ''),
    );
    return r.billedCost === r.ledgerCost ? 0 : 1;
  } finally {
    await reader.close();
  }
}

async function runParquet(args: string[]): Promise<number> {
  const { values } = parse(args, {
    db: { type: 'string' },
    out: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    instance: { type: 'string' },
    snapshot: { type: 'boolean', default: false },
  });
  if (typeof values['out'] !== 'string') throw new CliUsageError('export parquet needs --out DIR');
  const monthOf = (flag: 'from' | 'to'): string | undefined => {
    const v = values[flag];
    if (typeof v !== 'string') return undefined;
    if (/^\d{4}-\d{2}$/.test(v)) return v;
    return new Date(parseCliDate(flag, v)).toISOString().slice(0, 7);
  };
  const reader = await open(values);
  try {
    const bar = progress('export parquet', { unit: 'months' });
    const results = await exportParquet(reader.connection, {
      outDir: values['out'],
      ...(monthOf('from') === undefined ? {} : { fromMonth: monthOf('from') }),
      ...(monthOf('to') === undefined ? {} : { toMonth: monthOf('to') }),
      ...(typeof values['instance'] === 'string' ? { instance: values['instance'] } : {}),
      onMonth: (done, total, month) => bar.update(done, total, month),
    });
    const written = results.filter((r) => r.status === 'written').length;
    const rows = results.reduce((n, r) => n + r.rows, 0);
    bar.finish(
      `export parquet: ${results.length} months, ${rows} rows; ${written} files written, ${results.filter((r) => r.status === 'unchanged').length} unchanged, ` +
        `${results.reduce((n, r) => n + r.removed.length, 0)} superseded files removed`,
    );
    for (const r of results) if (r.status === 'written') console.log(`${r.file} (${r.rows} rows)`);
    return 0;
  } finally {
    await reader.close();
  }
}
