import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { BILL_MONEY_TYPE } from '../../exporters/duckdb/schema.js';

/**
 * `genai-ledger export focus`: one month of the ledger as a FinOps FOCUS 1.2 dataset (CSV or Parquet) that
 * finance can load next to the cloud providers' own FOCUS exports (docs/exports.md).
 *
 * One row per UTC day × provider × model × token class × service tier × owner (team, cost center, project,
 * environment, service): BilledCost is the ledger's cost of those tokens, so `sum(BilledCost)` equals the
 * ledger's total for the month to the pico-dollar. The ledger prices at list price plus the price overrides in
 * force (docs/pricing.md), so ListCost = ContractedCost = EffectiveCost = BilledCost: the ledger does not know
 * a separate list price for an overridden rate. Calls without a price (unpriced models, missing tokens) have no
 * cost to report and are left out — FOCUS forbids a NULL or placeholder BilledCost — and counted in the summary.
 *
 * Column set: every FOCUS 1.2 column whose feature level is Mandatory; the Recommended ChargeFrequency,
 * ServiceSubcategory, InvoiceId (NULL: an estimate is on no invoice) and AvailabilityZone (NULL); the
 * Conditional ConsumedQuantity/ConsumedUnit (tokens), PricingCategory, SkuId, SkuPriceId, SkuMeter and Tags
 * (team, cost center, project, environment, service); then `x_` columns for what FOCUS has no column for.
 */

export interface FocusColumn {
  name: string;
  /** FOCUS 1.2 feature level, or `Custom` for the x_ columns. */
  level: 'Mandatory' | 'Recommended' | 'Conditional' | 'Custom';
  /** FOCUS data type: String, Decimal, Date/Time, JSON. */
  focusType: 'String' | 'Decimal' | 'Date/Time' | 'JSON';
  /** SQL over the grouped rows (see FOCUS_SQL). */
  sql: string;
}

/** DECIMAL(38,12): a day's group of calls can pass the $999,999 one call's DECIMAL(18,12) holds. */
const MONEY = `CAST(cost AS ${BILL_MONEY_TYPE})`;

/** Display names of the providers and their services, by the ledger's provider family. */
const PROVIDERS: readonly (readonly [family: string, provider: string, service: string])[] = [
  ['openai', 'OpenAI', 'OpenAI API'],
  ['anthropic', 'Anthropic', 'Claude API'],
  ['aws', 'Amazon Web Services', 'Amazon Bedrock'],
  ['gcp', 'Google Cloud', 'Vertex AI'],
  ['azure', 'Microsoft', 'Azure OpenAI'],
  ['mistral_ai', 'Mistral AI', 'Mistral AI API'],
  ['cohere', 'Cohere', 'Cohere API'],
  ['x_ai', 'xAI', 'xAI API'],
  ['deepseek', 'DeepSeek', 'DeepSeek API'],
  ['groq', 'Groq', 'GroqCloud'],
  ['perplexity', 'Perplexity', 'Perplexity API'],
];
const caseOf = (expr: string, pick: (p: (typeof PROVIDERS)[number]) => string, otherwise: string) =>
  `CASE ${expr} ${PROVIDERS.map((p) => `WHEN '${p[0]}' THEN '${pick(p)}'`).join(' ')} ELSE ${otherwise} END`;

/** Model maker by name (PublisherName); the provider's own name when not recognised. */
const PUBLISHER_SQL = `CASE
  WHEN model ILIKE '%claude%' THEN 'Anthropic'
  WHEN model ILIKE 'gpt%' OR model ILIKE '%.gpt%' OR regexp_matches(model, '^o[0-9]') OR model ILIKE '%text-embedding%' OR model ILIKE '%whisper%' OR model ILIKE '%dall-e%' THEN 'OpenAI'
  WHEN model ILIKE '%gemini%' OR model ILIKE '%gemma%' OR model ILIKE '%imagen%' THEN 'Google'
  WHEN model ILIKE '%llama%' THEN 'Meta'
  WHEN model ILIKE '%titan%' OR model ILIKE '%nova%' THEN 'Amazon'
  WHEN model ILIKE '%mistral%' OR model ILIKE '%mixtral%' OR model ILIKE '%pixtral%' OR model ILIKE '%codestral%' THEN 'Mistral AI'
  WHEN model ILIKE '%command%' OR model ILIKE 'cohere.%' THEN 'Cohere'
  WHEN model ILIKE '%deepseek%' THEN 'DeepSeek'
  WHEN model ILIKE '%grok%' THEN 'xAI'
  ELSE ${caseOf('family', (p) => p[1], 'coalesce(provider, \'unknown\')')} END`;

