/**
 * The DuckDB ledger schema: table `genai_calls` (one row per LLM call), table `ledger_meta` (how we
 * recognise our own files), and the views FinOps queries. docs/schema.md documents every column.
 *
 * The first 19 columns of `genai_calls` are the contract of DESIGN.md, in that order: users' SQL depends on
 * them, so they are never renamed or retyped. New columns are only ever appended after them.
 */

import { REPORT_VIEWS } from '../../src/reports/ledger-views.js';

/** Bumped (with a migration) whenever the DDL below changes in a way an existing file must follow. */
export const SCHEMA_VERSION = 1;

/** DECIMAL(18,12): 6 integer digits (up to $999,999.999999999999 per call), exact to the pico-dollar. */
export const MONEY_TYPE = 'DECIMAL(18,12)';
export const MONEY_WIDTH = 18;
export const MONEY_SCALE = 12;

export interface LedgerColumn {
  name: string;
  sqlType: string;
  notNull?: boolean;
  /** SQL default; columns with a default are filled by DuckDB, not by the exporter. */
  default?: string;
}

/** The contract columns of DESIGN.md, in order. */
export const CONTRACT_COLUMNS: readonly LedgerColumn[] = [
  { name: 'timestamp', sqlType: 'TIMESTAMPTZ', notNull: true },
  { name: 'trace_id', sqlType: 'VARCHAR', notNull: true },
  { name: 'span_id', sqlType: 'VARCHAR', notNull: true },
  { name: 'provider', sqlType: 'VARCHAR' },
  { name: 'model', sqlType: 'VARCHAR' },
  { name: 'operation', sqlType: 'VARCHAR' },
  { name: 'team_id', sqlType: 'VARCHAR' },
  { name: 'cost_center', sqlType: 'VARCHAR' },
  { name: 'project_id', sqlType: 'VARCHAR' },
  { name: 'service', sqlType: 'VARCHAR' },
  { name: 'environment', sqlType: 'VARCHAR' },
  { name: 'input_tokens', sqlType: 'BIGINT' },
  { name: 'cached_input_tokens', sqlType: 'BIGINT' },
  { name: 'cache_write_tokens', sqlType: 'BIGINT' },
  { name: 'output_tokens', sqlType: 'BIGINT' },
  { name: 'reasoning_tokens', sqlType: 'BIGINT' },
  { name: 'unit_price_snapshot', sqlType: 'VARCHAR' },
  { name: 'request_cost_usd', sqlType: MONEY_TYPE },
  { name: 'attribution_status', sqlType: 'VARCHAR', notNull: true },
];

/** Columns beyond the contract: debugging context and the per-class cost breakdown. */
export const EXTRA_COLUMNS: readonly LedgerColumn[] = [
  { name: 'end_timestamp', sqlType: 'TIMESTAMPTZ' },
  { name: 'duration_ms', sqlType: 'DOUBLE' },
  { name: 'parent_span_id', sqlType: 'VARCHAR' },
  { name: 'span_name', sqlType: 'VARCHAR' },
  { name: 'request_model', sqlType: 'VARCHAR' },
  { name: 'response_model', sqlType: 'VARCHAR' },
  { name: 'total_tokens', sqlType: 'BIGINT' },
  { name: 'attribution_source', sqlType: 'VARCHAR' },
  { name: 'input_cost_usd', sqlType: MONEY_TYPE },
  { name: 'cached_input_cost_usd', sqlType: MONEY_TYPE },
  { name: 'cache_write_cost_usd', sqlType: MONEY_TYPE },
  { name: 'output_cost_usd', sqlType: MONEY_TYPE },
  { name: 'exceptions', sqlType: 'VARCHAR[]', notNull: true },
  { name: 'status', sqlType: 'VARCHAR', notNull: true },
  { name: 'instrumentation_scope', sqlType: 'VARCHAR' },
  { name: 'ingested_at', sqlType: 'TIMESTAMPTZ', notNull: true, default: 'now()' },
  // Pricing detail (docs/pricing.md); added to existing ledgers by ADD_MISSING_COLUMNS.
  { name: 'cache_write_1h_tokens', sqlType: 'BIGINT' },
  { name: 'service_tier', sqlType: 'VARCHAR' },
  { name: 'reported_cost_usd', sqlType: MONEY_TYPE },
  { name: 'cache_write_1h_cost_usd', sqlType: MONEY_TYPE },
  { name: 'reasoning_cost_usd', sqlType: MONEY_TYPE },
  { name: 'input_audio_tokens', sqlType: 'BIGINT' },
  { name: 'output_audio_tokens', sqlType: 'BIGINT' },
  // Token provenance (docs/instrumentation.md); added to existing ledgers by ADD_MISSING_COLUMNS.
  { name: 'token_convention', sqlType: 'VARCHAR' },
  { name: 'token_source', sqlType: 'VARCHAR' },
  // Pseudonymized user id (docs/security.md); added to existing ledgers by ADD_MISSING_COLUMNS.
  { name: 'user_id', sqlType: 'VARCHAR' },
  // Counted once and ownership across the trace (docs/schema.md); added to existing ledgers by ADD_MISSING_COLUMNS.
  { name: 'response_id', sqlType: 'VARCHAR' },
  { name: 'attribution_updated_at', sqlType: 'TIMESTAMPTZ' },
  // Exception context (docs/reports.md): `http.route` of the nearest SERVER-kind ancestor span, and the API key
  // alias (LiteLLM `metadata.user_api_key_alias`, else its key hash); added to existing ledgers by ADD_MISSING_COLUMNS.
  { name: 'route', sqlType: 'VARCHAR' },
  { name: 'api_key_alias', sqlType: 'VARCHAR' },
];

