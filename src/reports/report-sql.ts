/**
 * SQL building blocks shared by the ledger views (ledger-views.ts) and the `genai-ledger report` commands, so
 * a report and the view Grafana reads compute the same numbers with the same text. Every builder returns one
 * SELECT; a report passes literal bounds (so DuckDB prunes row groups by `timestamp`), a view passes none.
 *
 * Money stays DECIMAL(38,12) in SQL (bigint pico-USD in TypeScript). Where money must be divided (cost per
 * call, rates, proportional shares) the division is done on HUGEINT pico-USD and rounded half away from zero,
 * so no binary float ever carries an amount that is added up.
 */

/**
 * The calendar day of a call, in UTC whatever the session's TimeZone. Computed from the epoch (a TIMESTAMPTZ is UTC
 * microseconds): `"timestamp" AT TIME ZONE 'UTC'` gives the same day but goes through ICU, measured 13× slower
 * (2.1 s against 0.16 s on 10M rows). Ledger times are never before 1970, so the division never rounds the wrong way.
 */
export const DAY_SQL = `CAST(DATE '1970-01-01' + CAST(epoch_us("timestamp") // 86400000000 AS INTEGER) AS DATE)`;
/** The first day of the call's calendar month, in UTC. */
export const MONTH_SQL = `CAST(date_trunc('month', ${DAY_SQL}) AS DATE)`;
/** 00:00 UTC of a DATE expression, as TIMESTAMPTZ (without ICU). */
export const dayStartSql = (date: string): string => `make_timestamptz(CAST((${date}) - DATE '1970-01-01' AS BIGINT) * 86400000000)`;

/** DECIMAL USD → HUGEINT pico-USD (exact). */
export const picoSql = (usd: string): string => `CAST(CAST(${usd} AS DECIMAL(38,12)) * 1000000000000 AS HUGEINT)`;
/** HUGEINT pico-USD → DECIMAL(38,12) USD (exact). */
export const usdSql = (pico: string): string =>
  `CAST(CAST(${pico} AS DECIMAL(38,0)) * CAST('0.000000000001' AS DECIMAL(13,12)) AS DECIMAL(38,12))`;
/** num / den on integers, rounded half away from zero; NULL when den is 0 or NULL. */
export const divRoundSql = (num: string, den: string): string =>
  `CASE WHEN coalesce(${den}, 0) = 0 THEN NULL ELSE sign(${num}) * ((abs(${num}) * 2 + (${den})) // ((${den}) * 2)) END`;

/** A UTC instant as a TIMESTAMPTZ literal. */
export function timestampLiteral(ms: number): string {
  return `TIMESTAMPTZ '${new Date(ms).toISOString().replace('T', ' ').replace('Z', '+00')}'`;
}

/** A UTC day as a DATE literal. */
export function dateLiteral(ms: number): string {
  return `DATE '${new Date(ms).toISOString().slice(0, 10)}'`;
}

/** A text literal. */
export const textLiteral = (s: string): string => `'${s.replaceAll("'", "''")}'`;

/** `"timestamp"` in [from, to) as a predicate on genai_calls (either bound optional). */
export function timeRangeSql(fromMs: number | null, toMs: number | null): string {
  const parts: string[] = [];
  if (fromMs !== null) parts.push(`"timestamp" >= ${timestampLiteral(fromMs)}`);
  if (toMs !== null) parts.push(`"timestamp" < ${timestampLiteral(toMs)}`);
  return parts.length === 0 ? 'TRUE' : parts.join(' AND ');
}

/** What the ledger file being read has (a file written by an older build, opened read-only, may lack some). */
export interface LedgerShape {
  /** `genai_calls.route` and `genai_calls.api_key_alias` exist. */
  contextColumns: boolean;
}

export const FULL_SHAPE: LedgerShape = { contextColumns: true };

/**
 * The dimensions a usage report can group by. `bucket` always comes first in a report and is not listed here:
 * team usage, approved shared usage and unattributed spend are never added together in one line.
 */
