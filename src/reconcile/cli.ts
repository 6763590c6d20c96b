import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;
import { formatPicoUsd } from '../../processors/pricing/decimal.js';
import { loadLedgerConfig } from '../config/ledger-config.js';
import { parseCliDate } from '../cli/cli-dates.js';
import { CliUsageError } from '../cli/cli-usage-error.js';
import { progress } from '../cli/progress.js';
import { openLedgerForReading } from '../exports/ledger-reader.js';
import { PROVIDER_FAMILIES, type ProviderFamily } from './bill-line.js';
import { fetchAdminReports, type AdminProvider } from './admin-fetch.js';
import { parseAnthropicJson } from './formats/anthropic.js';
import { parseOpenAiJson } from './formats/openai.js';
import { parseBillFile, sourceNameOf, storeBill, type ImportSummary } from './import-bill.js';
import { openLedgerForWriting } from './ledger-writer.js';
import { roundText } from './money-text.js';
import {
  buildReconciliationReport,
  formatReconciliationReport,
  REPORT_DIMENSIONS,
  REPORT_FORMATS,
  type ReportDimension,
  type ReportFormat,
} from './reconciliation-report.js';
import { replaceScopes, setThresholds } from './scopes.js';

/**
 * `genai-ledger reconcile import|fetch|scopes|thresholds` and `genai-ledger report reconciliation`
 * (docs/reconciliation.md).
 */
export const RECONCILE_USAGE = `  genai-ledger reconcile import --db PATH --provider openai|anthropic|aws|gcp|azure [--scope-tag KEY]
                               [--replace-overlap] FILE...
  genai-ledger reconcile fetch --db PATH --provider openai|anthropic --from DATE --to DATE [--base-url URL]
                               [--save DIR]          (keys from OPENAI_ADMIN_KEY / ANTHROPIC_ADMIN_KEY)
  genai-ledger reconcile scopes --db PATH FILE        (scopes.csv: provider,scope_id,team_id[,scope_type,note])
  genai-ledger reconcile thresholds --db PATH [--min-gap-usd N] [--min-gap-pct N]
  genai-ledger report reconciliation --db PATH --month YYYY-MM [--by provider|model|token_class|scope|day]
                               [--format table|csv|json|markdown] [--snapshot]`;

type Values = Record<string, string | boolean | undefined>;

/** node:util parseArgs with `--config FILE` everywhere; usage errors as CliUsageError. */
export function parse(args: string[], options: ParseArgsOptionsConfig, positionals = false): { values: Values; positionals: string[] } {
  try {
    const parsed = parseArgs({ args, strict: true, allowPositionals: positionals, options: { ...options, config: { type: 'string' } } });
    return { values: parsed.values as Values, positionals: parsed.positionals };
  } catch (err) {
    throw new CliUsageError((err as Error).message);
  }
}

export async function dbPathOf(values: Values): Promise<string> {
  if (typeof values['db'] === 'string') return values['db'];
  const config = await loadLedgerConfig(typeof values['config'] === 'string' ? values['config'] : undefined);
  return config.exporters.duckdb.path;
}

function providerOf(value: unknown, allowed: readonly string[] = PROVIDER_FAMILIES): ProviderFamily {
  if (typeof value !== 'string' || !allowed.includes(value)) throw new CliUsageError(`--provider must be one of ${allowed.join(', ')}`);
  return value as ProviderFamily;
}

export async function runReconcile(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'import':
      return runImport(rest);
    case 'fetch':
      return runFetch(rest);
    case 'scopes':
      return runScopes(rest);
    case 'thresholds':
      return runThresholds(rest);
    default:
      throw new CliUsageError(`reconcile needs import, fetch, scopes or thresholds${sub === undefined ? '' : `, got "${sub}"`}`);
  }
}

