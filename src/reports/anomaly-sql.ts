import { DAY_SQL } from './report-sql.js';

/**
 * Daily anomalies (the anomalies report, the alerts evaluator and the view `genai_anomalies` run this).
 *
 * Series, per UTC day: the cost and the tokens per call of each team, service and model; the share of the day's
 * priced spend that is unattributed. A day is compared with its own trailing baseline: the days of the same kind
 * (Monday–Friday or Saturday–Sunday; the unattributed share, a ratio, uses every day) among the
 * {@link BASELINE_DAYS} days before it that have a value. Baseline = their median; spread = their median absolute
 * deviation (MAD) × 1.4826 (the MAD of a normal distribution's σ). Robust statistics: one bad day in the window
 * moves neither, where a mean ± k·sd would be dragged by the very spike it should find.
 *
 * A day is a finding when all hold:
 * - at least {@link MIN_BASELINE_POINTS} baseline days;
 * - |observed − median| > {@link ROBUST_Z} × spread (a flat history has spread 0: any change past the factor counts);
 * - the factor observed / median is ≥ {@link MIN_FACTOR} or ≤ 1 / {@link MIN_FACTOR};
 * - it is worth a look: cost series — the larger of observed and median is ≥ `minDailyUsd`; tokens per call —
 *   at least `minCalls` calls that day; unattributed share — it moved by ≥ 5 percentage points.
 * A model whose first call ever is in the range is a `new_model` finding (baseline 0).
 */
export const BASELINE_DAYS = 28;
export const MIN_BASELINE_POINTS = 4;
export const ROBUST_Z = 4;
export const MIN_FACTOR = 1.5;
/** MAD → σ for normally distributed data. */
const MAD_TO_SIGMA = 1.4826;

export interface AnomalySqlOptions {
  /** SQL DATE: first day evaluated. */
  from: string;
  /** SQL DATE: day after the last day evaluated. */
  to: string;
  /** SQL predicate on genai_calls: must cover [from − BASELINE_DAYS, to). */
  where: string;
  /** Smallest daily cost (USD) that a cost finding is raised for. */
  minDailyUsd: number;
  /** Fewest calls on a day for a tokens-per-call finding. */
  minCalls: number;
}

export const DEFAULT_MIN_DAILY_USD = 1;
export const DEFAULT_MIN_CALLS = 20;

export function anomaliesSql(o: AnomalySqlOptions): string {
  const window = `PARTITION BY dimension, entity, metric, weekend ORDER BY dn RANGE BETWEEN ${BASELINE_DAYS} PRECEDING AND 1 PRECEDING`;
  return `WITH daily AS MATERIALIZED (
  SELECT ${DAY_SQL} AS "day", team_id, service, model,
    count(*) AS calls,
    sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0)) AS tokens,
    CAST(coalesce(sum(request_cost_usd), 0) AS DECIMAL(38,12)) AS cost
  FROM genai_calls
  WHERE ${o.where}
  GROUP BY ALL
),
entities AS MATERIALIZED (
  SELECT "day",
    CASE WHEN grouping(team_id) = 0 THEN 'team_id' WHEN grouping(service) = 0 THEN 'service' ELSE 'model' END AS dimension,
    coalesce(team_id, service, model) AS entity,
    sum(calls) AS calls, sum(tokens) AS tokens, sum(cost) AS cost
  FROM daily
  GROUP BY GROUPING SETS (("day", team_id), ("day", service), ("day", model))
),
metrics AS (
  SELECT "day", dimension, entity, 'cost_usd' AS metric, CAST(cost AS DOUBLE) AS value, calls FROM entities WHERE entity IS NOT NULL
  UNION ALL
  SELECT "day", dimension, entity, 'tokens_per_call' AS metric, CAST(tokens AS DOUBLE) / calls AS value, calls FROM entities
  WHERE entity IS NOT NULL AND calls > 0
  UNION ALL
  SELECT "day", 'all' AS dimension, 'unattributed' AS entity, 'unattributed_share' AS metric,
    CASE WHEN sum(cost) = 0 THEN 0.0
         ELSE CAST(coalesce(sum(cost) FILTER (WHERE team_id IS NULL), 0) AS DOUBLE) / CAST(sum(cost) AS DOUBLE) END AS value,
    sum(calls) AS calls
  FROM daily GROUP BY "day"
),
framed AS (
  SELECT *, "day" - DATE '1970-01-01' AS dn,
    CASE WHEN metric = 'unattributed_share' THEN FALSE ELSE isodow("day") >= 6 END AS weekend
  FROM metrics
),
b AS (
  SELECT *, median(value) OVER w AS baseline, mad(value) OVER w AS mad, count(value) OVER w AS baseline_days
  FROM framed
  WINDOW w AS (${window})
),
found AS (
  SELECT "day", CASE WHEN value > baseline THEN 'spike' ELSE 'drop' END AS finding, dimension, entity, metric,
    baseline, value AS observed,
    CASE WHEN baseline = 0 THEN NULL ELSE value / baseline END AS factor,
    CASE WHEN mad = 0 THEN NULL ELSE (value - baseline) / (${MAD_TO_SIGMA} * mad) END AS robust_z,
    baseline_days, calls
  FROM b
  WHERE "day" >= ${o.from} AND "day" < ${o.to}
    AND baseline_days >= ${MIN_BASELINE_POINTS}
    AND abs(value - baseline) > ${ROBUST_Z} * ${MAD_TO_SIGMA} * mad
    AND (value >= ${MIN_FACTOR} * baseline OR value * ${MIN_FACTOR} <= baseline)
    AND CASE metric
      WHEN 'cost_usd' THEN greatest(value, baseline) >= ${o.minDailyUsd}
      WHEN 'tokens_per_call' THEN calls >= ${o.minCalls}
      ELSE abs(value - baseline) >= 0.05
    END
),
first_seen AS (
  SELECT model, min(${DAY_SQL}) AS first_day FROM genai_calls WHERE model IS NOT NULL GROUP BY model
),
new_models AS (
  SELECT f.first_day AS "day", 'new_model' AS finding, 'model' AS dimension, f.model AS entity, 'cost_usd' AS metric,
    0.0 AS baseline, coalesce(CAST(e.cost AS DOUBLE), 0.0) AS observed, CAST(NULL AS DOUBLE) AS factor, CAST(NULL AS DOUBLE) AS robust_z,
    0 AS baseline_days, coalesce(e.calls, 0) AS calls
  FROM first_seen f
  LEFT JOIN entities e ON e.dimension = 'model' AND e.entity = f.model AND e."day" = f.first_day
  WHERE f.first_day >= ${o.from} AND f.first_day < ${o.to}
)
SELECT * FROM (SELECT * FROM found UNION ALL SELECT * FROM new_models)
ORDER BY "day", CASE finding WHEN 'new_model' THEN 2 ELSE 1 END, abs(coalesce(robust_z, 1e9)) DESC, dimension, entity, metric`;
}
