import type { DuckDBConnection } from '@duckdb/node-api';
import { RECONCILIATION_SETTING_DEFAULTS, reconciliationDailySql, type DayRange } from '../../exporters/duckdb/schema.js';
import { formatCsv, formatTable } from '../../exporters/duckdb/format-result.js';
import { formatPicoUsd } from '../../processors/pricing/decimal.js';
import { hasTable } from '../exports/ledger-reader.js';
import { percent, picoOf, roundText } from './money-text.js';

/**
 * `genai-ledger report reconciliation`: for one month, how much of each provider's bill the ledger explains
 * and where the rest went (docs/reconciliation.md). Built on the same SQL as the view
 * `genai_reconciliation_daily` (exporters/duckdb/schema.ts), restricted to the month.
 */

export const REPORT_DIMENSIONS = ['provider', 'model', 'token_class', 'scope', 'day'] as const;
export type ReportDimension = (typeof REPORT_DIMENSIONS)[number];
export const REPORT_FORMATS = ['table', 'csv', 'json', 'markdown'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

export interface Thresholds {
  /** Exact decimal text, USD. */
  minGapUsd: string;
  /** Percent of the billed amount. */
  minGapPct: number;
}

/** One row of the report; money as exact decimal text (USD, 12 decimals). */
export interface ReportRow {
  provider: string;
  /** The group: model name, token class, day, team — empty for `--by provider`. */
  key: string;
  billedUsd: string;
  ledgerUsd: string;
  gapUsd: string;
  gapPct: string;
  /** The part of the bill the ledger accounts for: per day × model × class, the smaller of billed and ledger. */
  explainedUsd: string;
  coveragePct: string;
  billedTokens: string | null;
  ledgerTokens: string | null;
  untracedUsd: string;
  tokenDriftUsd: string;
  priceDriftUsd: string;
  unclassifiedUsd: string;
  unsplitUsd: string;
  ledgerNotBilledUsd: string;
  unpricedCalls: number;
  unparsedLines: number;
  diagnosis: string;
  /** Scope rows: the provider scopes grouped under the team. */
  scopes?: string;
}

export interface ReconciliationReport {
  month: string;
  by: ReportDimension;
  thresholds: Thresholds;
  /** One summary per provider with a bill imported for the month. */
  providers: ReportRow[];
  rows: ReportRow[];
  /** Providers with ledger calls in the month but no bill imported. */
  unbilledProviders: { provider: string; ledgerUsd: string; calls: number }[];
  /** Unparsed bill lines without a readable date (not in any month). */
  undatedUnparsedLines: number;
}

export function monthRange(month: string): DayRange {
  const m = /^(\d{4})-(\d{2})$/.exec(month);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 12) throw new RangeError(`--month must be YYYY-MM, got "${month}"`);
  const y = Number(m[1]);
  const mo = Number(m[2]);
  const next = mo === 12 ? `${y + 1}-01` : `${y}-${String(mo + 1).padStart(2, '0')}`;
  return { from: `${month}-01`, to: `${next}-01` };
}

export async function readThresholds(connection: DuckDBConnection): Promise<Thresholds> {
  const rows = (await connection.runAndReadAll('SELECT "key", "value" FROM reconciliation_settings')).getRows();
  const map = new Map(rows.map((r) => [String(r[0]), String(r[1])]));
  return {
    minGapUsd: map.get('min_gap_usd') ?? RECONCILIATION_SETTING_DEFAULTS.min_gap_usd,
    minGapPct: Number(map.get('min_gap_pct') ?? RECONCILIATION_SETTING_DEFAULTS.min_gap_pct),
  };
}

const GROUPS: Record<Exclude<ReportDimension, 'scope'>, { key: string; order: string }> = {
  provider: { key: "''", order: 'provider' },
  model: { key: "coalesce(min(billed_model), min(ledger_model), '(no model)')", order: 'provider, key' },
  token_class: { key: 'token_class', order: 'provider, key' },
  day: { key: 'CAST("day" AS VARCHAR)', order: 'provider, key' },
};