export const LEDGER_COLUMNS: readonly LedgerColumn[] = [...CONTRACT_COLUMNS, ...EXTRA_COLUMNS];

/** Quotes an identifier (`timestamp` is a keyword, so every column name is quoted). */
export const ident = (name: string): string => `"${name.replaceAll('"', '""')}"`;

const columnDdl = (c: LedgerColumn): string =>
  `  ${ident(c.name)} ${c.sqlType}${c.notNull ? ' NOT NULL' : ''}${c.default ? ` DEFAULT ${c.default}` : ''}`;

/** `genai_calls`. The primary key makes a re-sent export (same trace_id, span_id) count once. */
export const CREATE_GENAI_CALLS = `CREATE TABLE genai_calls (
${LEDGER_COLUMNS.map(columnDdl).join(',\n')},
  PRIMARY KEY (trace_id, span_id)
)`;

export const CREATE_LEDGER_META = `CREATE TABLE ledger_meta (
  "key" VARCHAR PRIMARY KEY,
  "value" VARCHAR NOT NULL
)`;

/** The exceptions queue: every call that could not be fully attributed or priced. */
export const CREATE_GENAI_EXCEPTIONS_VIEW = `CREATE OR REPLACE VIEW genai_exceptions AS
SELECT *
FROM genai_calls
WHERE attribution_status <> 'attributed'`;

/**
 * Monthly chargeback per team and cost center. Months are calendar months in UTC whatever the session
 * time zone, so the same SQL gives the same invoice on every machine. The UTC month is taken from the epoch
 * (`make_timestamp(epoch_us(...))`, a naive UTC timestamp) rather than `AT TIME ZONE 'UTC'`: the same months,
 * 4x faster over 1M rows (205 → 53 ms), which matters when Grafana polls it while the ledger ingests. `cost_usd` sums the priced calls;
 * `unpriced_calls` counts the calls whose cost is NULL so a missing price is never a silent $0.
 */
export const CREATE_CHARGEBACK_MONTHLY_VIEW = `CREATE OR REPLACE VIEW genai_chargeback_monthly AS
SELECT
  CAST(date_trunc('month', make_timestamp(epoch_us("timestamp"))) AS DATE) AS "month",
  team_id,
  cost_center,
  count(*) AS calls,
  sum(input_tokens) AS input_tokens,
  sum(output_tokens) AS output_tokens,
  sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0)) AS tokens,
  sum(request_cost_usd) AS cost_usd,
  count(*) FILTER (WHERE request_cost_usd IS NULL) AS unpriced_calls
FROM genai_calls
GROUP BY ALL`;

/** The columns `genai_duplicate_spans` has beyond those of `genai_calls`. */
export const DUPLICATE_COLUMNS: readonly LedgerColumn[] = [
  { name: 'duplicate_of_trace_id', sqlType: 'VARCHAR' },
  { name: 'duplicate_of_span_id', sqlType: 'VARCHAR' },
  { name: 'duplicate_reason', sqlType: 'VARCHAR' },
];

/**
 * `genai_duplicate_spans`: GenAI spans found to describe a call that is already billed in `genai_calls` (an
 * outer span repeating its inner call's usage, or the same provider call traced twice). Same columns as
 * `genai_calls` plus which billed span they duplicate and why; the same primary key, so a re-sent duplicate
 * is stored once. A (trace_id, span_id) is in one of the two tables, never both.
 */
export const CREATE_GENAI_DUPLICATE_SPANS = `CREATE TABLE IF NOT EXISTS genai_duplicate_spans (
${[...LEDGER_COLUMNS, ...DUPLICATE_COLUMNS].map(columnDdl).join(',\n')},
  PRIMARY KEY (trace_id, span_id)
)`;

