import type { DuckDBConnection } from '@duckdb/node-api';
import {
  anomaliesSql,
  BASELINE_DAYS,
  DEFAULT_MIN_CALLS,
  DEFAULT_MIN_DAILY_USD,
  MIN_BASELINE_POINTS,
  MIN_FACTOR,
  ROBUST_Z,
} from './anomaly-sql.js';
import { count, num } from './chargeback-report.js';
import { queryRows } from './ledger-reader.js';
import { DAY_MS, type Period } from './report-period.js';
import { dateLiteral, timeRangeSql } from './report-sql.js';
import type { Cell, Report, ReportColumn } from './report-table.js';

export interface AnomalyOptions {
  /** Whole UTC days evaluated, [from, to). */
  period: Period;
  minDailyUsd?: number;
  minCalls?: number;
}

export interface AnomalyFinding {
  /** yyyy-mm-dd */
  day: string;
  finding: 'spike' | 'drop' | 'new_model';
  dimension: 'team_id' | 'service' | 'model' | 'all';
  entity: string;
  metric: 'cost_usd' | 'tokens_per_call' | 'unattributed_share';
  baseline: number;
  observed: number;
  factor: number | null;
  robustZ: number | null;
  baselineDays: number;
  calls: number;
}

/** The anomaly findings on the days of `period` (see anomaly-sql.ts for the method). */
export async function findAnomalies(connection: DuckDBConnection, o: AnomalyOptions): Promise<AnomalyFinding[]> {
  const rows = await queryRows(
    connection,
    anomaliesSql({
      from: dateLiteral(o.period.fromMs),
      to: dateLiteral(o.period.toMs),
      where: timeRangeSql(o.period.fromMs - BASELINE_DAYS * DAY_MS, o.period.toMs),
      minDailyUsd: o.minDailyUsd ?? DEFAULT_MIN_DAILY_USD,
      minCalls: o.minCalls ?? DEFAULT_MIN_CALLS,
    }),
  );
  return rows.map((r) => ({
    day: String(r['day']),
    finding: r['finding'] as AnomalyFinding['finding'],
    dimension: r['dimension'] as AnomalyFinding['dimension'],
    entity: String(r['entity']),
    metric: r['metric'] as AnomalyFinding['metric'],
    baseline: num(r['baseline']) ?? 0,
    observed: num(r['observed']) ?? 0,
    factor: num(r['factor']),
    robustZ: num(r['robust_z']),
    baselineDays: Number(count(r['baseline_days'])),
    calls: Number(count(r['calls'])),
  }));
}

/** `report anomalies`: each finding with its baseline, observed value and factor. */
export async function anomaliesReport(connection: DuckDBConnection, o: AnomalyOptions): Promise<Report> {
  const findings = await findAnomalies(connection, o);
  const columns: ReportColumn[] = [
    { key: 'day', kind: 'date' },
    { key: 'finding', kind: 'text' },
    { key: 'dimension', kind: 'text' },
    { key: 'entity', kind: 'text' },
    { key: 'metric', kind: 'text' },
    { key: 'baseline', kind: 'number' },
    { key: 'observed', kind: 'number' },
    { key: 'factor', kind: 'factor' },
    { key: 'robust_z', kind: 'number' },
    { key: 'baseline_days', kind: 'count' },
    { key: 'calls', kind: 'count' },
  ];
  const rows = findings.map((f): Cell[] => [
    f.day, f.finding, f.dimension, f.entity, f.metric, f.baseline, f.observed, f.factor, f.robustZ, f.baselineDays, f.calls,
  ]);
  return {
    kind: 'anomalies',
    title: `Anomalies ${o.period.label}`,
    parameters: {
      days: o.period.label,
      min_daily_usd: String(o.minDailyUsd ?? DEFAULT_MIN_DAILY_USD),
      min_calls: String(o.minCalls ?? DEFAULT_MIN_CALLS),
    },
    sections: [{ name: 'findings', title: 'Findings', columns, rows, totals: null }],
    notes: [
      `Each day of each team, service and model (cost_usd, tokens_per_call) and the day's unattributed share of spend is compared with ` +
        `its own baseline: the median of the same kind of day (Monday–Friday or Saturday–Sunday; every day for the share) among the ` +
        `${BASELINE_DAYS} days before it, spread = 1.4826 × median absolute deviation (robust: a spike does not move its own baseline).`,
      `A finding needs ≥ ${MIN_BASELINE_POINTS} baseline days, |observed − baseline| > ${ROBUST_Z} × spread, a factor ≥ ${MIN_FACTOR}× ` +
        `(or ≤ 1/${MIN_FACTOR}), and enough at stake (cost: ≥ min_daily_usd; tokens per call: ≥ min_calls calls; share: ≥ 5 points).`,
      'new_model: the first day a model was ever called. Days without calls are not evaluated. Cost values are USD, tokens_per_call tokens, ' +
        'unattributed_share a fraction.',
    ],
  };
}
