import { formatPicoUsd } from '../../processors/pricing/decimal.js';
import type { AnomalyFinding } from '../reports/anomalies-report.js';
import type { BudgetLine } from '../reports/budget-status.js';
import { formatUsd } from '../reports/report-table.js';

export type AlertKind = 'budget_threshold' | 'budget_forecast' | 'anomaly';

/**
 * The `generic` webhook body, stored as-is in `genai_alerts.payload`. Money is an exact decimal string (USD,
 * 12 decimals); fields that do not apply are null.
 */
export interface AlertPayload {
  kind: AlertKind;
  alert_id: string;
  /** `team` or `cost_center` for budget alerts; the anomaly's dimension otherwise. */
  scope: string;
  team_id: string | null;
  cost_center: string | null;
  /** YYYY-MM */
  month: string | null;
  threshold_percent: number | null;
  month_to_date_usd: string | null;
  budget_usd: string | null;
  forecast_usd: string | null;
  percent_used: number | null;
  owner: string | null;
  /** Anomalies: the day (YYYY-MM-DD), the entity and metric, its baseline, the observed value and the factor. */
  day: string | null;
  entity: string | null;
  metric: string | null;
  baseline: number | null;
  observed: number | null;
  factor: number | null;
  /** When the alert was created (ISO-8601) and the instant the numbers are as of. */
  created_at: string;
  as_of: string;
  /** One human sentence (the Slack text). */
  message: string;
}

const money = (v: bigint | null): string | null => (v === null ? null : formatPicoUsd(v));
const percent = (r: number | null): number | null => (r === null ? null : Math.round(r * 10_000) / 100);

const monthName = (month: string): string =>
  new Date(`${month}-01T00:00:00Z`).toLocaleString('en-US', { month: 'long', year: 'numeric', timeZone: 'UTC' });

function who(l: BudgetLine): string {
  return l.scope === 'team' ? `Team ${l.teamId}${l.costCenter === null ? '' : ` (${l.costCenter})`}` : `Cost center ${l.costCenter}`;
}

export function budgetPayload(
  kind: 'budget_threshold' | 'budget_forecast',
  alertId: string,
  line: BudgetLine,
  thresholdPercent: number | null,
  createdAt: Date,
): AlertPayload {
  const budget = line.budgetPicoUsd ?? 0n;
  const used = percent(line.usedRatio);
  const forecast = line.forecastPicoUsd === null ? '' : `; month-end forecast ${formatUsd(line.forecastPicoUsd)}`;
  const message =
    kind === 'budget_threshold'
      ? `${who(line)} has used ${used ?? 0}% of its ${monthName(line.month)} budget of ${formatUsd(budget)}: ` +
        `${formatUsd(line.monthToDatePicoUsd)} month to date${forecast} (threshold ${thresholdPercent}%).`
      : `${who(line)} is forecast to spend ${formatUsd(line.forecastPicoUsd ?? 0n)} in ${monthName(line.month)}, over its budget of ` +
        `${formatUsd(budget)} (${formatUsd(line.monthToDatePicoUsd)} month to date, ${line.daysLeft} day(s) left).`;
  return {
    kind,
    alert_id: alertId,
    scope: line.scope,
    team_id: line.teamId,
    cost_center: line.costCenter,
    month: line.month,
    threshold_percent: thresholdPercent,
    month_to_date_usd: money(line.monthToDatePicoUsd),
    budget_usd: money(line.budgetPicoUsd),
    forecast_usd: money(line.forecastPicoUsd),
    percent_used: used,
    owner: line.owner,
    day: null,
    entity: null,
    metric: null,
    baseline: null,
    observed: null,
    factor: null,
    created_at: createdAt.toISOString(),
    as_of: line.asOf,
    message: `${message}${line.owner === null ? '' : ` Owner: ${line.owner}.`}`,
  };
}

export function anomalyPayload(
  alertId: string,
  f: AnomalyFinding,
  owner: { teamId: string | null; costCenter: string | null; owner: string | null },
  createdAt: Date,
): AlertPayload {
  const value = (v: number) => (f.metric === 'cost_usd' ? `$${v.toFixed(2)}` : f.metric === 'unattributed_share' ? `${(v * 100).toFixed(1)}%` : v.toFixed(0));
  const what = f.metric === 'cost_usd' ? 'cost' : f.metric === 'tokens_per_call' ? 'tokens per call' : 'unattributed share of spend';
  const message =
    f.finding === 'new_model'
      ? `New model ${f.entity} first called on ${f.day} (${value(f.observed)} that day).`
      : `${f.dimension === 'all' ? 'The' : `${f.dimension} ${f.entity}:`} ${what} on ${f.day} was ${value(f.observed)} against a baseline of ` +
        `${value(f.baseline)}${f.factor === null ? '' : ` (${f.factor.toFixed(1)}×)`}.`;
  return {
    kind: 'anomaly',
    alert_id: alertId,
    scope: f.dimension,
    team_id: owner.teamId,
    cost_center: owner.costCenter,
    month: f.day.slice(0, 7),
    threshold_percent: null,
    month_to_date_usd: null,
    budget_usd: null,
    forecast_usd: null,
    percent_used: null,
    owner: owner.owner,
    day: f.day,
    entity: f.entity,
    metric: f.metric,
    baseline: f.baseline,
    observed: f.observed,
    factor: f.factor,
    created_at: createdAt.toISOString(),
    as_of: createdAt.toISOString(),
    message: `${message}${owner.owner === null ? '' : ` Owner: ${owner.owner}.`}`,
  };
}

/** The request body for a webhook of `format`. */
export function webhookBody(payload: AlertPayload, format: 'slack' | 'generic'): string {
  if (format === 'generic') return JSON.stringify(payload);
  const icon = payload.kind === 'anomaly' ? ':mag:' : payload.kind === 'budget_forecast' ? ':chart_with_upwards_trend:' : ':warning:';
  return JSON.stringify({ text: `${icon} genai-ledger: ${payload.message}` });
}