/** Every GenAI span seen: the billed calls and their duplicates, with `is_duplicate` to tell them apart. */
export const CREATE_GENAI_ALL_SPANS_VIEW = `CREATE OR REPLACE VIEW genai_all_spans AS
SELECT *, FALSE AS is_duplicate, CAST(NULL AS VARCHAR) AS duplicate_of_trace_id, CAST(NULL AS VARCHAR) AS duplicate_of_span_id,
  CAST(NULL AS VARCHAR) AS duplicate_reason
FROM genai_calls
UNION ALL BY NAME
SELECT *, TRUE AS is_duplicate
FROM genai_duplicate_spans`;

/**
 * Nullable columns appended after a ledger file was created: added to an existing file when it is opened,
 * so a ledger written by an older build keeps working (old rows read NULL in them).
 */
export const ADD_MISSING_COLUMNS: readonly string[] = LEDGER_COLUMNS.filter((c) => !c.notNull && c.default === undefined).map(
  (c) => `ALTER TABLE genai_calls ADD COLUMN IF NOT EXISTS ${ident(c.name)} ${c.sqlType}`,
);

/** The same for `genai_duplicate_spans` (created by an older build with fewer columns). */
export const ADD_MISSING_DUPLICATE_COLUMNS: readonly string[] = LEDGER_COLUMNS.filter((c) => !c.notNull && c.default === undefined).map(
  (c) => `ALTER TABLE genai_duplicate_spans ADD COLUMN IF NOT EXISTS ${ident(c.name)} ${c.sqlType}`,
);

/**
 * Reference data and alerts (docs/reports.md). `genai_teams` / `genai_services`: every version of the mapping
 * tables, written by `recordMappingTables` (src/reports/record-mapping-tables.ts) each time the server loads
 * them; a new version (all rows of the file, one `version` number) only when the content changed. A row is in
 * force from `valid_from` until `valid_to` (NULL: the current version).
 */
export const CREATE_GENAI_TEAMS = `CREATE TABLE IF NOT EXISTS genai_teams (
  team_id VARCHAR NOT NULL,
  cost_center VARCHAR NOT NULL,
  "owner" VARCHAR,
  monthly_budget_usd DECIMAL(38,12),
  allocation VARCHAR NOT NULL,
  extra MAP(VARCHAR, VARCHAR),
  "version" INTEGER NOT NULL,
  valid_from TIMESTAMPTZ NOT NULL,
  valid_to TIMESTAMPTZ,
  source_file VARCHAR,
  source_sha256 VARCHAR,
  content_sha256 VARCHAR NOT NULL,
  PRIMARY KEY (team_id, "version")
)`;

export const CREATE_GENAI_SERVICES = `CREATE TABLE IF NOT EXISTS genai_services (
  service VARCHAR NOT NULL,
  team_id VARCHAR NOT NULL,
  project_id VARCHAR,
  "version" INTEGER NOT NULL,
  valid_from TIMESTAMPTZ NOT NULL,
  valid_to TIMESTAMPTZ,
  source_file VARCHAR,
  source_sha256 VARCHAR,
  content_sha256 VARCHAR NOT NULL,
  PRIMARY KEY (service, "version")
)`;

/**
 * Alerts sent while serving (src/alerts/): one row per alert, keyed by what it is about (`alert_id`, e.g.
 * `budget_threshold/team/search/2026-05/90`), so an alert is created once whatever restarts happen; one row
 * per alert and webhook in `genai_alert_deliveries` with the delivery state.
 */
export const CREATE_GENAI_ALERTS = `CREATE TABLE IF NOT EXISTS genai_alerts (
  alert_id VARCHAR PRIMARY KEY,
  kind VARCHAR NOT NULL,
  team_id VARCHAR,
  cost_center VARCHAR,
  "month" DATE,
  threshold_percent INTEGER,
  created_at TIMESTAMPTZ NOT NULL,
  payload VARCHAR NOT NULL,
  delivery_status VARCHAR NOT NULL
)`;

export const CREATE_GENAI_ALERT_DELIVERIES = `CREATE TABLE IF NOT EXISTS genai_alert_deliveries (
  alert_id VARCHAR NOT NULL,
  webhook VARCHAR NOT NULL,
  status VARCHAR NOT NULL,
  attempts INTEGER NOT NULL,
  next_attempt_at TIMESTAMPTZ,
  last_attempt_at TIMESTAMPTZ,
  delivered_at TIMESTAMPTZ,
  last_error VARCHAR,
  PRIMARY KEY (alert_id, webhook)
)`;

