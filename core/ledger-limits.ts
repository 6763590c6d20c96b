/**
 * The ranges every value must fall in before it becomes a ledger row. They follow from the column types
 * (docs/schema.md): a value outside them would be rejected by DuckDB for the whole batch, or worse, wrap.
 */

/** DECIMAL(18,12) holds |x| < 10^6 USD, i.e. 10^18 pico-USD (exclusive). */
export const MAX_MONEY_PICO_USD = 10n ** 18n;

/** True when `pico` fits the ledger's DECIMAL(18,12) money columns. */
export const moneyFits = (pico: bigint): boolean => pico > -MAX_MONEY_PICO_USD && pico < MAX_MONEY_PICO_USD;

/** Span times must be after 1970-01-01T00:00:00Z: OTLP sends 0 for "not set". */
export const MIN_TIME_UNIX_NANO = 0n;
/** Latest span time (exclusive) the ledger accepts: 2200-01-01T00:00:00Z. */
export const MAX_TIME_UNIX_NANO = BigInt(Date.UTC(2200, 0, 1)) * 1_000_000n;

/** True when `ns` is a span time the ledger accepts (1970 < t < 2200, UTC). */
export const timeFits = (ns: bigint): boolean => ns > MIN_TIME_UNIX_NANO && ns < MAX_TIME_UNIX_NANO;

/**
 * Largest value a token column may hold in a row: four classes of at most 10^12 each
 * (MAX_TOKENS_PER_CLASS) summed, as normalization may add cache reads and writes to the input.
 */
export const MAX_ROW_TOKENS = 4_000_000_000_000;