async function runImport(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    { db: { type: 'string' }, provider: { type: 'string' }, 'scope-tag': { type: 'string' }, 'replace-overlap': { type: 'boolean', default: false } },
    true,
  );
  const provider = providerOf(values['provider']);
  if (positionals.length === 0) throw new CliUsageError('reconcile import needs at least one FILE');
  const dbPath = await dbPathOf(values);
  const scopeTag = typeof values['scope-tag'] === 'string' ? values['scope-tag'] : undefined;
  const ledger = await openLedgerForWriting(dbPath, 'reconcile import');
  const bar = progress('importing', { unit: 'files' });
  let failed = 0;
  const summaries: ImportSummary[] = [];
  try {
    for (const [i, file] of positionals.entries()) {
      bar.update(i, positionals.length, file);
      try {
        const { parsed, sha256 } = await parseBillFile(provider, file, { scopeTag });
        summaries.push(
          await storeBill(ledger.connection, provider, parsed, sourceNameOf(file), sha256, { scopeTag, replaceOverlap: values['replace-overlap'] === true }),
        );
      } catch (err) {
        failed++;
        bar.finish(`genai-ledger: ${file}: ${(err as Error).message}`);
      }
    }
  } finally {
    ledger.close();
  }
  bar.finish(importTotals(summaries, failed));
  for (const s of summaries) printSummary(s);
  return failed > 0 ? 1 : 0;
}

function importTotals(summaries: readonly ImportSummary[], failed: number): string {
  const imported = summaries.filter((s) => s.status === 'imported');
  const lines = imported.reduce((n, s) => n + s.lines, 0);
  const unparsed = imported.reduce((n, s) => n + s.unparsedLines, 0);
  return (
    `reconcile import: ${imported.length} imported, ${summaries.length - imported.length} unchanged, ${failed} failed; ` +
    `${lines} lines stored, ${unparsed} of them unparsed (kept with their raw text, token class "other")`
  );
}

function printSummary(s: ImportSummary): void {
  if (s.status === 'unchanged') {
    console.log(`${s.file}: already imported (same content, sha256 ${s.sha256.slice(0, 12)}…), nothing changed`);
    return;
  }
  const range = s.firstDay === null ? 'no dated lines' : s.firstDay === s.lastDay ? s.firstDay : `${s.firstDay} … ${s.lastDay}`;
  console.log(
    `${s.file}: ${s.format}, ${s.lines} lines (${s.unparsedLines} unparsed), ${s.skippedRows} rows skipped as not GenAI, ` +
      `billed $${roundText(formatPicoUsd(s.billedPico))}, ${range}${s.replacedLines > 0 ? `, replaced ${s.replacedLines} earlier lines` : ''}`,
  );
  for (const note of s.notes) console.log(`  ${note}`);
}

async function runFetch(args: string[]): Promise<number> {
  const { values } = parse(args, {
    db: { type: 'string' },
    provider: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    'base-url': { type: 'string' },
    save: { type: 'string' },
  });
  const provider = providerOf(values['provider'], ['openai', 'anthropic']) as AdminProvider;
  if (typeof values['from'] !== 'string' || typeof values['to'] !== 'string') throw new CliUsageError('reconcile fetch needs --from DATE and --to DATE');
  const fromMs = parseCliDate('from', values['from']);
  const toMs = parseCliDate('to', values['to'], true);
  if (toMs <= fromMs) throw new CliUsageError('--to must not be before --from');
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const fromDay = day(fromMs);
  const toDay = day(Math.ceil(toMs / 86_400_000) * 86_400_000);
  const keyName = provider === 'openai' ? 'OPENAI_ADMIN_KEY' : 'ANTHROPIC_ADMIN_KEY';
  const apiKey = process.env[keyName];
  if (apiKey === undefined || apiKey === '') throw new CliUsageError(`reconcile fetch --provider ${provider} reads the admin key from ${keyName}, which is not set`);
  // Open the ledger first: a ledger held by a running server fails here, before any API quota is spent.
  const ledger = await openLedgerForWriting(await dbPathOf(values), 'reconcile fetch');
  try {
    const bar = progress(`fetching ${provider}`, { unit: 'pages' });
    let pages = 0;
    const reports = await fetchAdminReports({
      provider,
      apiKey,
      fromDay,
      toDay,
      ...(typeof values['base-url'] === 'string' ? { baseUrl: values['base-url'] } : {}),
      onEvent: (e) => {
        if (e.kind === 'page') bar.update(++pages, null, e.report);
        else console.error(`genai-ledger: ${e.report}: ${e.status ?? 'network error'}, retrying in ${(e.waitMs / 1000).toFixed(1)} s (attempt ${e.attempt})`);
      },
    });
    bar.finish(`fetched ${reports.map((r) => `${r.report} (${r.pages} pages)`).join(', ')}`);
    for (const r of reports) {
      let source = `fetch:${r.url}`;
      if (typeof values['save'] === 'string') {
        await mkdir(values['save'], { recursive: true });
        source = sourceNameOf(join(values['save'], `${r.report}-${fromDay}-${toDay}.json`));
        await writeFile(source, r.text);
      }
      const parsed = provider === 'openai' ? parseOpenAiJson(r.text) : parseAnthropicJson(r.text);
      const sha256 = createHash('sha256').update(r.text).digest('hex');
      printSummary(await storeBill(ledger.connection, provider, parsed, source, sha256));
    }
  } finally {
    ledger.close();
  }
  return 0;
}