/** The reference-data and alert tables, created when missing (every open: an older ledger gets them too). */
export const FINOPS_TABLES: readonly string[] = [CREATE_GENAI_TEAMS, CREATE_GENAI_SERVICES, CREATE_GENAI_ALERTS, CREATE_GENAI_ALERT_DELIVERIES];

/**
 * Run on every open after ADD_MISSING_COLUMNS (and in a new ledger): the views are re-created so a newer
 * version's definitions apply. The FinOps tables ride along (CREATE TABLE IF NOT EXISTS) because the report
 * views read them; the report views themselves are defined in src/reports/ledger-views.ts.
 */
export const LEDGER_VIEWS: readonly string[] = [
  CREATE_GENAI_EXCEPTIONS_VIEW,
  CREATE_CHARGEBACK_MONTHLY_VIEW,
  ...FINOPS_TABLES,
  ...REPORT_VIEWS,
];


/** Every statement that turns an empty database into a ledger (run in one transaction). */
export function createLedgerStatements(createdBy: string, createdAt: Date): string[] {
  const lit = (s: string) => `'${s.replaceAll("'", "''")}'`;
  return [
    CREATE_GENAI_CALLS,
    CREATE_LEDGER_META,
    `INSERT INTO ledger_meta VALUES
  ('schema_version', ${lit(String(SCHEMA_VERSION))}),
  ('created_at', ${lit(createdAt.toISOString())}),
  ('created_by', ${lit(createdBy)})`,
    ...LEDGER_VIEWS,
    ...DUPLICATE_SPANS_STATEMENTS,
  ];
}

// ---- Reconciliation with provider bills (docs/reconciliation.md) --------------------------------------
// Everything below is created when missing on every open (DUPLICATE_SPANS_STATEMENTS, at the end, includes it), so a
// ledger from an older build gains it.

/** Money on a bill line: up to 26 integer digits, exact to the pico-dollar like the ledger. */
export const BILL_MONEY_TYPE = 'DECIMAL(38,12)';

/**
 * `provider_costs`: one row per line of a provider's bill or usage report, normalized
 * (src/reconcile/import-bill.ts). `record_key` is derived from the line's own identity (not from the file),
 * so importing the same line again — the same file twice, or an API pull that overlaps an imported file —
 * replaces it instead of counting it twice.
 */
function createProviderCostsTable(): string {
  return `CREATE TABLE IF NOT EXISTS provider_costs (
  record_key VARCHAR PRIMARY KEY,
  provider VARCHAR NOT NULL,
  source_family VARCHAR NOT NULL,
  source_format VARCHAR NOT NULL,
  record_kind VARCHAR NOT NULL,
  "day" DATE,
  model VARCHAR,
  publisher VARCHAR,
  token_class VARCHAR NOT NULL,
  service_tier VARCHAR,
  context_window VARCHAR,
  scope_type VARCHAR,
  scope_id VARCHAR,
  api_key_id VARCHAR,
  quantity DECIMAL(38,6),
  quantity_unit VARCHAR,
  billed_usd ${BILL_MONEY_TYPE},
  list_usd ${BILL_MONEY_TYPE},
  description VARCHAR,
  source_file VARCHAR NOT NULL,
  source_sha256 VARCHAR NOT NULL,
  source_row BIGINT NOT NULL,
  parse_status VARCHAR NOT NULL,
  parse_note VARCHAR,
  raw_text VARCHAR,
  imported_at TIMESTAMPTZ NOT NULL DEFAULT now()
)`;
}

/** One row per imported file (or API pull): importing content with the same hash again changes nothing. */
function createProviderCostImportsTable(): string {
  return `CREATE TABLE IF NOT EXISTS provider_cost_imports (
  source_sha256 VARCHAR PRIMARY KEY,
  source_file VARCHAR NOT NULL,
  provider VARCHAR NOT NULL,
  source_format VARCHAR NOT NULL,
  lines BIGINT NOT NULL,
  unparsed_lines BIGINT NOT NULL,
  skipped_rows BIGINT NOT NULL,
  billed_usd ${BILL_MONEY_TYPE},
  first_day DATE,
  last_day DATE,
  imported_at TIMESTAMPTZ NOT NULL DEFAULT now()
)`;
}

/** Provider scope (OpenAI project, Anthropic workspace, IAM principal, GCP project, Azure resource, tag) → team. */
function createProviderScopesTable(): string {
  return `CREATE TABLE IF NOT EXISTS provider_scopes (
  provider VARCHAR NOT NULL,
  scope_id VARCHAR NOT NULL,
  team_id VARCHAR NOT NULL,
  scope_type VARCHAR,
  note VARCHAR,
  PRIMARY KEY (provider, scope_id)
)`;
}

