import { CliUsageError } from './cli-usage-error.js';

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:?\d{2})$/;
const DAY_MS = 86_400_000;

/**
 * A `--from`/`--to`/`--at` flag: `YYYY-MM-DD` (UTC) or an ISO timestamp with a zone → unix ms.
 * With `endOfDay`, a date-only value means the END of that UTC day (so `--to 2025-06-30` includes the 30th).
 */
export function parseCliDate(flag: string, value: string, endOfDay = false): number {
  const text = value.trim();
  if (DATE_ONLY.test(text)) {
    const ms = Date.parse(`${text}T00:00:00Z`);
    if (!Number.isNaN(ms)) return endOfDay ? ms + DAY_MS : ms;
  } else if (TIMESTAMP.test(text)) {
    const ms = Date.parse(text);
    if (!Number.isNaN(ms)) return ms;
  }
  throw new CliUsageError(`--${flag} must be a date YYYY-MM-DD (UTC) or an ISO timestamp with a zone, got "${value}"`);
}