export const USAGE_DIMENSIONS = ['month', 'day', 'cost_center', 'team_id', 'project_id', 'service', 'environment', 'provider', 'model'] as const;
export type UsageDimension = (typeof USAGE_DIMENSIONS)[number];

/**
 * `genai_usage_daily`: calls per UTC day and owner/technical dimensions, with the bucket each belongs to:
 * `unattributed` (no team), `shared` (a team whose `allocation` is `shared` in the version of the teams table in
 * force at the end of that day — or, for days before the first recorded version, in the first version), else
 * `team`. A team absent from the teams table is `team` usage (and has no cost center).
 */
export function usageDailySql(where = 'TRUE'): string {
  return `SELECT u."day", CAST(date_trunc('month', u."day") AS DATE) AS "month",
  CASE WHEN u.team_id IS NULL THEN 'unattributed'
       WHEN coalesce(v.allocation, f.allocation, 'direct') = 'shared' THEN 'shared'
       ELSE 'team' END AS bucket,
  u.team_id, u.cost_center, u.project_id, u.service, u.environment, u.provider, u.model,
  u.calls, u.unpriced_calls, u.input_tokens, u.cached_input_tokens, u.cache_write_tokens, u.output_tokens,
  u.reasoning_tokens, u.cost_usd
FROM (
  SELECT ${DAY_SQL} AS "day", team_id, cost_center, project_id, service, environment, provider, model,
    count(*) AS calls,
    count(*) FILTER (WHERE request_cost_usd IS NULL) AS unpriced_calls,
    coalesce(sum(input_tokens), 0) AS input_tokens,
    coalesce(sum(cached_input_tokens), 0) AS cached_input_tokens,
    coalesce(sum(cache_write_tokens), 0) AS cache_write_tokens,
    coalesce(sum(output_tokens), 0) AS output_tokens,
    coalesce(sum(reasoning_tokens), 0) AS reasoning_tokens,
    CAST(sum(request_cost_usd) AS DECIMAL(38,12)) AS cost_usd
  FROM genai_calls
  WHERE ${where}
  GROUP BY ALL
) u
ASOF LEFT JOIN (SELECT team_id, allocation, valid_from FROM genai_teams) v
  ON u.team_id = v.team_id AND ${dayStartSql('u."day" + 1')} > v.valid_from
LEFT JOIN (SELECT team_id, arg_min(allocation, "version") AS allocation FROM genai_teams GROUP BY team_id) f
  ON u.team_id = f.team_id`;
}

/** Orders buckets in every report: team usage, then approved shared usage, then unattributed. */
export const BUCKET_ORDER_SQL = `CASE bucket WHEN 'team' THEN 1 WHEN 'shared' THEN 2 ELSE 3 END`;

export interface ChargebackSqlOptions {
  where?: string;
  dims: readonly UsageDimension[];
  /** Partition of the shared allocation: the whole result, or each month (needs `month` in dims). */
  allocationPer: 'all' | 'month';
}

/**
 * Chargeback lines: per bucket and `dims`, calls, tokens per class, cost, unpriced calls, coverage (the share
 * of the line's priced spend that has both a team and a cost center), and `shared_allocation_usd`: the
 * approved shared spend of the partition spread over the `team` lines in proportion to their cost (largest
 * remainder to the pico-dollar, so the allocations add up to the shared total exactly). It is its own column:
 * `cost_usd` never includes it. Unattributed spend is never spread.
 */
