import { createHash } from 'node:crypto';
import { formatScaled, parseDecimal, PICO_DECIMALS } from '../../processors/pricing/decimal.js';

/**
 * One normalized line of a provider bill or usage report: what `provider_costs` stores
 * (docs/reconciliation.md). Parsers (src/reconcile/formats/*) turn each source row into one or more of these;
 * a row they cannot read becomes one line of class `other` with `parsed: false` and the row's raw text, so
 * nothing on a bill is ever dropped.
 */

export const PROVIDER_FAMILIES = ['openai', 'anthropic', 'aws', 'gcp', 'azure'] as const;
export type ProviderFamily = (typeof PROVIDER_FAMILIES)[number];

export const TOKEN_CLASSES = ['input', 'cached_input', 'cache_write', 'output', 'other'] as const;
export type TokenClass = (typeof TOKEN_CLASSES)[number];

export interface BillLine {
  provider: ProviderFamily;
  /**
   * What the line is part of, independent of the file format: `openai.costs` whether it came from the API's
   * JSON or the dashboard's CSV. Lines of one family with the same identity are the same line.
   */
  sourceFamily: string;
  /** The exact format read, e.g. `openai.costs.json`, `aws.cur2.parquet`. */
  sourceFormat: string;
  /** `cost`: money (maybe with a quantity); `usage`: token counts only (usage reports). */
  recordKind: 'cost' | 'usage';
  /** Billing day, UTC, `YYYY-MM-DD`; null only for an unparsed row whose date could not be read either. */
  day: string | null;
  /** The model as the bill names it, normalized like the ledger's `model` where the name is an API id. */
  model: string | null;
  /** Who made the model, when the bill says (Anthropic for Claude bought on AWS Marketplace). */
  publisher: string | null;
  tokenClass: TokenClass;
  serviceTier: string | null;
  contextWindow: string | null;
  /** `openai_project`, `anthropic_workspace`, `aws_principal`, `aws_account`, `aws_tag`, `gcp_project`, `gcp_label`, `azure_resource`, `azure_tag`. */
  scopeType: string | null;
  scopeId: string | null;
  apiKeyId: string | null;
  /** Decimal text, e.g. tokens. */
  quantity: string | null;
  /** `tokens` when the quantity counts tokens; otherwise the unit as the bill gives it. */
  quantityUnit: string | null;
  /** Amount charged, pico-USD (after credits and discounts); null on usage lines. */
  billedPico: bigint | null;
  /** Amount at list price, pico-USD, when the bill gives it. */
  listPico: bigint | null;
  /** The bill's own words for the line: line item, meter, SKU, usage type. */
  description: string | null;
  /** 0-based position of the source row in the file (several lines may share one). */
  row: number;
  /** The fields that identify the line within its source family (dates, scope, line item, …). */
  identity: readonly (string | null)[];
  parsed: boolean;
  /** Why the row is unparsed, or what was assumed. */
  note: string | null;
  /** The source row verbatim, kept for unparsed rows. */
  raw: string | null;
}

/** What a parser made of a file. */
export interface ParsedBill {
  /** e.g. `openai.costs.json`. */
  format: string;
  lines: BillLine[];
  /** Rows that are not GenAI spend (other AWS services in a CUR, …), counted, not stored. */
  skippedRows: number;
  /** Non-fatal notes for the import summary (once per kind, with counts). */
  notes: string[];
}

/** A parse problem that makes the whole file unreadable (wrong format, bad JSON). */
export class BillFormatError extends Error {
  override name = 'BillFormatError';
}

/** USD decimal text → pico-USD, rounded half-even below a pico-dollar. Throws SyntaxError on non-numbers. */
export function usdToPico(text: string): bigint {
  return parseDecimal(text.trim(), PICO_DECIMALS).value;
}

/** Cents decimal text (Anthropic's `amount`) → pico-USD: 1 cent = 10^10 pico-USD. */
export function centsToPico(text: string): bigint {
  return parseDecimal(text.trim(), PICO_DECIMALS - 2).value;
}

/** A quantity as decimal text with at most 6 decimals (the column's scale), multiplied by `factor`. */
export function quantityText(text: string, factor = 1n): string {
  const scaled = parseDecimal(text.trim(), 6).value * factor;
  const out = formatScaled(scaled, 6).replace(/\.?0+$/, '');
  return out === '' || out === '-' ? '0' : out;
}

const DAY_MS = 86_400_000;

/** Unix seconds → UTC day. */
export function dayOfUnixSeconds(seconds: number): string {
  return new Date(Math.floor(seconds) * 1000).toISOString().slice(0, 10);
}

/**
 * A date or timestamp as bills write it → UTC day: `2025-01-31`, `2025-01-31T00:00:00Z`,
 * `2025-01-31 13:00:00 UTC`, `2025-01-31T00:00:00.000-08:00`, `01/31/2025` (Azure, US order), unix seconds.
 * Null when unreadable.
 */
export function dayOf(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  const t = value.trim();
  if (t === '') return null;
  if (/^\d{9,11}$/.test(t)) return dayOfUnixSeconds(Number(t));
  const us = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(t);
  if (us) return isoDay(Number(us[3]), Number(us[1]), Number(us[2]));
  const dateOnly = /^(\d{4})-(\d{2})-(\d{2})$/.exec(t);
  if (dateOnly) return isoDay(Number(dateOnly[1]), Number(dateOnly[2]), Number(dateOnly[3]));
  let iso = t.replace(/ UTC$/i, 'Z').replace(/^(\d{4}-\d{2}-\d{2}) /, '$1T');
  if (/T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/.test(iso)) iso += 'Z';
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return null;
  return new Date(Math.floor(ms / DAY_MS) * DAY_MS).toISOString().slice(0, 10);
}

function isoDay(y: number, m: number, d: number): string | null {
  const date = new Date(Date.UTC(y, m - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d) return null;
  return date.toISOString().slice(0, 10);
}

/** A trimmed value, or null for empty / absent. */
export const clean = (v: string | null | undefined): string | null => {
  if (v === null || v === undefined) return null;
  const t = v.trim();
  return t === '' ? null : t;
};

/**
 * Stable keys for the lines of one import: sha256 of (source family, identity, n) where n counts earlier
 * lines with the same identity in the same file, so identical rows of one file stay distinct while the same
 * row imported again (from this file or another of the same family) gets the same key.
 */
export function recordKeys(lines: readonly BillLine[]): string[] {
  const seen = new Map<string, number>();
  return lines.map((line) => {
    const identity = JSON.stringify([line.provider, line.sourceFamily, line.recordKind, line.tokenClass, ...line.identity]);
    const n = seen.get(identity) ?? 0;
    seen.set(identity, n + 1);
    return createHash('sha256').update(`${identity}#${n}`).digest('hex').slice(0, 32);
  });
}
