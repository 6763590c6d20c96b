import { formatTable } from '../../exporters/duckdb/format-result.js';
import { formatPicoUsd } from '../../processors/pricing/decimal.js';
import { loadLedgerConfig, type LedgerConfig } from '../config/ledger-config.js';
import { CliUsageError } from '../cli/cli-usage-error.js';
import { progress } from '../cli/progress.js';
import { parse } from '../reconcile/cli.js';
import { roundText } from '../reconcile/money-text.js';
import { auditFile, OWNERSHIP_FIELDS, type FileAudit } from './audit.js';
import { ingestFiles } from './ingest.js';

/** `genai-ledger ingest` and `genai-ledger audit` (docs/exports.md, "Offline: ingest and audit OTLP files"). */
export const OFFLINE_USAGE = `  genai-ledger ingest --db PATH [--config FILE] [--teams FILE] [--services FILE] [--prices FILE] FILE...
  genai-ledger audit [--config FILE] [--teams FILE] [--services FILE] [--prices FILE] [--format table|json] FILE...`;

const MAPPING_FLAGS = { teams: { type: 'string' }, services: { type: 'string' }, prices: { type: 'string' } } as const;

async function configOf(values: Record<string, string | boolean | undefined>): Promise<LedgerConfig> {
  const config = await loadLedgerConfig(typeof values['config'] === 'string' ? values['config'] : undefined);
  if (typeof values['db'] === 'string') config.exporters.duckdb.path = values['db'];
  if (typeof values['teams'] === 'string') config.attribution.teamsFile = values['teams'];
  if (typeof values['services'] === 'string') config.attribution.servicesFile = values['services'];
  if (typeof values['prices'] === 'string') config.pricing.overridesFile = values['prices'];
  return config;
}

const usd = (pico: bigint) => `$${roundText(formatPicoUsd(pico))}`;

export async function runIngest(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { db: { type: 'string' }, ...MAPPING_FLAGS }, true);
  if (positionals.length === 0) throw new CliUsageError('ingest needs at least one OTLP file');
  const config = await configOf(values);
  const bar = progress('ingesting', { unit: 'files' });
  const result = await ingestFiles(config, positionals, (i, file) => bar.update(i, positionals.length, file));
  const failed = result.files.filter((f) => f.error !== null);
  bar.finish(
    `ingest: ${result.files.length} files into ${config.exporters.duckdb.path}; ${result.rowsAfter - result.rowsBefore} new ledger rows ` +
      `(${result.rowsAfter} in total)${failed.length > 0 ? `; ${failed.length} files could not be read` : ''}`,
  );
  for (const f of result.files) {
    if (f.error !== null) {
      console.log(`${f.file}: not read: ${f.error}`);
      continue;
    }
    console.log(
      `${f.file}: ${f.kind}${f.gzip ? ' (gzip)' : ''}, ${f.requests} requests, ${f.spans} spans: ${f.calls} LLM calls ${usd(f.costPicoUsd)}` +
        `${f.unpricedCalls > 0 ? ` (${f.unpricedCalls} without a cost)` : ''}, ${f.duplicates} duplicate spans counted once, ${f.rejectedSpans} spans rejected` +
        `${f.skipped > 0 ? `, ${f.skipped} lines skipped (${f.skipReasons.join('; ')})` : ''}`,
    );
  }
  return failed.length > 0 ? 1 : 0;
}

export async function runAudit(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { ...MAPPING_FLAGS, format: { type: 'string', default: 'table' } }, true);
  if (positionals.length === 0) throw new CliUsageError('audit needs at least one OTLP file');
  const format = values['format'];
  if (format !== 'table' && format !== 'json') throw new CliUsageError('--format must be table or json');
  const config = await configOf(values);
  const bar = progress('auditing', { unit: 'files' });
  const audits: FileAudit[] = [];
  for (const [i, file] of positionals.entries()) {
    bar.update(i, positionals.length, file);
    audits.push(await auditFile(config, file));
  }
  const calls = audits.reduce((n, a) => n + a.calls, 0);
  bar.finish(`audit: ${audits.length} files, ${calls} LLM calls, ${usd(audits.reduce((n, a) => n + a.costPicoUsd, 0n))}`);
  if (format === 'json') {
    process.stdout.write(`${JSON.stringify(audits.map(auditJson), null, 2)}\n`);
  } else {
    for (const a of audits) process.stdout.write(auditTable(a));
  }
  return audits.some((a) => a.error !== null) ? 1 : 0;
}

function auditJson(a: FileAudit): unknown {
  return {
    file: a.file,
    format: a.kind,
    error: a.error,
    spans: a.spans,
    llm_calls: a.calls,
    duplicate_spans: a.duplicates,
    rejected_spans: a.rejectedSpans,
    cost_usd: formatPicoUsd(a.costPicoUsd),
    fully_attributed_calls: a.attributedCalls,
    ownership_gaps: a.ownershipGaps.map((g) => ({ service: g.service, route: g.route, calls: g.calls, cost_usd: formatPicoUsd(g.costPicoUsd), missing: g.missing })),
    unpriced_calls: a.unpriced,
    calls_without_tokens: a.missingTokens,
    skipped_lines: a.skipped,
  };
}

function auditTable(a: FileAudit): string {
  if (a.error !== null) return `${a.file}: not read: ${a.error}\n\n`;
  const out: string[] = [
    `${a.file} (${a.kind}): ${a.spans} spans, ${a.calls} LLM calls, ${usd(a.costPicoUsd)}; ${a.attributedCalls} fully attributed and priced; ` +
      `${a.duplicates} duplicate spans counted once; ${a.rejectedSpans} rejected; ${a.skipped} lines skipped`,
  ];
  if (a.ownershipGaps.length > 0) {
    out.push('missing ownership (calls missing each field), by service and route:');
    out.push(
      formatTable({
        columns: ['service', 'route', 'calls', 'cost_usd', ...OWNERSHIP_FIELDS],
        rows: a.ownershipGaps.map((g) => [g.service ?? '(none)', g.route ?? '(no route)', g.calls, roundText(formatPicoUsd(g.costPicoUsd)), ...OWNERSHIP_FIELDS.map((f) => g.missing[f])]),
      }).trimEnd(),
    );
  }
  for (const [title, list] of [
    ['unpriced calls (no price for the model):', a.unpriced],
    ['calls without token counts:', a.missingTokens],
  ] as const) {
    if (list.length === 0) continue;
    out.push(title);
    out.push(formatTable({ columns: ['provider', 'model', 'service', 'calls'], rows: list.map((m) => [m.provider ?? '', m.model ?? '(none)', m.service ?? '(none)', m.calls]) }).trimEnd());
  }
  return `${out.join('\n')}\n\n`;
}
