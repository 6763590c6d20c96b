import { DAY_SQL, divRoundSql, picoSql, usdSql } from './report-sql.js';

/**
 * Budget status per team and per cost center for one month, as of an instant (the budgets report, the alerts
 * evaluator, `GET /v1/budgets` and the view `genai_budget_status` all run this).
 *
 * - budget: the team's `monthly_budget_usd` in the teams table version in force at the as-of instant (the first
 *   recorded version when none is that old); a cost center's budget is the sum of its teams' budgets (NULL when
 *   none of them has one);
 * - month to date: the cost of the month's calls before the as-of instant (a team by `team_id`, a cost center by
 *   the rows' `cost_center`, as billed);
 * - forecast (month end), weekday/weekend aware: month to date + the rest of today + each remaining day of the
 *   month at the average daily cost of days of its kind (Monday–Friday or Saturday–Sunday) over the last 28
 *   complete days (from the first day with spend when that is later); a kind with no such day uses the other
 *   kind's average; with no complete day of history at all the forecast is NULL. Averages are integer pico-USD,
 *   rounded half up. A month that is over has its month to date as forecast.
 */
export interface BudgetSqlOptions {
  /** SQL DATE: the first day of the month. */
  monthStart: string;
  /** SQL TIMESTAMPTZ: the as-of instant (clamped to the month's end). */
  asOf: string;
  /** SQL TIMESTAMPTZ: a lower bound on the rows to scan (≤ the month start and ≤ 28 days before the as-of day). */
  scanFrom: string;
}

/** Complete days of history the forecast averages over. */
export const FORECAST_HISTORY_DAYS = 28;

