import { formatScaled, parseDecimal } from '../../processors/pricing/decimal.js';

/** Exact decimal text (as DuckDB renders DECIMAL) → the same amount rounded half-up to `decimals` places. */
export function roundText(text: string | null, decimals = 2): string {
  if (text === null || text === '') return '';
  const v = parseDecimal(text, 12).value;
  const unit = 10n ** BigInt(12 - decimals);
  const half = unit / 2n;
  const rounded = v >= 0n ? (v + half) / unit : -((-v + half) / unit);
  return formatScaled(rounded, decimals);
}

/** Pico-USD of a decimal text (NULL/empty → 0). */
export const picoOf = (text: string | null): bigint => (text === null || text === '' ? 0n : parseDecimal(text, 12).value);

/** `part / whole` as a percentage with one decimal, or '' when `whole` is 0. */
export function percent(part: bigint, whole: bigint): string {
  if (whole === 0n) return '';
  const tenths = (part * 1000n) / whole;
  const sign = tenths < 0n ? '-' : '';
  const abs = tenths < 0n ? -tenths : tenths;
  return `${sign}${abs / 10n}.${abs % 10n}`;
}