/** Thresholds above which a reconciliation gap becomes an exception (`genai-ledger reconcile thresholds`). */
export const RECONCILIATION_SETTING_DEFAULTS: Readonly<Record<'min_gap_usd' | 'min_gap_pct', string>> = {
  /** A gap smaller than this (USD, per month × provider × model × token class) is never an exception. */
  min_gap_usd: '1.00',
  /** Nor a gap smaller than this percentage of the billed amount. */
  min_gap_pct: '2',
};

function reconciliationSettingsStatements(): string[] {
  const lit = (s: string) => `'${s.replaceAll("'", "''")}'`;
  return [
    `CREATE TABLE IF NOT EXISTS reconciliation_settings (
  "key" VARCHAR PRIMARY KEY,
  "value" VARCHAR NOT NULL
)`,
    `INSERT OR IGNORE INTO reconciliation_settings VALUES ${Object.entries(RECONCILIATION_SETTING_DEFAULTS)
      .map(([k, v]) => `(${lit(k)}, ${lit(v)})`)
      .join(', ')}`,
  ];
}

/**
 * `genai_provider_family(provider)`: the bill a ledger provider name is reconciled against — `openai`,
 * `anthropic`, `aws` (Bedrock, including Anthropic models sold through AWS Marketplace), `gcp` (Vertex AI,
 * Gemini API), `azure`; anything else lower-cased as is.
 */
function createProviderFamilyMacro(): string {
  return `CREATE OR REPLACE MACRO genai_provider_family(p) AS CASE
  WHEN p IS NULL THEN NULL
  WHEN lower(p) LIKE 'aws%' OR lower(p) LIKE '%bedrock%' THEN 'aws'
  WHEN lower(p) LIKE 'gcp%' OR lower(p) LIKE '%vertex%' OR lower(p) LIKE 'gemini%' OR lower(p) = 'google' THEN 'gcp'
  WHEN lower(p) LIKE 'azure%' OR lower(p) LIKE 'az.%' THEN 'azure'
  ELSE lower(p) END`;
}

/**
 * The rewrites that turn a model name as a bill spells it ("Claude 3.5 Sonnet (Amazon Bedrock Edition)",
 * "Claude3.5Sonnet", "gpt-4o-0806") and as the ledger records it ("us.anthropic.claude-3-5-sonnet-20240620-v1:0",
 * "gpt-4o-2024-08-06") into the same key, applied in order (RE2 syntax). The key is a matching aid, never shown
 * as a model id: it drops dates, versions, region and vendor prefixes, joins the digits of a version number
 * and sorts the remaining words ("35-claude-sonnet").
 */
export const MODEL_KEY_REWRITES: readonly (readonly [pattern: string, replacement: string])[] = [
  ['\\([^)]*\\)', ' '], // parentheticals: "(Amazon Bedrock Edition)"
  ['^.*/', ''], // ARNs, "publishers/anthropic/models/…", gateway prefixes: keep the last path segment
  ['@.*$', ''], // Vertex "@20240620" versions
  ['^(?:(?:us|eu|apac|global|us-gov|jp|au|ca|in)\\.)?(?:anthropic|meta|amazon|mistral|cohere|ai21|deepseek|openai|qwen|writer|google|stability|twelvelabs)\\.', ''],
  ['-v\\d+(?::\\d+)*$', ''], // Bedrock "-v1:0"
  ['(?:^|[^0-9])20\\d\\d-?[01]\\d-?[0-3]\\d(?:$|[^0-9])', ' '], // dates 2024-08-06 / 20240806
  ['[-_ ](?:0[1-9]|1[0-2])[0-3]\\d$', ''], // trailing mmdd snapshot: gpt-4o-0806, gpt-4-0613
  ['[-_ ]00\\d$', ''], // trailing -001 / -002 (Vertex)
  ['(\\d)[^a-z0-9]+(\\d)', '\\1\\2'], // 3.5 / 3-5 / 4 6 → 35 / 46 (twice: overlapping chains)
  ['(\\d)[^a-z0-9]+(\\d)', '\\1\\2'],
];

function createModelKeyMacro(): string {
  const q = (s: string) => `'${s.replaceAll("'", "''")}'`;
  let expr = 'lower(trim(m))';
  for (const [pattern, replacement] of MODEL_KEY_REWRITES) expr = `regexp_replace(${expr}, ${q(pattern)}, ${q(replacement)}, 'g')`;
  return `CREATE OR REPLACE MACRO genai_model_key(m) AS CASE
  WHEN m IS NULL OR trim(m) = '' THEN NULL
  ELSE array_to_string(list_sort(regexp_extract_all(${expr}, '[a-z]+|[0-9]+')), '-') END`;
}

