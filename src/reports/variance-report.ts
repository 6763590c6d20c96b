import type { DuckDBConnection } from '@duckdb/node-api';
import { count, num, ratio, text, usd } from './chargeback-report.js';
import { queryRows, type SqlRow } from './ledger-reader.js';
import type { Period } from './report-period.js';
import { dateLiteral, timeRangeSql, varianceSql, type UsageDimension } from './report-sql.js';
import { formatSignedUsd, formatUsd, type Cell, type Report, type ReportColumn } from './report-table.js';

export interface VarianceOptions {
  month: Period;
  against: Period;
  /** Grouping after the bucket. Default: team_id. */
  by: readonly UsageDimension[];
}

/** How many models are named per line in `models_moved`. */
const MODELS_PER_LINE = 3;

/** One line of the variance report, as the alerts and tests read it. */
export interface VarianceLine {
  bucket: string;
  keys: Record<string, string | null>;
  previousPicoUsd: bigint;
  currentPicoUsd: bigint;
  deltaPicoUsd: bigint;
  previousCalls: bigint;
  currentCalls: bigint;
  volumeEffectPicoUsd: bigint;
  costPerCallEffectPicoUsd: bigint;
  previousCostPerCallPicoUsd: bigint | null;
  currentCostPerCallPicoUsd: bigint | null;
  /** delta / previous (null when there was no previous cost). */
  deltaRatio: number | null;
  /** delta / the total delta of all lines (null when the total did not change). */
  shareOfChange: number | null;
  driver: string;
  /** Models by absolute change, largest first: `[model, delta pico-USD]`. */
  modelsMoved: [string | null, bigint][];
}

function periodsSql(o: VarianceOptions): string {
  return `SELECT ${dateLiteral(o.month.fromMs)} AS period, ${dateLiteral(o.month.fromMs)} AS cur_start, ${dateLiteral(o.month.toMs)} AS cur_end,
  ${dateLiteral(o.against.fromMs)} AS prev_start, ${dateLiteral(o.against.toMs)} AS prev_end`;
}

function whereBoth(o: VarianceOptions): string {
  const a = o.against;
  const m = o.month;
  // Adjacent months: one range (pruned as one); otherwise the two ranges.
  if (a.toMs === m.fromMs) return timeRangeSql(a.fromMs, m.toMs);
  return `((${timeRangeSql(a.fromMs, a.toMs)}) OR (${timeRangeSql(m.fromMs, m.toMs)}))`;
}

const lineKey = (bucket: SqlRow['bucket'], keys: (string | null)[]): string => JSON.stringify([bucket, ...keys]);

/** The variance lines (bucket × `by`) of `month` against `against`, with the models that moved in each. */
export async function varianceLines(connection: DuckDBConnection, o: VarianceOptions): Promise<VarianceLine[]> {
  const pair = { periodsSql: periodsSql(o), where: whereBoth(o) };
  const [rows, modelRows] = [await queryRows(connection, varianceSql(pair, o.by)), await queryRows(connection, varianceSql(pair, [...o.by, 'model']))];
  const moved = new Map<string, [string | null, bigint][]>();
  for (const r of modelRows) {
    const delta = usd(r['delta_usd']) ?? 0n;
    if (delta === 0n) continue;
    const key = lineKey(r['bucket'] ?? null, o.by.map((d) => text(r[d])));
    const entry = moved.get(key) ?? [];
    entry.push([text(r['model']), delta]);
    moved.set(key, entry);
  }
  return rows.map((r) => {
    const keys = Object.fromEntries(o.by.map((d) => [d, text(r[d])]));
    const models = (moved.get(lineKey(r['bucket'] ?? null, o.by.map((d) => text(r[d])))) ?? []).sort((a, b) => {
      const x = a[1] < 0n ? -a[1] : a[1];
      const y = b[1] < 0n ? -b[1] : b[1];
      return x === y ? String(a[0]).localeCompare(String(b[0])) : x > y ? -1 : 1;
    });
    return {
      bucket: String(r['bucket']),
      keys,
      previousPicoUsd: usd(r['previous_usd']) ?? 0n,
      currentPicoUsd: usd(r['current_usd']) ?? 0n,
      deltaPicoUsd: usd(r['delta_usd']) ?? 0n,
      previousCalls: count(r['previous_calls']),
      currentCalls: count(r['current_calls']),
      volumeEffectPicoUsd: usd(r['volume_effect_usd']) ?? 0n,
      costPerCallEffectPicoUsd: usd(r['cost_per_call_effect_usd']) ?? 0n,
      previousCostPerCallPicoUsd: usd(r['previous_cost_per_call_usd']),
      currentCostPerCallPicoUsd: usd(r['current_cost_per_call_usd']),
      deltaRatio: num(r['delta_ratio']),
      shareOfChange: num(r['share_of_change']),
      driver: String(r['driver']),
      modelsMoved: models,
    };
  });
}

/** The label of a line: its grouping values, `(unattributed)` / `(no <dim>)` where NULL. */
function lineLabel(line: VarianceLine, by: readonly string[]): string {
  if (line.bucket === 'unattributed' && by.length === 1 && by[0] === 'team_id') return '(unattributed)';
  return by.map((d) => line.keys[d] ?? `(no ${d})`).join(' / ');
}