export function chargebackSql(o: ChargebackSqlOptions): string {
  const dims = o.dims.map((d) => `"${d}"`);
  const dimList = dims.length === 0 ? '' : `, ${dims.join(', ')}`;
  const perMonth = o.allocationPer === 'month';
  const part = perMonth ? '"month"' : '';
  const groupPart = perMonth ? 'GROUP BY "month"' : '';
  const joinPart = (a: string, b: string) => (perMonth ? `${a}."month" = ${b}."month"` : 'TRUE');
  // CTEs read more than once are MATERIALIZED: DuckDB would otherwise compute them once per reference (measured:
  // 1.5 s → 0.5 s for 70k lines from 850k calls).
  return `WITH usage AS (${usageDailySql(o.where)}),
lines AS MATERIALIZED (
  SELECT bucket${dimList},
    sum(calls) AS calls,
    sum(input_tokens) AS input_tokens, sum(cached_input_tokens) AS cached_input_tokens,
    sum(cache_write_tokens) AS cache_write_tokens, sum(output_tokens) AS output_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    CAST(sum(cost_usd) AS DECIMAL(38,12)) AS cost_usd,
    ${picoSql('coalesce(sum(cost_usd), 0)')} AS cost_pico,
    sum(unpriced_calls) AS unpriced_calls,
    CAST(coalesce(sum(cost_usd) FILTER (WHERE bucket <> 'unattributed' AND cost_center IS NOT NULL), 0) AS DECIMAL(38,12)) AS attributed_usd
  FROM usage
  GROUP BY bucket${dimList}
),
totals AS (
  SELECT ${perMonth ? '"month", ' : ''}coalesce(sum(cost_pico) FILTER (WHERE bucket = 'shared'), 0) AS shared_pico,
    coalesce(sum(cost_pico) FILTER (WHERE bucket = 'team'), 0) AS team_pico
  FROM lines ${groupPart}
),
shares AS MATERIALIZED (
  SELECT l.*, t.shared_pico, t.team_pico,
    CASE WHEN l.bucket = 'team' AND t.team_pico > 0 THEN (t.shared_pico * l.cost_pico) // t.team_pico END AS base_share,
    CASE WHEN l.bucket = 'team' AND t.team_pico > 0 THEN (t.shared_pico * l.cost_pico) % t.team_pico END AS remainder
  FROM lines l JOIN totals t ON ${joinPart('l', 't')}
),
leftovers AS (
  SELECT ${perMonth ? '"month", ' : ''}max(shared_pico) - sum(base_share) AS leftover FROM shares WHERE base_share IS NOT NULL ${groupPart}
),
ranked AS (
  SELECT s.*, lo.leftover,
    CASE WHEN s.base_share IS NOT NULL THEN row_number() OVER (PARTITION BY s.base_share IS NULL${part === '' ? '' : `, s.${part}`}
      ORDER BY s.remainder DESC, s.bucket${dims.map((d) => `, s.${d}`).join('')}) END AS remainder_rank
  FROM shares s LEFT JOIN leftovers lo ON ${joinPart('s', 'lo')}
)
SELECT bucket${dimList}, calls, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens,
  cost_usd, unpriced_calls,
  CASE WHEN cost_pico = 0 THEN NULL ELSE CAST(attributed_usd AS DOUBLE) / CAST(cost_usd AS DOUBLE) END AS coverage,
  CASE WHEN bucket = 'team' THEN ${usdSql(`coalesce(base_share, 0) + CASE WHEN remainder_rank <= leftover THEN 1 ELSE 0 END`)} END AS shared_allocation_usd,
  attributed_usd
FROM ranked
ORDER BY ${perMonth ? '"month", ' : ''}${BUCKET_ORDER_SQL}, cost_usd DESC NULLS LAST${dimList}`;
}

/** One comparison: the current period against the previous one, named by `period` (a month's first day in the view). */
export interface PeriodPair {
  /** SQL that yields rows (period, cur_start, cur_end, prev_start, prev_end) of DATEs; ends exclusive. */
  periodsSql: string;
  /** Predicate on genai_calls covering both periods of every row (for pruning). */
  where?: string;
}

/**
 * Variance lines: per period, bucket and `dims`, the previous and current cost, delta, delta % (of previous),
 * share of the period's total change, calls and cost per priced call on both sides, and the delta split into a
 * volume effect (change in priced calls × previous cost per call) and a cost-per-call effect (the rest, so the two
 * add up to the delta exactly).
 */
