/**
 * The FinOps views of the ledger (docs/reports.md): the same SQL the `genai-ledger report` commands and the
 * alerts run, stored in the ledger so Grafana, BI tools and plain SQL get the same numbers. Re-created on every
 * open with the other views (exporters/duckdb/schema.ts, LEDGER_VIEWS), after the tables they read.
 *
 * This file imports nothing from the exporter: schema.ts imports it.
 */
import { anomaliesSql, DEFAULT_MIN_CALLS, DEFAULT_MIN_DAILY_USD } from './anomaly-sql.js';
import { budgetStatusSql } from './budget-sql.js';
import { chargebackSql, exceptionsSql, MONTHLY_PERIODS_SQL, usageDailySql, varianceSql } from './report-sql.js';

const view = (name: string, sql: string): string => `CREATE OR REPLACE VIEW ${name} AS\n${sql}`;

/** Month of the current instant, UTC. */
const THIS_MONTH = `CAST(date_trunc('month', now() AT TIME ZONE 'UTC') AS DATE)`;

export const REPORT_VIEW_SQL: Readonly<Record<string, string>> = {
  /** The current version of each mapping table. */
  genai_teams_current: `SELECT * EXCLUDE (valid_to) FROM genai_teams WHERE valid_to IS NULL`,
  genai_services_current: `SELECT * EXCLUDE (valid_to) FROM genai_services WHERE valid_to IS NULL`,
  /** Calls, tokens per class and cost per UTC day, owner and model, with the bucket (team | shared | unattributed). */
  genai_usage_daily: usageDailySql(),
  /** Monthly chargeback per bucket, cost center and team, with the shared allocation as its own column. */
  genai_chargeback_buckets_monthly: chargebackSql({ dims: ['month', 'cost_center', 'team_id'], allocationPer: 'month' }),
  /** Each month against the one before, per bucket and team. */
  genai_variance_monthly: `SELECT * RENAME (period AS "month") FROM (${varianceSql({ periodsSql: MONTHLY_PERIODS_SQL }, ['team_id'])})`,
  /** The same per bucket, team and model: which models moved. */
  genai_variance_models_monthly: `SELECT * RENAME (period AS "month") FROM (${varianceSql({ periodsSql: MONTHLY_PERIODS_SQL }, ['team_id', 'model'])})`,
  /** The exceptions queue, routed to platform | finops | application, by money at stake. */
  genai_exception_queue: exceptionsSql(),
  /** This month's budget status per team and cost center, as of now. */
  genai_budget_status: budgetStatusSql({
    monthStart: THIS_MONTH,
    asOf: 'now()',
    scanFrom: `now() - INTERVAL 70 DAY`,
  }),
  /** Every anomaly finding over the whole ledger. */
  genai_anomalies: anomaliesSql({
    from: `DATE '1970-01-01'`,
    to: `DATE '9999-12-31'`,
    where: 'TRUE',
    minDailyUsd: DEFAULT_MIN_DAILY_USD,
    minCalls: DEFAULT_MIN_CALLS,
  }),
};

export const REPORT_VIEWS: readonly string[] = Object.entries(REPORT_VIEW_SQL).map(([name, sql]) => view(name, sql));