const METERS = `CASE token_class WHEN 'input' THEN 'Input Tokens' WHEN 'cached_input' THEN 'Cached Input Tokens' WHEN 'cache_write' THEN 'Cache Write Tokens' ELSE 'Output Tokens' END`;

export const FOCUS_COLUMNS: readonly FocusColumn[] = [
  { name: 'AvailabilityZone', level: 'Recommended', focusType: 'String', sql: 'CAST(NULL AS VARCHAR)' },
  { name: 'BilledCost', level: 'Mandatory', focusType: 'Decimal', sql: MONEY },
  { name: 'BillingAccountId', level: 'Mandatory', focusType: 'String', sql: 'billing_account_id' },
  { name: 'BillingAccountName', level: 'Mandatory', focusType: 'String', sql: 'billing_account_name' },
  { name: 'BillingCurrency', level: 'Mandatory', focusType: 'String', sql: "'USD'" },
  { name: 'BillingPeriodEnd', level: 'Mandatory', focusType: 'Date/Time', sql: 'billing_period_end' },
  { name: 'BillingPeriodStart', level: 'Mandatory', focusType: 'Date/Time', sql: 'billing_period_start' },
  { name: 'ChargeCategory', level: 'Mandatory', focusType: 'String', sql: "'Usage'" },
  { name: 'ChargeClass', level: 'Mandatory', focusType: 'String', sql: 'CAST(NULL AS VARCHAR)' },
  {
    name: 'ChargeDescription',
    level: 'Mandatory',
    focusType: 'String',
    sql: `concat(coalesce(model, 'unknown model'), ' ', lower(${METERS}), CASE WHEN service_tier IS NULL THEN '' ELSE concat(' (', service_tier, ' tier)') END)`,
  },
  { name: 'ChargeFrequency', level: 'Recommended', focusType: 'String', sql: "'Usage-Based'" },
  { name: 'ChargePeriodEnd', level: 'Mandatory', focusType: 'Date/Time', sql: `CAST("day" + INTERVAL 1 DAY AS TIMESTAMP) AT TIME ZONE 'UTC'` },
  { name: 'ChargePeriodStart', level: 'Mandatory', focusType: 'Date/Time', sql: `CAST("day" AS TIMESTAMP) AT TIME ZONE 'UTC'` },
  { name: 'ConsumedQuantity', level: 'Conditional', focusType: 'Decimal', sql: 'CAST(tokens AS DECIMAL(38,0))' },
  { name: 'ConsumedUnit', level: 'Conditional', focusType: 'String', sql: "'Tokens'" },
  { name: 'ContractedCost', level: 'Mandatory', focusType: 'Decimal', sql: MONEY },
  { name: 'EffectiveCost', level: 'Mandatory', focusType: 'Decimal', sql: MONEY },
  { name: 'InvoiceId', level: 'Recommended', focusType: 'String', sql: 'CAST(NULL AS VARCHAR)' },
  { name: 'InvoiceIssuerName', level: 'Mandatory', focusType: 'String', sql: caseOf('family', (p) => p[1], "coalesce(provider, 'unknown')") },
  { name: 'ListCost', level: 'Mandatory', focusType: 'Decimal', sql: MONEY },
  { name: 'PricingCategory', level: 'Conditional', focusType: 'String', sql: "'Standard'" },
  { name: 'PricingQuantity', level: 'Mandatory', focusType: 'Decimal', sql: "CAST(tokens AS DECIMAL(30,0)) * CAST('0.000001' AS DECIMAL(7,6))" },
  { name: 'PricingUnit', level: 'Mandatory', focusType: 'String', sql: "'1000000 Tokens'" },
  { name: 'ProviderName', level: 'Mandatory', focusType: 'String', sql: caseOf('family', (p) => p[1], "coalesce(provider, 'unknown')") },
  { name: 'PublisherName', level: 'Mandatory', focusType: 'String', sql: PUBLISHER_SQL },
  { name: 'ServiceCategory', level: 'Mandatory', focusType: 'String', sql: "'AI and Machine Learning'" },
  {
    name: 'ServiceName',
    level: 'Mandatory',
    focusType: 'String',
    sql: `CASE WHEN provider = 'gcp.gemini' THEN 'Gemini API' ELSE ${caseOf('family', (p) => p[2], "concat(coalesce(provider, 'unknown'), ' API')")} END`,
  },
  { name: 'ServiceSubcategory', level: 'Recommended', focusType: 'String', sql: "'Generative AI'" },
  { name: 'SkuId', level: 'Conditional', focusType: 'String', sql: `concat_ws('/', coalesce(provider, 'unknown'), coalesce(model, 'unknown'), token_class)` },
  { name: 'SkuMeter', level: 'Conditional', focusType: 'String', sql: METERS },
  {
    name: 'SkuPriceId',
    level: 'Conditional',
    focusType: 'String',
    sql: `concat_ws('/', coalesce(provider, 'unknown'), coalesce(model, 'unknown'), token_class, coalesce(service_tier, 'standard'))`,
  },
  {
    name: 'Tags',
    level: 'Conditional',
    focusType: 'JSON',
    sql: `nullif(concat('{', array_to_string(list_filter([
      '"team":' || to_json(team_id), '"cost_center":' || to_json(cost_center), '"project":' || to_json(project_id),
      '"environment":' || to_json(environment), '"service":' || to_json(service)], x -> x IS NOT NULL), ','), '}'), '{}')`,
  },
  { name: 'x_GenAiProvider', level: 'Custom', focusType: 'String', sql: 'provider' },
  { name: 'x_Model', level: 'Custom', focusType: 'String', sql: 'model' },
  { name: 'x_TokenClass', level: 'Custom', focusType: 'String', sql: 'token_class' },
  { name: 'x_ServiceTier', level: 'Custom', focusType: 'String', sql: 'service_tier' },
  { name: 'x_TeamId', level: 'Custom', focusType: 'String', sql: 'team_id' },
  { name: 'x_CostCenter', level: 'Custom', focusType: 'String', sql: 'cost_center' },
  { name: 'x_ProjectId', level: 'Custom', focusType: 'String', sql: 'project_id' },
  { name: 'x_Environment', level: 'Custom', focusType: 'String', sql: 'environment' },
  { name: 'x_Service', level: 'Custom', focusType: 'String', sql: 'service' },
  { name: 'x_Calls', level: 'Custom', focusType: 'Decimal', sql: 'calls' },
  { name: 'x_UnitPriceSnapshots', level: 'Custom', focusType: 'String', sql: 'snapshots' },
  { name: 'x_CostSource', level: 'Custom', focusType: 'String', sql: "'genai-ledger: traced calls priced by the ledger'" },
];