const MONEY_COLUMNS = `
    CAST(sum(billed_usd) AS VARCHAR) AS billed_usd,
    CAST(sum(ledger_usd) AS VARCHAR) AS ledger_usd,
    CAST(sum(gap_usd) AS VARCHAR) AS gap_usd,
    CAST(sum(CASE WHEN billed_usd > 0 AND ledger_usd > 0 THEN least(billed_usd, ledger_usd) ELSE 0 END) AS VARCHAR) AS explained_usd,
    CAST(sum(billed_tokens) AS VARCHAR) AS billed_tokens,
    CAST(sum(ledger_tokens) AS VARCHAR) AS ledger_tokens,
    CAST(sum(untraced_usd) AS VARCHAR) AS untraced_usd,
    CAST(sum(token_gap_usd) AS VARCHAR) AS token_gap_usd,
    CAST(sum(price_gap_usd) AS VARCHAR) AS price_gap_usd,
    CAST(sum(unclassified_usd) AS VARCHAR) AS unclassified_usd,
    CAST(sum(unsplit_usd) AS VARCHAR) AS unsplit_usd,
    CAST(sum(ledger_only_usd) AS VARCHAR) AS ledger_only_usd,
    CAST(sum(unpriced_calls) AS INTEGER) AS unpriced_calls,
    CAST(sum(unparsed_lines) AS INTEGER) AS unparsed_lines`;

export async function buildReconciliationReport(
  connection: DuckDBConnection,
  month: string,
  by: ReportDimension,
  overrides: Partial<Thresholds> = {},
): Promise<ReconciliationReport> {
  const range = monthRange(month);
  if (!(await hasTable(connection, 'provider_costs'))) {
    throw new Error('this ledger has no bills imported yet (no provider_costs table): run `genai-ledger reconcile import` first');
  }
  const thresholds = { ...(await readThresholds(connection)), ...overrides };
  const billedProviders = `SELECT DISTINCT provider FROM provider_costs WHERE "day" >= DATE '${range.from}' AND "day" < DATE '${range.to}'`;
  const daily = `WITH daily AS (${reconciliationDailySql(range)})`;
  const select = async (key: string, order: string): Promise<ReportRow[]> => {
    const result = await connection.runAndReadAll(`${daily}
      SELECT provider, ${key} AS key, ${MONEY_COLUMNS}
      FROM daily WHERE provider IN (${billedProviders})
      GROUP BY provider${key === "''" ? '' : `, ${key.startsWith('coalesce') ? 'model_key' : key}`}
      ORDER BY ${order}`);
    return result.getRowObjectsJS().map((r) => toRow(r, thresholds));
  };
  const providers = await select("''", 'provider');
  const rows = by === 'scope' ? await scopeRows(connection, range, thresholds) : by === 'provider' ? providers : await select(GROUPS[by].key, GROUPS[by].order);
  const unbilled = await connection.runAndReadAll(`
    SELECT genai_provider_family(provider) AS provider, CAST(sum(request_cost_usd) AS VARCHAR) AS ledger_usd, CAST(count(*) AS INTEGER) AS calls
    FROM genai_calls
    WHERE "timestamp" >= TIMESTAMPTZ '${range.from} 00:00:00+00' AND "timestamp" < TIMESTAMPTZ '${range.to} 00:00:00+00'
      AND genai_provider_family(provider) NOT IN (${billedProviders})
    GROUP BY ALL ORDER BY 1`);
  const undated = await connection.runAndReadAll(`SELECT CAST(count(*) AS INTEGER) FROM provider_costs WHERE "day" IS NULL`);
  return {
    month,
    by,
    thresholds,
    providers,
    rows,
    unbilledProviders: unbilled.getRowObjectsJS().map((r) => ({
      provider: String(r['provider']),
      ledgerUsd: r['ledger_usd'] === null ? '0' : String(r['ledger_usd']),
      calls: Number(r['calls']),
    })),
    undatedUnparsedLines: Number(undated.getRows()[0]?.[0] ?? 0),
  };
}

type Obj = Record<string, unknown>;
const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));

