/**
 * Money leaves the exact world here. The ledger keeps pico-USD in `bigint` (DECIMAL(18,12) in DuckDB);
 * Prometheus samples are float64. A series' total is summed in bigint and converted once, at scrape
 * time, so the exposed value is the float nearest the exact sum — never the drift of a million float
 * additions (a million 1e-12 USD calls summed as floats give 1.0000000000000006e-6, not 1e-6).
 */
const PICO_PER_USD = 1_000_000_000_000n;

/** The float64 nearest to `pico` × 1e-12 (one rounding: V8 parses decimal strings correctly rounded). */
export function picoUsdToNumber(pico: bigint): number {
  const negative = pico < 0n;
  const abs = negative ? -pico : pico;
  const whole = abs / PICO_PER_USD;
  const fraction = (abs % PICO_PER_USD).toString().padStart(12, '0');
  return Number(`${negative ? '-' : ''}${whole}.${fraction}`);
}

/**
 * A USD amount read from the ledger (DECIMAL rendered as text, or already a number) as a float64.
 * Text is parsed with one rounding; anything that is not a finite decimal is refused.
 */
export function usdToNumber(value: number | string): number {
  const n = typeof value === 'number' ? value : /^\s*-?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isFinite(n)) throw new TypeError(`not a USD amount: ${String(value)}`);
  return n;
}
