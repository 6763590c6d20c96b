/** A half-open UTC interval [fromMs, toMs) that a report covers, with how it is printed. */
export interface Period {
  fromMs: number;
  toMs: number;
  label: string;
}

export const DAY_MS = 86_400_000;

const MONTH = /^(\d{4})-(\d{2})$/;

/** Parses `YYYY-MM` into that calendar month in UTC; null when malformed. */
export function parseMonth(text: string): Period | null {
  const m = MONTH.exec(text.trim());
  if (m === null) return null;
  const year = Number(m[1]);
  const month = Number(m[2]);
  if (month < 1 || month > 12) return null;
  return monthOf(Date.UTC(year, month - 1, 1));
}

/** The calendar month (UTC) that contains `ms`. */
export function monthOf(ms: number): Period {
  const d = new Date(ms);
  const fromMs = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  const toMs = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  return { fromMs, toMs, label: new Date(fromMs).toISOString().slice(0, 7) };
}

/** The month before `month`. */
export function previousMonth(month: Period): Period {
  return monthOf(month.fromMs - DAY_MS);
}

/** [from, to) with the label `from … to` (dates inclusive when they are whole days). */
export function rangePeriod(fromMs: number, toMs: number): Period {
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  const whole = fromMs % DAY_MS === 0 && toMs % DAY_MS === 0;
  const label = whole ? `${day(fromMs)} to ${day(toMs - DAY_MS)}` : `${new Date(fromMs).toISOString()} to ${new Date(toMs).toISOString()} (exclusive)`;
  return { fromMs, toMs, label };
}

/** The start of the UTC day of `ms`. */
export const dayStart = (ms: number): number => Math.floor(ms / DAY_MS) * DAY_MS;