/** The gap components, with the name of the diagnosis each one is. */
const COMPONENTS = [
  ['untracedUsd', 'untraced usage'],
  ['tokenDriftUsd', 'token drift'],
  ['priceDriftUsd', 'price drift'],
  ['unclassifiedUsd', 'unclassified bill lines'],
  ['unsplitUsd', 'gap without billed token counts'],
  ['ledgerNotBilledUsd', 'in ledger, not on bill'],
] as const;

function toRow(r: Obj, t: Thresholds): ReportRow {
  const billed = picoOf(str(r['billed_usd']));
  const ledger = picoOf(str(r['ledger_usd']));
  const explained = picoOf(str(r['explained_usd']));
  const row: ReportRow = {
    provider: String(r['provider']),
    key: String(r['key'] ?? ''),
    billedUsd: formatPicoUsd(billed),
    ledgerUsd: formatPicoUsd(ledger),
    gapUsd: formatPicoUsd(billed - ledger),
    gapPct: percent(billed - ledger, billed),
    explainedUsd: formatPicoUsd(explained),
    coveragePct: percent(explained, billed),
    billedTokens: tokens(str(r['billed_tokens'])),
    ledgerTokens: tokens(str(r['ledger_tokens'])),
    untracedUsd: formatPicoUsd(picoOf(str(r['untraced_usd']))),
    tokenDriftUsd: formatPicoUsd(picoOf(str(r['token_gap_usd']))),
    priceDriftUsd: formatPicoUsd(picoOf(str(r['price_gap_usd']))),
    unclassifiedUsd: formatPicoUsd(picoOf(str(r['unclassified_usd']))),
    unsplitUsd: formatPicoUsd(picoOf(str(r['unsplit_usd']))),
    ledgerNotBilledUsd: formatPicoUsd(picoOf(str(r['ledger_only_usd']))),
    unpricedCalls: Number(r['unpriced_calls'] ?? 0),
    unparsedLines: Number(r['unparsed_lines'] ?? 0),
    diagnosis: '',
  };
  row.diagnosis = diagnose(row, t);
  return row;
}