/** A UTC day range for the reconciliation SQL: `from` inclusive, `to` exclusive, both `YYYY-MM-DD`. */
export interface DayRange {
  from: string;
  to: string;
}

const DAY_TEXT = /^\d{4}-\d{2}-\d{2}$/;

/**
 * The daily reconciliation: bill lines against ledger calls per provider family × UTC day × model key ×
 * token class, and how the gap splits (docs/reconciliation.md). The view `genai_reconciliation_daily` is this
 * query over everything; `genai-ledger report reconciliation` runs it for one month so both always agree.
 *
 * Gap components (they add up to `gap_usd` exactly):
 * - `unclassified_usd`: bill lines with no model or token class (tool calls, storage, unparsed lines);
 * - `untraced_usd`: billed for a model on a day when the ledger has no call of that model at all;
 * - `ledger_only_usd`: the ledger's cost of a model/class/day that no bill line covers (subtracted);
 * - `token_gap_usd`: billed tokens minus ledger tokens, at the ledger's own average unit price;
 * - `price_gap_usd`: the rest — the same tokens, different money (negotiated rates, tiers, price errors);
 * - `unsplit_usd`: a gap on a day the bill gave no token counts for (import the usage report too).
 */
export function reconciliationDailySql(range: DayRange | null = null): string {
  if (range !== null && (!DAY_TEXT.test(range.from) || !DAY_TEXT.test(range.to))) throw new Error('day range must be YYYY-MM-DD');
  const billedWhere = range === null ? '"day" IS NOT NULL' : `"day" >= DATE '${range.from}' AND "day" < DATE '${range.to}'`;
  const ledgerWhere =
    range === null
      ? 'TRUE'
      : `"timestamp" >= TIMESTAMPTZ '${range.from} 00:00:00+00' AND "timestamp" < TIMESTAMPTZ '${range.to} 00:00:00+00'`;
  // Ledger side: aggregated per raw provider × day × model first, so the model key (ten regex rewrites) and the
  // provider family are computed once per distinct model and day rather than once per call.
  const uncached = 'input_tokens - coalesce(cached_input_tokens, 0) - coalesce(cache_write_tokens, 0)';
  const classes: readonly (readonly [name: string, tokens: string, cost: string])[] = [
    ['input', uncached, 'input_cost_usd'],
    ['cached_input', 'cached_input_tokens', 'cached_input_cost_usd'],
    ['cache_write', 'cache_write_tokens', 'cache_write_cost_usd'],
    ['output', 'output_tokens', 'output_cost_usd'],
  ];
  const sums = classes
    .map(
      ([name, tokens, cost]) =>
        `sum(${tokens}) AS c_${name}_tokens, sum(${cost}) AS c_${name}_cost, count(*) FILTER (WHERE ${tokens} > 0) AS c_${name}_calls,
    count(*) FILTER (WHERE request_cost_usd IS NULL AND ${tokens} > 0) AS c_${name}_unpriced`,
    )
    .join(',\n    ');
  const unpivot = classes
    .map(
      ([name]) =>
        `SELECT provider, "day", model_key, model, '${name}' AS token_class, c_${name}_tokens AS tokens, c_${name}_cost AS cost_usd, c_${name}_calls AS calls, c_${name}_unpriced AS unpriced FROM keyed`,
    )
    .join('\n  UNION ALL ');
  return `WITH billed AS (
  SELECT provider, "day", genai_model_key(model) AS model_key, token_class,
    min(model) AS billed_model,
    sum(billed_usd) FILTER (WHERE record_kind = 'cost') AS billed_usd,
    sum(list_usd) FILTER (WHERE record_kind = 'cost') AS billed_list_usd,
    coalesce(sum(quantity) FILTER (WHERE record_kind = 'usage' AND quantity_unit = 'tokens' AND token_class <> 'other'),
             sum(quantity) FILTER (WHERE record_kind = 'cost' AND quantity_unit = 'tokens' AND token_class <> 'other')) AS billed_tokens,
    count(*) FILTER (WHERE record_kind = 'cost') AS billed_lines,
    count(*) FILTER (WHERE parse_status = 'unparsed') AS unparsed_lines
  FROM provider_costs
  WHERE ${billedWhere}
  GROUP BY ALL
),
calls AS (
  SELECT provider AS raw_provider, CAST(timezone('UTC', "timestamp") AS DATE) AS "day", model, count(*) AS model_calls,
    ${sums}
  FROM genai_calls
  WHERE ${ledgerWhere}
  GROUP BY ALL
),
keyed AS (
  SELECT genai_provider_family(raw_provider) AS provider, genai_model_key(model) AS model_key, * EXCLUDE (raw_provider) FROM calls
),
ledger_models AS (
  SELECT provider, "day", model_key, sum(model_calls) AS model_calls FROM keyed GROUP BY ALL
),
ledger_classes AS (
  ${unpivot}
),
ledger AS (
  SELECT provider, "day", model_key, token_class, min(model) AS ledger_model,
    sum(cost_usd) AS ledger_usd, sum(tokens) AS ledger_tokens,
    sum(calls) AS ledger_calls, sum(unpriced) AS unpriced_calls
  FROM ledger_classes
  WHERE coalesce(tokens, 0) <> 0 OR coalesce(cost_usd, 0) <> 0
  GROUP BY ALL
),
joined AS (
  SELECT
    coalesce(b.provider, l.provider) AS provider,
    coalesce(b."day", l."day") AS "day",
    coalesce(b.model_key, l.model_key) AS model_key,
    coalesce(b.token_class, l.token_class) AS token_class,
    b.billed_model, l.ledger_model,
    CAST(coalesce(b.billed_usd, 0) AS ${BILL_MONEY_TYPE}) AS billed_usd,
    CAST(b.billed_list_usd AS ${BILL_MONEY_TYPE}) AS billed_list_usd,
    b.billed_tokens,
    coalesce(b.billed_lines, 0) AS billed_lines,
    coalesce(b.unparsed_lines, 0) AS unparsed_lines,
    CAST(coalesce(l.ledger_usd, 0) AS ${BILL_MONEY_TYPE}) AS ledger_usd,
    coalesce(l.ledger_tokens, 0) AS ledger_tokens,
    coalesce(l.ledger_calls, 0) AS ledger_calls,
    coalesce(l.unpriced_calls, 0) AS unpriced_calls
  FROM billed b
  FULL OUTER JOIN ledger l
    ON b.provider = l.provider AND b."day" = l."day" AND b.model_key IS NOT DISTINCT FROM l.model_key AND b.token_class = l.token_class
),
classified AS (
  SELECT j.*, coalesce(m.model_calls, 0) AS model_calls, j.billed_usd - j.ledger_usd AS gap_usd,
    CASE
      WHEN j.token_class = 'other' OR j.model_key IS NULL THEN 'unclassified'
      WHEN coalesce(m.model_calls, 0) = 0 THEN 'untraced'
      WHEN j.billed_lines = 0 THEN 'ledger_only'
      WHEN j.billed_tokens IS NULL THEN 'unsplit'
      ELSE 'split'
    END AS kind
  FROM joined j
  LEFT JOIN ledger_models m ON m.provider = j.provider AND m."day" = j."day" AND m.model_key IS NOT DISTINCT FROM j.model_key
),
split AS (
  SELECT *,
    CASE WHEN kind <> 'split' THEN CAST(0 AS ${BILL_MONEY_TYPE})
         WHEN ledger_tokens = 0 THEN gap_usd
         ELSE CAST(round(CAST(ledger_usd AS DOUBLE) / ledger_tokens * CAST(billed_tokens - ledger_tokens AS DOUBLE), 6) AS ${BILL_MONEY_TYPE})
    END AS token_gap_usd
  FROM classified
)
SELECT provider, "day", model_key, token_class, billed_model, ledger_model,
  billed_usd, billed_list_usd, billed_tokens, billed_lines, unparsed_lines,
  ledger_usd, ledger_tokens, ledger_calls, unpriced_calls, model_calls, gap_usd,
  CASE WHEN kind = 'unclassified' THEN gap_usd ELSE 0 END AS unclassified_usd,
  CASE WHEN kind = 'untraced' THEN gap_usd ELSE 0 END AS untraced_usd,
  CASE WHEN kind = 'ledger_only' THEN -gap_usd ELSE 0 END AS ledger_only_usd,
  token_gap_usd,
  CASE WHEN kind = 'split' THEN gap_usd - token_gap_usd ELSE 0 END AS price_gap_usd,
  CASE WHEN kind = 'unsplit' THEN gap_usd ELSE 0 END AS unsplit_usd
FROM split`;
}