export function varianceSql(pair: PeriodPair, dims: readonly string[]): string {
  const d = dims.map((x) => `"${x}"`);
  const dimList = d.length === 0 ? '' : `, ${d.join(', ')}`;
  return `WITH periods AS (${pair.periodsSql}),
usage AS MATERIALIZED (${usageDailySql(pair.where)}),
sides AS (
  SELECT p.period, 'current' AS side, u.* FROM periods p JOIN usage u ON u."day" >= p.cur_start AND u."day" < p.cur_end
  UNION ALL
  SELECT p.period, 'previous' AS side, u.* FROM periods p JOIN usage u ON u."day" >= p.prev_start AND u."day" < p.prev_end
),
g AS (
  SELECT period, bucket${dimList},
    ${picoSql(`coalesce(sum(cost_usd) FILTER (WHERE side = 'previous'), 0)`)} AS prev_pico,
    ${picoSql(`coalesce(sum(cost_usd) FILTER (WHERE side = 'current'), 0)`)} AS cur_pico,
    coalesce(sum(calls) FILTER (WHERE side = 'previous'), 0) AS previous_calls,
    coalesce(sum(calls) FILTER (WHERE side = 'current'), 0) AS current_calls,
    coalesce(sum(calls - unpriced_calls) FILTER (WHERE side = 'previous'), 0) AS prev_priced,
    coalesce(sum(calls - unpriced_calls) FILTER (WHERE side = 'current'), 0) AS cur_priced
  FROM sides
  GROUP BY period, bucket${dimList}
),
e AS (
  SELECT *, cur_pico - prev_pico AS delta_pico,
    ${divRoundSql('prev_pico', 'prev_priced')} AS prev_cpc_pico,
    ${divRoundSql('cur_pico', 'cur_priced')} AS cur_cpc_pico,
    sum(cur_pico - prev_pico) OVER (PARTITION BY period) AS total_delta_pico
  FROM g
),
v AS (
  SELECT *, CASE WHEN prev_priced = 0 THEN delta_pico ELSE (cur_priced - prev_priced) * prev_cpc_pico END AS volume_pico
  FROM e
)
SELECT period, bucket${dimList},
  ${usdSql('prev_pico')} AS previous_usd,
  ${usdSql('cur_pico')} AS current_usd,
  ${usdSql('delta_pico')} AS delta_usd,
  CASE WHEN prev_pico = 0 THEN NULL ELSE CAST(delta_pico AS DOUBLE) / CAST(prev_pico AS DOUBLE) END AS delta_ratio,
  CASE WHEN total_delta_pico = 0 THEN NULL ELSE CAST(delta_pico AS DOUBLE) / CAST(total_delta_pico AS DOUBLE) END AS share_of_change,
  previous_calls, current_calls,
  ${usdSql('prev_cpc_pico')} AS previous_cost_per_call_usd,
  ${usdSql('cur_cpc_pico')} AS current_cost_per_call_usd,
  ${usdSql('volume_pico')} AS volume_effect_usd,
  ${usdSql('delta_pico - volume_pico')} AS cost_per_call_effect_usd,
  CASE
    WHEN delta_pico = 0 THEN 'flat'
    WHEN prev_pico = 0 THEN 'new'
    WHEN cur_pico = 0 THEN 'gone'
    WHEN abs(volume_pico) >= 2 * abs(delta_pico - volume_pico) THEN 'volume'
    WHEN abs(delta_pico - volume_pico) >= 2 * abs(volume_pico) THEN 'cost per call'
    ELSE 'volume and cost per call'
  END AS driver
FROM v
ORDER BY period, ${BUCKET_ORDER_SQL}, abs(delta_pico) DESC${dimList}`;
}