export function budgetStatusSql(o: BudgetSqlOptions): string {
  const monthEnd = `CAST(${o.monthStart} + INTERVAL 1 MONTH AS DATE)`;
  const monthEndTs = `(CAST(${monthEnd} AS TIMESTAMP) AT TIME ZONE 'UTC')`;
  const asOf = `least(${o.asOf}, ${monthEndTs})`;
  const asOfDay = `CAST(${asOf} AT TIME ZONE 'UTC' AS DATE)`;
  const histStart = `CAST(${asOfDay} - ${FORECAST_HISTORY_DAYS} AS DATE)`;
  return `WITH p AS (
  SELECT CAST(${o.monthStart} AS DATE) AS month_start, ${monthEnd} AS month_end, ${asOf} AS as_of, ${asOfDay} AS as_of_day,
    ${histStart} AS hist_start, ${asOf} >= ${monthEndTs} AS month_over,
    epoch_us((CAST(${asOfDay} AS TIMESTAMP) + INTERVAL 1 DAY) AT TIME ZONE 'UTC') - epoch_us(${asOf}) AS rest_of_today_us
),
cal AS (
  SELECT CAST(r AS DATE) AS d, isodow(CAST(r AS DATE)) >= 6 AS weekend
  FROM range(CAST(least(CAST(${o.monthStart} AS DATE), ${histStart}) AS TIMESTAMP), CAST(${monthEnd} AS TIMESTAMP) + INTERVAL 1 DAY, INTERVAL 1 DAY) t(r)
),
tv AS (
  SELECT coalesce(
    (SELECT max("version") FROM genai_teams WHERE valid_from <= (SELECT as_of FROM p)),
    (SELECT min("version") FROM genai_teams)) AS v
),
teams AS (SELECT t.* FROM genai_teams t JOIN tv ON t."version" = tv.v),
daily AS MATERIALIZED (
  SELECT ${DAY_SQL} AS "day", team_id, cost_center, CAST(sum(request_cost_usd) AS DECIMAL(38,12)) AS cost
  FROM genai_calls
  WHERE "timestamp" >= ${o.scanFrom} AND "timestamp" < ${asOf}
  GROUP BY ALL
),
series AS MATERIALIZED (
  SELECT 'team' AS scope, team_id AS "key", "day", sum(cost) AS cost FROM daily WHERE team_id IS NOT NULL GROUP BY ALL
  UNION ALL
  SELECT 'cost_center' AS scope, cost_center AS "key", "day", sum(cost) AS cost FROM daily WHERE cost_center IS NOT NULL GROUP BY ALL
),
budgets AS (
  SELECT 'team' AS scope, team_id AS "key", team_id, cost_center, "owner", monthly_budget_usd AS budget_usd FROM teams
  UNION ALL
  SELECT 'cost_center' AS scope, cost_center AS "key", CAST(NULL AS VARCHAR) AS team_id, cost_center,
    string_agg(DISTINCT "owner", '; ' ORDER BY "owner") AS "owner", sum(monthly_budget_usd) AS budget_usd
  FROM teams GROUP BY cost_center
),
team_cc AS (
  SELECT team_id, arg_max(cost_center, cost) AS cost_center FROM daily WHERE team_id IS NOT NULL GROUP BY team_id
),
keys AS (
  SELECT scope, "key" FROM budgets
  UNION
  SELECT DISTINCT s.scope, s."key" FROM series s, p WHERE s."day" >= p.month_start
),
st AS (
  SELECT k.scope, k."key",
    ${picoSql(`coalesce(sum(s.cost) FILTER (WHERE s."day" >= p.month_start), 0)`)} AS mtd_pico,
    min(s."day") FILTER (WHERE s."day" >= p.hist_start AND s."day" < p.as_of_day) AS first_hist_day,
    ${picoSql(`coalesce(sum(s.cost) FILTER (WHERE s."day" >= p.hist_start AND s."day" < p.as_of_day AND isodow(s."day") < 6), 0)`)} AS wd_pico,
    ${picoSql(`coalesce(sum(s.cost) FILTER (WHERE s."day" >= p.hist_start AND s."day" < p.as_of_day AND isodow(s."day") >= 6), 0)`)} AS we_pico
  FROM keys k CROSS JOIN p LEFT JOIN series s ON s.scope = k.scope AND s."key" = k."key"
  GROUP BY k.scope, k."key"
),
days AS (
  SELECT st.*,
    (SELECT count(*) FROM cal, p WHERE cal.d >= st.first_hist_day AND cal.d < p.as_of_day AND NOT cal.weekend) AS wd_days,
    (SELECT count(*) FROM cal, p WHERE cal.d >= st.first_hist_day AND cal.d < p.as_of_day AND cal.weekend) AS we_days
  FROM st
),
rates AS (
  SELECT days.*,
    coalesce(${divRoundSql('wd_pico', 'wd_days')}, ${divRoundSql('we_pico', 'we_days')}) AS wd_rate,
    coalesce(${divRoundSql('we_pico', 'we_days')}, ${divRoundSql('wd_pico', 'wd_days')}) AS we_rate
  FROM days
),
rem AS (
  SELECT
    (SELECT count(*) FROM cal, p WHERE cal.d > p.as_of_day AND cal.d < p.month_end AND NOT cal.weekend) AS rem_wd,
    (SELECT count(*) FROM cal, p WHERE cal.d > p.as_of_day AND cal.d < p.month_end AND cal.weekend) AS rem_we
),
f AS (
  SELECT r.*, p.month_start, p.as_of, p.month_over,
    CASE WHEN p.month_over THEN 0 ELSE rem.rem_wd + rem.rem_we END AS days_left,
    CASE
      WHEN p.month_over THEN r.mtd_pico
      WHEN r.wd_rate IS NULL THEN NULL
      ELSE r.mtd_pico
        + ${divRoundSql(`(CASE WHEN isodow(p.as_of_day) >= 6 THEN r.we_rate ELSE r.wd_rate END) * p.rest_of_today_us`, '86400000000')}
        + rem.rem_wd * r.wd_rate + rem.rem_we * r.we_rate
    END AS forecast_pico
  FROM rates r CROSS JOIN p CROSS JOIN rem
)
SELECT f.month_start AS "month", f.scope,
  CASE WHEN f.scope = 'team' THEN f."key" END AS team_id,
  CASE WHEN f.scope = 'team' THEN coalesce(b.cost_center, tc.cost_center) ELSE f."key" END AS cost_center,
  b."owner",
  CAST(b.budget_usd AS DECIMAL(38,12)) AS budget_usd,
  ${usdSql('f.mtd_pico')} AS month_to_date_usd,
  CASE WHEN b.budget_usd > 0 THEN CAST(f.mtd_pico AS DOUBLE) / CAST(${picoSql('b.budget_usd')} AS DOUBLE) END AS used_ratio,
  ${usdSql('f.forecast_pico')} AS forecast_usd,
  CASE WHEN b.budget_usd > 0 THEN CAST(f.forecast_pico AS DOUBLE) / CAST(${picoSql('b.budget_usd')} AS DOUBLE) END AS forecast_ratio,
  f.days_left,
  CASE
    WHEN b.budget_usd IS NULL THEN 'no_budget'
    WHEN f.mtd_pico >= ${picoSql('b.budget_usd')} AND f.mtd_pico > 0 THEN 'over_budget'
    WHEN f.forecast_pico > ${picoSql('b.budget_usd')} THEN 'forecast_over_budget'
    ELSE 'ok'
  END AS status,
  f.as_of,
  ${usdSql('f.wd_rate')} AS weekday_daily_usd,
  ${usdSql('f.we_rate')} AS weekend_daily_usd,
  f.wd_days + f.we_days AS history_days
FROM f
LEFT JOIN budgets b ON b.scope = f.scope AND b."key" = f."key"
LEFT JOIN team_cc tc ON f.scope = 'team' AND tc.team_id = f."key"
ORDER BY CASE f.scope WHEN 'team' THEN 1 ELSE 2 END, f.mtd_pico DESC, f."key"`;
}
