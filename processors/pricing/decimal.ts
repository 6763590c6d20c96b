/**
 * Exact money helpers. The ledger's unit is the pico-USD (1e-12 USD), held in a `bigint`, which matches the
 * DECIMAL(18,12) columns digit for digit. Binary floats never take part in money arithmetic: a price that
 * arrives as a JS number (the price database ships numbers) is read through its shortest round-trip decimal
 * string (`String(n)`), which is exactly the literal the data author wrote, and converted from there.
 *
 * Unit prices: a price in USD per million tokens ($/Mtok) scaled by 1e6 is micro-USD per Mtok, which is the
 * same number as pico-USD per token. So a $/Mtok price with at most 6 decimal places is an exact integer
 * number of pico-USD per token, and `tokens × picoPerToken` is the exact cost.
 */

/** Decimal places of the ledger's money unit (pico-USD). */
export const PICO_DECIMALS = 12;
/** Decimal places kept from a $/Mtok price (micro-USD per Mtok = pico-USD per token). */
export const MTOK_PRICE_DECIMALS = 6;

/** A decimal value scaled to an integer, and whether digits beyond the scale were rounded away. */
export interface ScaledDecimal {
  value: bigint;
  /** True when the input had more decimal places than the scale and was rounded (half-even). */
  rounded: boolean;
}

const DECIMAL_SYNTAX = /^([+-]?)(\d+)?(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
const POW10: bigint[] = [];
function pow10(n: number): bigint {
  let p = POW10[n];
  if (p === undefined) {
    p = 10n ** BigInt(n);
    if (n < 64) POW10[n] = p;
  }
  return p;
}

/**
 * Parses a decimal string (`'12.5'`, `'-0.001'`, `'1.5e-7'`, `'.5'`) into an integer scaled by 10^scale,
 * rounding half-to-even when the string has more decimal places than `scale`.
 * Throws a `SyntaxError` for anything that is not a plain decimal number (no whitespace, no `_`, no hex).
 */
export function parseDecimal(text: string, scale: number): ScaledDecimal {
  const m = DECIMAL_SYNTAX.exec(text);
  const intDigits = m?.[2] ?? '';
  const fracDigits = m?.[3] ?? '';
  if (m === null || (intDigits === '' && fracDigits === '')) {
    throw new SyntaxError(`not a decimal number: ${JSON.stringify(text)}`);
  }
  const negative = m[1] === '-';
  const exponent = m[4] === undefined ? 0 : Number(m[4]);
  if (!Number.isSafeInteger(exponent) || Math.abs(exponent) > 10_000) {
    throw new RangeError(`decimal exponent out of range: ${JSON.stringify(text)}`);
  }
  // value = digits × 10^(exponent − fracDigits.length); scaled = value × 10^scale
  const digits = BigInt((intDigits + fracDigits) || '0');
  const shift = exponent - fracDigits.length + scale;
  let magnitude: bigint;
  let rounded = false;
  if (shift >= 0) {
    magnitude = digits * pow10(shift);
  } else {
    const divisor = pow10(-shift);
    magnitude = digits / divisor;
    const remainder = digits % divisor;
    if (remainder !== 0n) {
      rounded = true;
      const twice = remainder * 2n;
      if (twice > divisor || (twice === divisor && magnitude % 2n === 1n)) magnitude += 1n;
    }
  }
  return { value: negative ? -magnitude : magnitude, rounded };
}

/**
 * Converts a price in USD per million tokens, as the price database ships it (a JS number), into pico-USD per
 * token. Exact for prices with up to 6 decimal places in $/Mtok (every real list price); finer prices — in
 * practice float artefacts such as `0.18000000000000002` or derived values such as `0.08333333333333334` —
 * are rounded half-even to whole pico-USD per token and reported with `rounded: true`.
 * Throws a `RangeError` for negative, NaN or infinite prices.
 */
export function usdPerMtokToPicoPerToken(price: number): ScaledDecimal {
  if (!Number.isFinite(price) || price < 0) {
    throw new RangeError(`invalid price ${String(price)}: expected a finite non-negative number`);
  }
  // String(n) is the shortest string that round-trips to n: exactly what the data author wrote.
  // It may use exponent form (1.5e-7, 1e+21); parseDecimal accepts both.
  return parseDecimal(String(price), MTOK_PRICE_DECIMALS);
}

/**
 * Parses a USD amount (`'12.5'`, `'-0.000000000001'`, `'1e-3'`) into pico-USD. Throws a `SyntaxError` for
 * malformed input and a `RangeError` when the amount has digits below one pico-USD, because the ledger could
 * not represent it and silently rounding money that a person typed is not acceptable.
 */
export function parseUsdToPico(text: string): bigint {
  const parsed = parseDecimal(text, PICO_DECIMALS);
  if (parsed.rounded) throw new RangeError(`USD amount has more than ${PICO_DECIMALS} decimal places: ${text}`);
  return parsed.value;
}

/** Formats an integer scaled by 10^decimals as a fixed-point decimal string (`-0.000123450000` style). */
export function formatScaled(value: bigint, decimals: number): string {
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(decimals + 1, '0');
  const cut = digits.length - decimals;
  const body = decimals === 0 ? digits : `${digits.slice(0, cut)}.${digits.slice(cut)}`;
  return negative ? `-${body}` : body;
}

/** Pico-USD → USD with exactly 12 decimals, e.g. `123450000n` → `'0.000123450000'`; negative safe. */
export function formatPicoUsd(pico: bigint): string {
  return formatScaled(pico, PICO_DECIMALS);
}

/** Pico-USD per token → USD per million tokens with 6 decimals, e.g. `75000n` → `'0.075000'`. */
export function formatUsdPerMtok(picoPerToken: bigint): string {
  return formatScaled(picoPerToken, MTOK_PRICE_DECIMALS);
}
