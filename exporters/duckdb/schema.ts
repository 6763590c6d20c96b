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
 * time zone, so the same SQL gives the same invoice on every machine. `cost_usd` sums the priced calls;
 * `unpriced_calls` counts the calls whose cost is NULL so a missing price is never a silent $0.
 */
export const CREATE_CHARGEBACK_MONTHLY_VIEW = `CREATE OR REPLACE VIEW genai_chargeback_monthly AS
SELECT
  CAST(date_trunc('month', "timestamp" AT TIME ZONE 'UTC') AS DATE) AS "month",
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

/**
 * Run on every open, after the views: the duplicates table (created when missing, brought up to date) and
 * the view over both tables (which needs the table).
 */
export const DUPLICATE_SPANS_STATEMENTS: readonly string[] = [
  CREATE_GENAI_DUPLICATE_SPANS,
  ...ADD_MISSING_DUPLICATE_COLUMNS,
  CREATE_GENAI_ALL_SPANS_VIEW,
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