/** Every month of the ledger against the month before it (for the variance views). */
export const MONTHLY_PERIODS_SQL = `SELECT "month" AS period, "month" AS cur_start, CAST("month" + INTERVAL 1 MONTH AS DATE) AS cur_end,
  CAST("month" - INTERVAL 1 MONTH AS DATE) AS prev_start, "month" AS prev_end
FROM (SELECT DISTINCT ${MONTH_SQL} AS "month" FROM genai_calls)`;

/** The routing of the exceptions queue: who fixes what (DESIGN.md, Ownership). */
export const EXCEPTION_OWNER_SQL = `CASE attribution_status
    WHEN 'missing_team' THEN 'platform'
    WHEN 'missing_cost_center' THEN 'finops'
    WHEN 'unpriced_model' THEN 'finops'
    ELSE 'application' END`;

/**
 * The exceptions queue, grouped so that each line is one thing to fix: per owner (platform | finops |
 * application), reason (the row's `attribution_status`, so a call is counted once), team, service, route, API key
 * alias, provider and model: first and last seen, calls, the priced part of their cost, the calls without a cost,
 * and the money at stake (`estimated_cost_usd`): the priced cost plus, for each call without one, the average
 * cost per priced call of the same provider and model in the same scope, else of every priced call in scope.
 */
export function exceptionsSql(where = 'TRUE', shape: LedgerShape = FULL_SHAPE): string {
  const route = shape.contextColumns ? 'route' : 'CAST(NULL AS VARCHAR)';
  const alias = shape.contextColumns ? 'api_key_alias' : 'CAST(NULL AS VARCHAR)';
  return `WITH scope AS MATERIALIZED (
  SELECT provider, model, attribution_status, team_id, cost_center, service, ${route} AS route, ${alias} AS api_key_alias,
    environment, "timestamp", request_cost_usd, exceptions
  FROM genai_calls WHERE ${where}
),
model_avg AS (
  SELECT provider, model, ${divRoundSql(picoSql('sum(request_cost_usd)'), 'count(request_cost_usd)')} AS avg_pico
  FROM scope WHERE request_cost_usd IS NOT NULL GROUP BY ALL
),
all_avg AS (
  SELECT ${divRoundSql(picoSql('sum(request_cost_usd)'), 'count(request_cost_usd)')} AS avg_pico FROM scope
),
q AS (
  SELECT ${EXCEPTION_OWNER_SQL} AS "owner", attribution_status AS reason, team_id, cost_center, service,
    route, api_key_alias, provider, model, environment, "timestamp", request_cost_usd, exceptions
  FROM scope
  WHERE attribution_status <> 'attributed'
),
g AS (
  SELECT "owner", reason, team_id, cost_center, service, route, api_key_alias, provider, model,
    min("timestamp") AS first_seen, max("timestamp") AS last_seen, count(*) AS calls,
    CAST(coalesce(sum(request_cost_usd), 0) AS DECIMAL(38,12)) AS cost_usd,
    count(*) FILTER (WHERE request_cost_usd IS NULL) AS unpriced_calls,
    list_sort(list_distinct(flatten(list(exceptions)))) AS all_reasons,
    list_sort(list_distinct(list(environment))) AS environments
  FROM q
  GROUP BY ALL
)
SELECT g."owner", g.reason, g.team_id, g.cost_center, g.service, g.route, g.api_key_alias, g.provider, g.model,
  g.first_seen, g.last_seen, g.calls, g.cost_usd, g.unpriced_calls,
  ${usdSql(`${picoSql('g.cost_usd')} + g.unpriced_calls * coalesce(m.avg_pico, a.avg_pico, 0)`)} AS estimated_cost_usd,
  list_filter(g.all_reasons, r -> r <> g.reason) AS other_reasons,
  g.environments
FROM g
LEFT JOIN model_avg m ON g.provider IS NOT DISTINCT FROM m.provider AND g.model IS NOT DISTINCT FROM m.model
CROSS JOIN all_avg a
ORDER BY estimated_cost_usd DESC, g.calls DESC, g."owner", g.reason, g.team_id NULLS FIRST, g.service NULLS FIRST, g.route NULLS FIRST`;
}