/**
 * The exceptions reconciliation raises, per month × provider × model × token class × kind, with the money at
 * stake and who should act: `untraced_spend` and `token_drift` → platform (instrumentation is missing or
 * miscounts), `price_drift`, `unclassified_bill_lines` and `unsplit_gap` → finops (prices, contracts,
 * bill lines), `ledger_not_billed` → platform (the ledger counts spend the bill does not). Only months with
 * an imported bill for the provider are considered, and only gaps above both thresholds of
 * `reconciliation_settings`.
 */
function createReconciliationExceptionsView(): string {
  const kinds: readonly (readonly [kind: string, owner: string, amount: string])[] = [
    ['untraced_spend', 'platform', 'untraced_usd'],
    ['token_drift', 'platform', 'token_gap_usd'],
    ['price_drift', 'finops', 'price_gap_usd'],
    ['unclassified_bill_lines', 'finops', 'unclassified_usd'],
    ['unsplit_gap', 'finops', 'unsplit_usd'],
    ['ledger_not_billed', 'platform', '-ledger_only_usd'],
  ];
  return `CREATE OR REPLACE VIEW genai_reconciliation_exceptions AS
WITH monthly AS (
  SELECT provider, CAST(date_trunc('month', "day") AS DATE) AS "month", model_key, token_class,
    min(billed_model) AS billed_model, min(ledger_model) AS ledger_model,
    sum(billed_usd) AS billed_usd, sum(ledger_usd) AS ledger_usd, sum(gap_usd) AS gap_usd,
    sum(untraced_usd) AS untraced_usd, sum(token_gap_usd) AS token_gap_usd, sum(price_gap_usd) AS price_gap_usd,
    sum(unclassified_usd) AS unclassified_usd, sum(unsplit_usd) AS unsplit_usd, sum(ledger_only_usd) AS ledger_only_usd,
    sum(billed_tokens) AS billed_tokens, sum(ledger_tokens) AS ledger_tokens, sum(unparsed_lines) AS unparsed_lines
  FROM genai_reconciliation_daily
  GROUP BY ALL
),
billed_months AS (
  SELECT DISTINCT provider, CAST(date_trunc('month', "day") AS DATE) AS "month" FROM provider_costs WHERE "day" IS NOT NULL
),
settings AS (
  SELECT
    CAST(max("value") FILTER (WHERE "key" = 'min_gap_usd') AS ${BILL_MONEY_TYPE}) AS min_gap_usd,
    CAST(max("value") FILTER (WHERE "key" = 'min_gap_pct') AS DOUBLE) AS min_gap_pct
  FROM reconciliation_settings
),
parts AS (
  ${kinds
    .map(
      ([kind, owner, amount]) =>
        `SELECT monthly.*, '${kind}' AS kind, '${owner}' AS owner, CAST(${amount} AS ${BILL_MONEY_TYPE}) AS amount_usd FROM monthly`,
    )
    .join('\n  UNION ALL ')}
)
SELECT
  md5(concat_ws('|', p."month", p.provider, coalesce(p.model_key, ''), p.token_class, p.kind)) AS exception_id,
  p."month", p.provider, coalesce(p.billed_model, p.ledger_model) AS model, p.model_key, p.token_class,
  p.kind, p.owner, p.billed_usd, p.ledger_usd, p.amount_usd AS gap_usd, abs(p.amount_usd) AS money_at_stake_usd,
  p.billed_tokens, p.ledger_tokens, p.unparsed_lines
FROM parts p
JOIN billed_months USING (provider, "month")
CROSS JOIN settings s
WHERE p.amount_usd <> 0
  AND abs(p.amount_usd) >= coalesce(s.min_gap_usd, 0)
  AND (p.billed_usd = 0 OR CAST(abs(p.amount_usd) AS DOUBLE) * 100 >= CAST(abs(p.billed_usd) AS DOUBLE) * coalesce(s.min_gap_pct, 0))`;
}

/** Tables, macros and views of reconciliation, in dependency order; safe to run on every open. */
export function reconciliationStatements(): string[] {
  return [
    createProviderCostsTable(),
    createProviderCostImportsTable(),
    createProviderScopesTable(),
    ...reconciliationSettingsStatements(),
    createProviderFamilyMacro(),
    createModelKeyMacro(),
    `CREATE OR REPLACE VIEW genai_reconciliation_daily AS\n${reconciliationDailySql()}`,
    createReconciliationExceptionsView(),
  ];
}

/**
 * Run on every open, after the views: the duplicates table (created when missing, brought up to date) and
 * the view over both tables (which needs the table); then the reconciliation tables, macros and views
 * ({@link RECONCILIATION_STATEMENTS}), appended here so that a ledger created by an older build gets them
 * on its next open, by whichever genai-ledger opens it for writing.
 */
export const DUPLICATE_SPANS_STATEMENTS: readonly string[] = [
  CREATE_GENAI_DUPLICATE_SPANS,
  ...ADD_MISSING_DUPLICATE_COLUMNS,
  CREATE_GENAI_ALL_SPANS_VIEW,
  ...reconciliationStatements(),
];
