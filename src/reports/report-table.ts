import { formatPicoUsd } from '../../processors/pricing/decimal.js';

/**
 * What every report produces: titled sections of typed columns, an optional totals line per section, and
 * notes. Money is bigint pico-USD until it is printed: `json` and `csv` print it exactly (12 decimals), `table`
 * and `markdown` round to the cent for people (half away from zero, each cell on its own).
 */
export type CellKind =
  /** text; null prints empty */
  | 'text'
  /** bigint pico-USD */
  | 'usd'
  /** bigint pico-USD per unit (cost per call, daily rates): printed with 6 decimals for people */
  | 'unit_usd'
  /** bigint or number count */
  | 'count'
  /** number, printed as a percentage (0.25 → 25.0%) */
  | 'ratio'
  /** number, printed as a factor (10 → 10.0×) */
  | 'factor'
  /** number, printed with up to 2 decimals */
  | 'number'
  /** text yyyy-mm-dd */
  | 'date'
  /** text, ISO-8601 UTC */
  | 'timestamp'
  /** string[] */
  | 'list';

export type Cell = string | number | bigint | null | readonly string[];

export interface ReportColumn {
  key: string;
  kind: CellKind;
}

export interface ReportSection {
  name: string;
  title: string;
  columns: ReportColumn[];
  rows: Cell[][];
  /** The totals line (its first text column reads `TOTAL`), or null. */
  totals: Cell[] | null;
}

export interface Report {
  /** chargeback | variance | exceptions | budgets | anomalies | savings */
  kind: string;
  title: string;
  /** Report parameters as printed (period, grouping, as-of, ...). */
  parameters: Record<string, string>;
  sections: ReportSection[];
  /** Definitions and caveats, printed under the tables. */
  notes: string[];
}

