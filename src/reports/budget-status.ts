import type { DuckDBConnection } from '@duckdb/node-api';
import { budgetStatusSql, FORECAST_HISTORY_DAYS } from './budget-sql.js';
import { count, num, text, usd } from './chargeback-report.js';
import { queryRows } from './ledger-reader.js';
import { DAY_MS, dayStart, monthOf, type Period } from './report-period.js';
import { dateLiteral, timestampLiteral } from './report-sql.js';
import { formatPicoUsd } from '../../processors/pricing/decimal.js';
import type { Cell, Report, ReportColumn } from './report-table.js';

export type BudgetScope = 'team' | 'cost_center';
export type BudgetState = 'ok' | 'forecast_over_budget' | 'over_budget' | 'no_budget';

/** The budget status of one team or cost center for one month (see budget-sql.ts for every definition). */
export interface BudgetLine {
  month: string;
  scope: BudgetScope;
  teamId: string | null;
  costCenter: string | null;
  owner: string | null;
  budgetPicoUsd: bigint | null;
  monthToDatePicoUsd: bigint;
  /** month to date / budget (null without a positive budget). */
  usedRatio: number | null;
  forecastPicoUsd: bigint | null;
  forecastRatio: number | null;
  daysLeft: number;
  status: BudgetState;
  asOf: string;
  weekdayDailyPicoUsd: bigint | null;
  weekendDailyPicoUsd: bigint | null;
  historyDays: number;
}

/** Budget status of every team and cost center for the month containing `asOfMs` (or `month`, as of its end when over). */
export async function budgetStatus(connection: DuckDBConnection, o: { asOfMs: number; month?: Period }): Promise<BudgetLine[]> {
  const month = o.month ?? monthOf(o.asOfMs);
  const asOfMs = Math.min(o.asOfMs, month.toMs);
  const scanFrom = Math.min(month.fromMs, dayStart(asOfMs) - FORECAST_HISTORY_DAYS * DAY_MS);
  const rows = await queryRows(
    connection,
    budgetStatusSql({ monthStart: dateLiteral(month.fromMs), asOf: timestampLiteral(asOfMs), scanFrom: timestampLiteral(scanFrom) }),
  );
  return rows.map((r) => ({
    month: String(r['month']).slice(0, 7),
    scope: r['scope'] as BudgetScope,
    teamId: text(r['team_id']),
    costCenter: text(r['cost_center']),
    owner: text(r['owner']),
    budgetPicoUsd: usd(r['budget_usd']),
    monthToDatePicoUsd: usd(r['month_to_date_usd']) ?? 0n,
    usedRatio: num(r['used_ratio']),
    forecastPicoUsd: usd(r['forecast_usd']),
    forecastRatio: num(r['forecast_ratio']),
    daysLeft: Number(count(r['days_left'])),
    status: r['status'] as BudgetState,
    asOf: String(r['as_of']),
    weekdayDailyPicoUsd: usd(r['weekday_daily_usd']),
    weekendDailyPicoUsd: usd(r['weekend_daily_usd']),
    historyDays: Number(count(r['history_days'])),
  }));
}

/** A budget line as JSON (money as exact decimal strings), for `GET /v1/budgets` and webhook payloads. */
export function budgetLineJson(l: BudgetLine): Record<string, unknown> {
  const money = (v: bigint | null) => (v === null ? null : formatPicoUsd(v));
  return {
    month: l.month,
    scope: l.scope,
    team_id: l.teamId,
    cost_center: l.costCenter,
    owner: l.owner,
    budget_usd: money(l.budgetPicoUsd),
    month_to_date_usd: money(l.monthToDatePicoUsd),
    percent_used: l.usedRatio === null ? null : Math.round(l.usedRatio * 10_000) / 100,
    forecast_usd: money(l.forecastPicoUsd),
    forecast_percent: l.forecastRatio === null ? null : Math.round(l.forecastRatio * 10_000) / 100,
    days_left: l.daysLeft,
    status: l.status,
    as_of: l.asOf,
  };
}

export const FORECAST_METHOD =
  `forecast = month to date + the rest of today + each remaining day at the average daily cost of days of its kind ` +
  `(Monday–Friday or Saturday–Sunday, UTC) over the last ${FORECAST_HISTORY_DAYS} complete days (from the first day with spend when later); ` +
  'a kind without such days uses the other kind; no complete day of history: no forecast.';

/** `report budgets`: per team and cost center, budget, month to date, % used, month-end forecast, days left, status. */
export async function budgetsReport(connection: DuckDBConnection, o: { month: Period; asOfMs: number }): Promise<Report> {
  const lines = await budgetStatus(connection, { asOfMs: o.asOfMs, month: o.month });
  const columns = (scope: BudgetScope): ReportColumn[] => [
    ...(scope === 'team' ? [{ key: 'team_id', kind: 'text' } as ReportColumn] : []),
    { key: 'cost_center', kind: 'text' },
    { key: 'owner', kind: 'text' },
    { key: 'budget_usd', kind: 'usd' },
    { key: 'month_to_date_usd', kind: 'usd' },
    { key: 'used', kind: 'ratio' },
    { key: 'forecast_usd', kind: 'usd' },
    { key: 'forecast_used', kind: 'ratio' },
    { key: 'days_left', kind: 'count' },
    { key: 'status', kind: 'text' },
  ];
  const cells = (l: BudgetLine): Cell[] => [
    ...(l.scope === 'team' ? [l.teamId] : []),
    l.costCenter,
    l.owner,
    l.budgetPicoUsd,
    l.monthToDatePicoUsd,
    l.usedRatio,
    l.forecastPicoUsd,
    l.forecastRatio,
    l.daysLeft,
    l.status,
  ];
  const section = (scope: BudgetScope, title: string) => {
    const mine = lines.filter((l) => l.scope === scope);
    return { name: scope === 'team' ? 'teams' : 'cost_centers', title, columns: columns(scope), rows: mine.map(cells), totals: null };
  };
  const asOf = lines[0]?.asOf ?? new Date(Math.min(o.asOfMs, o.month.toMs)).toISOString();
  return {
    kind: 'budgets',
    title: `Budgets ${o.month.label}`,
    parameters: { month: o.month.label, as_of: asOf },
    sections: [section('team', 'Teams'), section('cost_center', 'Cost centers')],
    notes: [
      'budget: monthly_budget_usd of the teams table in force at the as-of instant; a cost center\'s budget is the sum of its teams\' budgets.',
      'month_to_date_usd: cost of the month\'s calls before the as-of instant (cost centers by the calls\' cost_center).',
      FORECAST_METHOD,
      'status: over_budget (month to date ≥ budget), forecast_over_budget (forecast > budget), ok, or no_budget.',
    ],
  };
}