export interface FocusExportOptions {
  /** `YYYY-MM` (UTC). */
  month: string;
  /** `.csv` or `.parquet` (by extension). */
  out: string;
  billingAccountId?: string;
  billingAccountName?: string;
}

export interface FocusExportResult {
  rows: number;
  /** Exact decimal text. */
  billedCost: string;
  /** The ledger's own total for the month (priced calls), for comparison: always equal. */
  ledgerCost: string;
  unpricedCalls: number;
}

function monthBounds(month: string): { from: string; to: string } {
  const m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(month);
  if (!m) throw new RangeError(`month must be YYYY-MM, got "${month}"`);
  const y = Number(m[1]);
  const mo = Number(m[2]);
  return { from: `${month}-01`, to: mo === 12 ? `${y + 1}-01-01` : `${y}-${String(mo + 1).padStart(2, '0')}-01` };
}

const lit = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** The FOCUS rows of a month as SQL (date-times as TIMESTAMPTZ; `csvDates` renders them as ISO text). */
export function focusSql(options: Omit<FocusExportOptions, 'out'>, csvDates: boolean): string {
  const { from, to } = monthBounds(options.month);
  const cls = (name: string, tokens: string, cost: string) => `SELECT *, '${name}' AS token_class, ${tokens} AS tokens, ${cost} AS cost FROM calls`;
  const columns = FOCUS_COLUMNS.map((c) => {
    const expr = csvDates && c.focusType === 'Date/Time' ? `strftime(timezone('UTC', ${c.sql}), '%Y-%m-%dT%H:%M:%SZ')` : c.sql;
    return `${expr} AS "${c.name}"`;
  });
  return `WITH calls AS (
  SELECT CAST(timezone('UTC', "timestamp") AS DATE) AS "day", provider, genai_provider_family(provider) AS family, model,
    team_id, cost_center, project_id, environment, service, service_tier, unit_price_snapshot,
    input_tokens, cached_input_tokens, cache_write_tokens, output_tokens,
    input_cost_usd, cached_input_cost_usd, cache_write_cost_usd, output_cost_usd
  FROM genai_calls
  WHERE "timestamp" >= TIMESTAMPTZ '${from} 00:00:00+00' AND "timestamp" < TIMESTAMPTZ '${to} 00:00:00+00'
    AND request_cost_usd IS NOT NULL
),
classes AS (
  ${cls('input', 'input_tokens - coalesce(cached_input_tokens, 0) - coalesce(cache_write_tokens, 0)', 'input_cost_usd')}
  UNION ALL ${cls('cached_input', 'cached_input_tokens', 'cached_input_cost_usd')}
  UNION ALL ${cls('cache_write', 'cache_write_tokens', 'cache_write_cost_usd')}
  UNION ALL ${cls('output', 'output_tokens', 'output_cost_usd')}
),
grouped AS (
  SELECT "day", provider, family, model, token_class, service_tier, team_id, cost_center, project_id, environment, service,
    sum(coalesce(tokens, 0)) AS tokens, sum(coalesce(cost, 0)) AS cost, count(*) AS calls,
    string_agg(DISTINCT unit_price_snapshot, ' ' ORDER BY unit_price_snapshot) AS snapshots,
    coalesce(${options.billingAccountId === undefined ? 'NULL' : lit(options.billingAccountId)}, concat('genai-ledger:', coalesce(family, 'unknown'))) AS billing_account_id,
    CAST(${options.billingAccountName === undefined ? 'NULL' : lit(options.billingAccountName)} AS VARCHAR) AS billing_account_name,
    TIMESTAMPTZ '${from} 00:00:00+00' AS billing_period_start,
    TIMESTAMPTZ '${to} 00:00:00+00' AS billing_period_end
  FROM classes
  WHERE coalesce(tokens, 0) <> 0 OR coalesce(cost, 0) <> 0
  GROUP BY ALL
)
SELECT ${columns.join(',\n  ')}
FROM grouped
ORDER BY "day", provider, model, token_class, service_tier, team_id, cost_center, project_id, environment, service`;
}