async function runScopes(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { db: { type: 'string' } }, true);
  if (positionals.length !== 1) throw new CliUsageError('reconcile scopes takes one scopes.csv file');
  const ledger = await openLedgerForWriting(await dbPathOf(values), 'reconcile scopes');
  try {
    const n = await replaceScopes(ledger.connection, positionals[0]!);
    console.log(`reconcile scopes: ${n} provider scopes mapped to teams (replacing the previous mapping)`);
  } finally {
    ledger.close();
  }
  return 0;
}

async function runThresholds(args: string[]): Promise<number> {
  const { values } = parse(args, { db: { type: 'string' }, 'min-gap-usd': { type: 'string' }, 'min-gap-pct': { type: 'string' } });
  const ledger = await openLedgerForWriting(await dbPathOf(values), 'reconcile thresholds');
  try {
    const now = await setThresholds(ledger.connection, {
      minGapUsd: typeof values['min-gap-usd'] === 'string' ? values['min-gap-usd'] : null,
      minGapPct: typeof values['min-gap-pct'] === 'string' ? values['min-gap-pct'] : null,
    }).catch((err: unknown) => {
      throw err instanceof RangeError ? new CliUsageError(err.message) : err;
    });
    console.log(`reconciliation exceptions: gaps of at least $${now['min_gap_usd']} and ${now['min_gap_pct']}% of the billed amount`);
  } finally {
    ledger.close();
  }
  return 0;
}

/** `genai-ledger report reconciliation …` (registered under `report` in src/cli/main.ts). */
export async function runReconciliationReport(args: string[]): Promise<number> {
  const { values } = parse(args, {
    db: { type: 'string' },
    month: { type: 'string' },
    by: { type: 'string', default: 'provider' },
    format: { type: 'string', default: 'table' },
    snapshot: { type: 'boolean', default: false },
    'min-gap-usd': { type: 'string' },
    'min-gap-pct': { type: 'string' },
  });
  if (typeof values['month'] !== 'string') throw new CliUsageError('report reconciliation needs --month YYYY-MM');
  const by = values['by'] as string;
  const format = values['format'] as string;
  if (!(REPORT_DIMENSIONS as readonly string[]).includes(by)) throw new CliUsageError(`--by must be one of ${REPORT_DIMENSIONS.join(', ')}`);
  if (!(REPORT_FORMATS as readonly string[]).includes(format)) throw new CliUsageError(`--format must be one of ${REPORT_FORMATS.join(', ')}`);
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(values['month'])) throw new CliUsageError(`--month must be YYYY-MM, got "${values['month']}"`);
  const overrides = {
    ...(typeof values['min-gap-usd'] === 'string' ? { minGapUsd: values['min-gap-usd'] } : {}),
    ...(typeof values['min-gap-pct'] === 'string' ? { minGapPct: Number(values['min-gap-pct']) } : {}),
  };
  const reader = await openLedgerForReading(await dbPathOf(values), values['snapshot'] === true ? 'always' : 'auto');
  try {
    if (reader.fromSnapshot && values['snapshot'] !== true) console.error('genai-ledger: the ledger is held by a running server; reporting from a point-in-time copy');
    const report = await buildReconciliationReport(reader.connection, values['month'], by as ReportDimension, overrides);
    process.stdout.write(formatReconciliationReport(report, format as ReportFormat));
  } finally {
    await reader.close();
  }
  return 0;
}