/**
 * `report variance`: each line's previous and current cost, delta, delta %, share of the total change, and what
 * drove it — volume (priced calls × the previous cost per call) or cost per call (the rest) — and the models that
 * moved most. Team usage, shared usage and unattributed are separate lines; a totals line closes the table.
 */
export async function varianceReport(connection: DuckDBConnection, o: VarianceOptions): Promise<Report> {
  const lines = await varianceLines(connection, o);
  const columns: ReportColumn[] = [
    { key: 'bucket', kind: 'text' },
    ...o.by.map((d): ReportColumn => ({ key: d, kind: 'text' })),
    { key: 'previous_usd', kind: 'usd' },
    { key: 'current_usd', kind: 'usd' },
    { key: 'delta_usd', kind: 'usd' },
    { key: 'delta_pct', kind: 'ratio' },
    { key: 'share_of_change', kind: 'ratio' },
    { key: 'previous_calls', kind: 'count' },
    { key: 'current_calls', kind: 'count' },
    { key: 'previous_cost_per_call_usd', kind: 'unit_usd' },
    { key: 'current_cost_per_call_usd', kind: 'unit_usd' },
    { key: 'volume_effect_usd', kind: 'usd' },
    { key: 'cost_per_call_effect_usd', kind: 'usd' },
    { key: 'driver', kind: 'text' },
    { key: 'models_moved', kind: 'text' },
  ];
  const rows: Cell[][] = lines.map((l) => {
    return [
      l.bucket,
      ...o.by.map((d) => (l.bucket === 'unattributed' && d === 'team_id' ? '(unattributed)' : l.keys[d] ?? null)),
      l.previousPicoUsd,
      l.currentPicoUsd,
      l.deltaPicoUsd,
      l.deltaRatio,
      l.shareOfChange,
      l.previousCalls,
      l.currentCalls,
      l.previousCostPerCallPicoUsd,
      l.currentCostPerCallPicoUsd,
      l.volumeEffectPicoUsd,
      l.costPerCallEffectPicoUsd,
      l.driver,
      l.modelsMoved
        .slice(0, MODELS_PER_LINE)
        .map(([m, d]) => `${m ?? '(no model)'} ${formatSignedUsd(d)}`)
        .join('; ') || null,
    ];
  });
  const total = (f: (l: VarianceLine) => bigint) => lines.reduce((a, l) => a + f(l), 0n);
  const prev = total((l) => l.previousPicoUsd);
  const cur = total((l) => l.currentPicoUsd);
  const delta = cur - prev;
  const totals: Cell[] = [
    'TOTAL',
    ...o.by.map(() => null),
    prev,
    cur,
    delta,
    prev === 0n ? null : ratio(delta, prev),
    delta === 0n ? null : 1,
    total((l) => l.previousCalls),
    total((l) => l.currentCalls),
    null,
    null,
    total((l) => l.volumeEffectPicoUsd),
    total((l) => l.costPerCallEffectPicoUsd),
    null,
    null,
  ];
  const pct = (a: bigint, b: bigint) => (b === 0n ? 'new' : `${a >= b ? '+' : ''}${(ratio(a - b, b) * 100).toFixed(1)}%`);
  const summary = lines.map((l) => {
    const share = delta === 0n ? '' : `, ${(ratio(l.deltaPicoUsd, delta) * 100).toFixed(1)}% of the change`;
    const moved = l.modelsMoved.slice(0, MODELS_PER_LINE).map(([m, d]) => `${m ?? '(no model)'} ${formatSignedUsd(d)}`).join(', ');
    return `${lineLabel(l, o.by)}${l.bucket === 'shared' ? ' (shared)' : ''}: ${formatUsd(l.previousPicoUsd)} → ${formatUsd(l.currentPicoUsd)} ` +
      `(${formatSignedUsd(l.deltaPicoUsd)}, ${l.deltaPicoUsd === 0n ? 'flat' : pct(l.currentPicoUsd, l.previousPicoUsd)}${share}; driver: ${l.driver}` +
      `${moved === '' ? '' : `; models: ${moved}`})`;
  });
  summary.push(`total: ${formatUsd(prev)} → ${formatUsd(cur)} (${formatSignedUsd(delta)}, ${delta === 0n ? 'flat' : pct(cur, prev)})`);
  return {
    kind: 'variance',
    title: `Variance ${o.month.label} against ${o.against.label}`,
    parameters: { month: o.month.label, against: o.against.label, by: ['bucket', ...o.by].join(', ') },
    sections: [
      { name: 'lines', title: 'Variance', columns, rows, totals },
      { name: 'summary', title: 'Summary', columns: [{ key: 'line', kind: 'text' }], rows: summary.map((s) => [s]), totals: null },
    ],
    notes: [
      'volume_effect_usd = (current priced calls − previous priced calls) × previous cost per priced call; cost_per_call_effect_usd = ' +
        'delta − volume effect (the two add up to the delta exactly). driver: volume or cost per call when one effect is at least twice the other.',
      'models_moved: the models whose cost changed most within the line. share_of_change: the line\'s delta over the total delta.',
      'Unattributed spend (no team) is its own line, never spread over teams; approved shared usage is bucket shared.',
    ],
  };
}