/** Writes the dataset to `out` (a temp file in the same directory, renamed when complete). */
export async function exportFocus(connection: DuckDBConnection, options: FocusExportOptions): Promise<FocusExportResult> {
  const parquet = /\.parquet$/i.test(options.out);
  if (!parquet && !/\.csv$/i.test(options.out)) throw new RangeError('--out must end in .csv or .parquet');
  const { from, to } = monthBounds(options.month);
  const tmp = join(dirname(options.out), `.${randomBytes(6).toString('hex')}.tmp${parquet ? '.parquet' : '.csv'}`);
  const format = parquet ? "(FORMAT parquet, COMPRESSION zstd)" : "(FORMAT csv, HEADER true, DELIMITER ',', QUOTE '\"', NULLSTR '')";
  try {
    await connection.run(`COPY (${focusSql(options, !parquet)}) TO ${lit(tmp)} ${format}`);
    await rename(tmp, options.out);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const totals = (
    await connection.runAndReadAll(`
      SELECT CAST(count(*) FILTER (WHERE request_cost_usd IS NULL) AS INTEGER),
             CAST(coalesce(sum(request_cost_usd), 0) AS VARCHAR)
      FROM genai_calls
      WHERE "timestamp" >= TIMESTAMPTZ '${from} 00:00:00+00' AND "timestamp" < TIMESTAMPTZ '${to} 00:00:00+00'`)
  ).getRows()[0]!;
  const written = (
    await connection.runAndReadAll(
      `SELECT CAST(count(*) AS INTEGER), CAST(coalesce(sum(CAST("BilledCost" AS ${BILL_MONEY_TYPE})), 0) AS VARCHAR) FROM ${
        parquet ? `read_parquet(${lit(options.out)})` : `read_csv(${lit(options.out)}, header = true, types = {'BilledCost': 'VARCHAR'})`
      }`,
    )
  ).getRows()[0]!;
  return { rows: Number(written[0]), billedCost: String(written[1]), ledgerCost: String(totals[1]), unpricedCalls: Number(totals[0]) };
}