/** Above-threshold components, largest first (`ok` when none); unpriced calls and unparsed lines noted. */
export function diagnose(row: ReportRow, t: Thresholds): string {
  const billed = picoOf(row.billedUsd);
  const min = picoOf(t.minGapUsd);
  const significant = (amount: bigint) => {
    const abs = amount < 0n ? -amount : amount;
    const absBilled = billed < 0n ? -billed : billed;
    return abs !== 0n && abs >= min && (absBilled === 0n || abs * 10000n >= absBilled * BigInt(Math.round(t.minGapPct * 100)));
  };
  const parts = COMPONENTS.map(([field, name]) => ({ name, amount: picoOf(row[field]) * (field === 'ledgerNotBilledUsd' ? -1n : 1n) }))
    .filter((c) => significant(c.amount))
    .sort((a, b) => (abs(b.amount) > abs(a.amount) ? 1 : abs(b.amount) < abs(a.amount) ? -1 : 0))
    .map((c) => `${c.name} ${signed(c.amount)}`);
  if (row.unpricedCalls > 0) parts.push(plural(row.unpricedCalls, 'unpriced ledger call'));
  if (row.unparsedLines > 0) parts.push(plural(row.unparsedLines, 'unparsed bill line'));
  return parts.length === 0 ? 'ok' : parts.join('; ');
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
/** DuckDB's DECIMAL text of a token count without its zero decimals: `28000000.000000` → `28000000`. */
const tokens = (v: string | null) => (v === null ? null : v.replace(/\.0+$/, '').replace(/(\.\d*?)0+$/, '$1'));
const abs = (v: bigint) => (v < 0n ? -v : v);
const signed = (pico: bigint) => `${pico < 0n ? '-' : '+'}$${roundText(formatPicoUsd(abs(pico)))}`;

async function scopeRows(connection: DuckDBConnection, range: DayRange, t: Thresholds): Promise<ReportRow[]> {
  const result = await connection.runAndReadAll(`
    WITH lines AS (
      SELECT pc.*, coalesce(s.team_id, '(unmapped scope)') AS team
      FROM provider_costs pc
      LEFT JOIN provider_scopes s ON s.provider = pc.provider AND lower(s.scope_id) = lower(pc.scope_id)
      WHERE pc."day" >= DATE '${range.from}' AND pc."day" < DATE '${range.to}'
    ),
    billed AS (
      SELECT provider, team,
        string_agg(DISTINCT coalesce(scope_type || ':', '') || coalesce(scope_id, '(none)'), ', ' ORDER BY coalesce(scope_type || ':', '') || coalesce(scope_id, '(none)')) AS scopes,
        sum(billed_usd) FILTER (WHERE record_kind = 'cost') AS billed_usd,
        coalesce(sum(quantity) FILTER (WHERE record_kind = 'usage' AND quantity_unit = 'tokens' AND token_class <> 'other'),
                 sum(quantity) FILTER (WHERE record_kind = 'cost' AND quantity_unit = 'tokens' AND token_class <> 'other')) AS billed_tokens,
        count(*) FILTER (WHERE parse_status = 'unparsed') AS unparsed_lines
      FROM lines GROUP BY ALL
    ),
    ledger AS (
      SELECT genai_provider_family(provider) AS provider, coalesce(team_id, '(no team)') AS team,
        sum(request_cost_usd) AS ledger_usd,
        sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0)) AS ledger_tokens,
        count(*) FILTER (WHERE request_cost_usd IS NULL) AS unpriced_calls
      FROM genai_calls
      WHERE "timestamp" >= TIMESTAMPTZ '${range.from} 00:00:00+00' AND "timestamp" < TIMESTAMPTZ '${range.to} 00:00:00+00'
        AND genai_provider_family(provider) IN (SELECT DISTINCT provider FROM lines)
      GROUP BY ALL
    )
    SELECT coalesce(b.provider, l.provider) AS provider, coalesce(b.team, l.team) AS key, b.scopes,
      CAST(coalesce(b.billed_usd, 0) AS VARCHAR) AS billed_usd, CAST(coalesce(l.ledger_usd, 0) AS VARCHAR) AS ledger_usd,
      CAST(b.billed_tokens AS VARCHAR) AS billed_tokens, CAST(l.ledger_tokens AS VARCHAR) AS ledger_tokens,
      CAST(coalesce(l.unpriced_calls, 0) AS INTEGER) AS unpriced_calls, CAST(coalesce(b.unparsed_lines, 0) AS INTEGER) AS unparsed_lines
    FROM billed b FULL OUTER JOIN ledger l ON b.provider = l.provider AND b.team = l.team
    ORDER BY 1, 2`);
  return result.getRowObjectsJS().map((r) => {
    const billed = picoOf(str(r['billed_usd']));
    const ledger = picoOf(str(r['ledger_usd']));
    const team = String(r['key']);
    const zero = formatPicoUsd(0n);
    const row: ReportRow = {
      provider: String(r['provider']),
      key: team,
      scopes: str(r['scopes']) ?? '',
      billedUsd: formatPicoUsd(billed),
      ledgerUsd: formatPicoUsd(ledger),
      gapUsd: formatPicoUsd(billed - ledger),
      gapPct: percent(billed - ledger, billed),
      explainedUsd: formatPicoUsd(billed > 0n && ledger > 0n ? (billed < ledger ? billed : ledger) : 0n),
      coveragePct: percent(billed > 0n && ledger > 0n ? (billed < ledger ? billed : ledger) : 0n, billed),
      billedTokens: tokens(str(r['billed_tokens'])),
      ledgerTokens: tokens(str(r['ledger_tokens'])),
      untracedUsd: ledger === 0n ? formatPicoUsd(billed) : zero,
      tokenDriftUsd: zero,
      priceDriftUsd: zero,
      unclassifiedUsd: zero,
      unsplitUsd: ledger !== 0n && billed !== 0n ? formatPicoUsd(billed - ledger) : zero,
      ledgerNotBilledUsd: billed === 0n ? formatPicoUsd(ledger) : zero,
      unpricedCalls: Number(r['unpriced_calls'] ?? 0),
      unparsedLines: Number(r['unparsed_lines'] ?? 0),
      diagnosis: '',
    };
    row.diagnosis =
      team === '(unmapped scope)'
        ? 'unmapped scope: add these scopes to scopes.csv (reconcile scopes)'
        : team === '(no team)'
          ? 'ledger calls without a team (see genai_exceptions)'
          : diagnose(row, t).replace('gap without billed token counts', 'gap');
    return row;
  });
}

// ---- output -----------------------------------------------------------------------------------------

const HEADINGS: Record<ReportDimension, string> = { provider: '', model: 'model', token_class: 'token_class', scope: 'team', day: 'day' };

/** Renders the report: table and markdown round money to cents for reading; csv and json keep it exact. */
export function formatReconciliationReport(report: ReconciliationReport, format: ReportFormat): string {
  if (format === 'json') {
    return `${JSON.stringify(
      {
        month: report.month,
        by: report.by,
        thresholds: report.thresholds,
        providers: report.providers,
        rows: report.rows,
        unbilled_providers: report.unbilledProviders,
        undated_unparsed_lines: report.undatedUnparsedLines,
      },
      null,
      2,
    )}\n`;
  }
  const exact = format === 'csv';
  const money = (v: string) => (exact ? v : roundText(v));
  const heading = HEADINGS[report.by];
  const columns = [
    'provider',
    ...(heading === '' ? [] : [heading]),
    ...(report.by === 'scope' ? ['scopes'] : []),
    'billed_usd',
    'ledger_usd',
    'gap_usd',
    'gap_pct',
    'coverage_pct',
    'billed_tokens',
    'ledger_tokens',
    'diagnosis',
  ];
  const body = report.rows.map((r) => [
    r.provider,
    ...(heading === '' ? [] : [r.key]),
    ...(report.by === 'scope' ? [r.scopes ?? ''] : []),
    money(r.billedUsd),
    money(r.ledgerUsd),
    money(r.gapUsd),
    r.gapPct,
    r.coveragePct,
    r.billedTokens ?? '',
    r.ledgerTokens ?? '',
    r.diagnosis,
  ]);
  if (format === 'csv') return formatCsv({ columns, rows: body });
  const summary = summaryLines(report);
  if (format === 'markdown') {
    const esc = (s: unknown) => String(s).replaceAll('|', '\\|');
    return [
      `# GenAI bill reconciliation, ${report.month}`,
      '',
      ...summary.map((l) => `- ${l}`),
      '',
      `| ${columns.join(' | ')} |`,
      `|${columns.map((c) => (/usd|pct|tokens/.test(c) ? ' ---: ' : ' --- ')).join('|')}|`,
      ...body.map((r) => `| ${r.map(esc).join(' | ')} |`),
      '',
    ].join('\n');
  }
  return `${summary.join('\n')}\n\n${formatTable({ columns, rows: body })}`;
}

/** One sentence per provider: how much of the bill the ledger explains and where the rest went. */
export function summaryLines(report: ReconciliationReport): string[] {
  const lines = report.providers.map((p) => {
    const rest = COMPONENTS.map(([field, name]) => [name, picoOf(p[field])] as const)
      .filter(([, v]) => v !== 0n)
      .map(([name, v]) => `${name} $${roundText(formatPicoUsd(v))}`);
    return (
      `${p.provider}: billed $${roundText(p.billedUsd)}, ledger $${roundText(p.ledgerUsd)}; the ledger explains $${roundText(p.explainedUsd)} (${p.coveragePct || '0.0'}%) of the bill` +
      (rest.length > 0 ? `; the rest: ${rest.join(', ')}` : '') +
      (p.unparsedLines > 0 ? `; ${plural(p.unparsedLines, 'unparsed bill line')}` : '') +
      (p.unpricedCalls > 0 ? `; ${plural(p.unpricedCalls, 'unpriced ledger call')}` : '')
    );
  });
  for (const u of report.unbilledProviders) {
    lines.push(`${u.provider}: no bill imported for ${report.month}; the ledger has ${u.calls} calls, $${roundText(u.ledgerUsd)}`);
  }
  if (report.undatedUnparsedLines > 0) lines.push(`${report.undatedUnparsedLines} unparsed bill lines have no readable date (see provider_costs)`);
  lines.push(`exceptions above $${report.thresholds.minGapUsd} and ${report.thresholds.minGapPct}%: genai_reconciliation_exceptions`);
  return lines;
}