export const REPORT_FORMATS = ['table', 'csv', 'json', 'markdown'] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** Pico-USD rounded to cents (half away from zero), with thousands separators: `-1,234.57`. */
export function formatUsdCents(pico: bigint): string {
  const negative = pico < 0n;
  const abs = negative ? -pico : pico;
  const cents = (abs + 5_000_000_000n) / 10_000_000_000n;
  const whole = (cents / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const frac = (cents % 100n).toString().padStart(2, '0');
  return `${negative && cents !== 0n ? '-' : ''}${whole}.${frac}`;
}

/** Pico-USD rounded to micro-dollars (half away from zero): `0.005555`. */
export function formatUsdMicros(pico: bigint): string {
  const negative = pico < 0n;
  const abs = negative ? -pico : pico;
  const micros = (abs + 500_000n) / 1_000_000n;
  const whole = (micros / 1_000_000n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${negative && micros !== 0n ? '-' : ''}${whole}.${(micros % 1_000_000n).toString().padStart(6, '0')}`;
}

/** `+$1,234.00` / `-$5.00` / `$0.00`, for sentences. */
export function formatSignedUsd(pico: bigint): string {
  const text = formatUsdCents(pico);
  if (text.startsWith('-')) return `-$${text.slice(1)}`;
  return pico === 0n || text === '0.00' ? '$0.00' : `+$${text}`;
}

/** `$1,234.00`. */
export const formatUsd = (pico: bigint): string => (pico < 0n ? `-$${formatUsdCents(-pico)}` : `$${formatUsdCents(pico)}`);

function humanCell(kind: CellKind, value: Cell): string {
  if (value === null || value === undefined) return '';
  switch (kind) {
    case 'usd':
      return typeof value === 'bigint' ? formatUsdCents(value) : String(value);
    case 'unit_usd':
      return typeof value === 'bigint' ? formatUsdMicros(value) : String(value);
    case 'ratio':
      return typeof value === 'number' ? `${(value * 100).toFixed(1)}%` : String(value);
    case 'factor':
      return typeof value === 'number' ? `${value.toFixed(1)}×` : String(value);
    case 'number':
      return typeof value === 'number' ? String(Math.round(value * 100) / 100) : String(value);
    case 'list':
      return Array.isArray(value) ? value.join(', ') : String(value);
    default:
      return String(value);
  }
}

function exactCell(kind: CellKind, value: Cell): string | number | null | string[] {
  if (value === null || value === undefined) return null;
  if ((kind === 'usd' || kind === 'unit_usd') && typeof value === 'bigint') return formatPicoUsd(value);
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  }
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (Array.isArray(value)) return [...(value as string[])];
  return value as string;
}

const isNumeric = (kind: CellKind): boolean => kind === 'usd' || kind === 'unit_usd' || kind === 'count' || kind === 'ratio' || kind === 'factor' || kind === 'number';

function formatTableSection(section: ReportSection): string {
  const header = section.columns.map((c) => c.key);
  const body = section.rows.map((r) => section.columns.map((c, i) => humanCell(c.kind, r[i] ?? null)));
  const totals = section.totals === null ? null : section.columns.map((c, i) => humanCell(c.kind, section.totals![i] ?? null));
  const all = [header, ...body, ...(totals === null ? [] : [totals])];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((v, i) => (isNumeric(section.columns[i]!.kind) ? v.padStart(widths[i]!) : v.padEnd(widths[i]!))).join(' | ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('-+-');
  const out = [section.title, line(header), rule, ...body.map(line)];
  if (totals !== null) out.push(rule, line(totals));
  if (section.rows.length === 0) out.push('(no rows)');
  return out.join('\n');
}

function csvField(value: string | number | null | string[]): string {
  const s = value === null ? '' : Array.isArray(value) ? value.join(';') : String(value);
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

function markdownCell(text: string): string {
  return text.replaceAll('|', '\\|').replace(/\r?\n/g, ' ');
}

export function formatReport(report: Report, format: ReportFormat): string {
  switch (format) {
    case 'table': {
      const params = Object.entries(report.parameters).map(([k, v]) => `${k}: ${v}`);
      const parts = [`${report.title}${params.length > 0 ? `\n${params.join('  ·  ')}` : ''}`, ...report.sections.map(formatTableSection)];
      if (report.notes.length > 0) parts.push(report.notes.map((n) => `- ${n}`).join('\n'));
      return parts.join('\n\n') + '\n';
    }
    case 'csv': {
      // RFC 4180 per section; sections (when there are several) are separated by an empty line.
      return (
        report.sections
          .map((s) => {
            const lines = [s.columns.map((c) => csvField(c.key)).join(',')];
            for (const r of s.rows) lines.push(s.columns.map((c, i) => csvField(exactCell(c.kind, r[i] ?? null))).join(','));
            if (s.totals !== null) lines.push(s.columns.map((c, i) => csvField(exactCell(c.kind, s.totals![i] ?? null))).join(','));
            return lines.join('\r\n') + '\r\n';
          })
          .join('\r\n')
      );
    }
    case 'json': {
      const toObject = (s: ReportSection, r: Cell[]) => Object.fromEntries(s.columns.map((c, i) => [c.key, exactCell(c.kind, r[i] ?? null)]));
      return (
        JSON.stringify(
          {
            report: report.kind,
            title: report.title,
            parameters: report.parameters,
            sections: Object.fromEntries(
              report.sections.map((s) => [
                s.name,
                { title: s.title, rows: s.rows.map((r) => toObject(s, r)), totals: s.totals === null ? null : toObject(s, s.totals) },
              ]),
            ),
            notes: report.notes,
          },
          null,
          2,
        ) + '\n'
      );
    }
    case 'markdown': {
      const out = [`# ${report.title}`];
      const params = Object.entries(report.parameters);
      if (params.length > 0) out.push(params.map(([k, v]) => `**${k}**: ${v}`).join(' · '));
      for (const s of report.sections) {
        out.push(`## ${s.title}`);
        if (s.rows.length === 0 && s.totals === null) {
          out.push('_No rows._');
          continue;
        }
        const align = s.columns.map((c) => (isNumeric(c.kind) ? '---:' : '---'));
        const row = (cells: string[]) => `| ${cells.map(markdownCell).join(' | ')} |`;
        const lines = [row(s.columns.map((c) => c.key)), `| ${align.join(' | ')} |`];
        for (const r of s.rows) lines.push(row(s.columns.map((c, i) => markdownUsd(c.kind, r[i] ?? null))));
        if (s.totals !== null) {
          lines.push(row(s.columns.map((c, i) => {
            const text = markdownUsd(c.kind, s.totals![i] ?? null);
            return text === '' ? '' : `**${text}**`;
          })));
        }
        out.push(lines.join('\n'));
      }
      if (report.notes.length > 0) out.push(report.notes.map((n) => `- ${n}`).join('\n'));
      return out.join('\n\n') + '\n';
    }
  }
}

function markdownUsd(kind: CellKind, value: Cell): string {
  if (kind === 'usd' && typeof value === 'bigint') return formatUsd(value);
  if (kind === 'unit_usd' && typeof value === 'bigint') return value < 0n ? `-$${formatUsdMicros(-value)}` : `$${formatUsdMicros(value)}`;
  return humanCell(kind, value);
}
