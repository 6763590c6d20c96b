import { normalizeModel } from '../../../processors/genai/model-names.js';
import { formatScaled, parseDecimal } from '../../../processors/pricing/decimal.js';
import {
  BillFormatError,
  clean,
  dayOf,
  quantityText,
  usdToPico,
  type BillLine,
  type ParsedBill,
  type ProviderFamily,
  type TokenClass,
} from '../bill-line.js';
import { readTags, type Table, type TabularRow } from '../tabular.js';
import { modelOfWords, publisherOf, tierOfWords, tokenClassOfWords, tokenFactorOfUnit } from './words.js';

/**
 * Cloud bills, where GenAI is a few lines among everything else:
 * - AWS CUR 2.0 (Data Exports; CSV or Parquet; legacy CUR's `lineItem/UsageType` headers too): Amazon Bedrock
 *   lines (`line_item_product_code` AmazonBedrock) and models sold through AWS Marketplace
 *   ("Claude 3.5 Sonnet (Amazon Bedrock Edition)"), token class and tier from `line_item_usage_type`
 *   (`USE1-Claude3.5Sonnet-input-tokens`, `…-cache-read-input-token-count`, `USE1-MP:USE1_InputTokenCount-Units`);
 * - FOCUS 1.x exports (AWS, Azure, GCP all offer one);
 * - GCP Cloud Billing export rows (BigQuery, as CSV or JSON): `cost` plus the negative `credits`;
 * - Azure Cost Management exports (CSV): `MeterName` such as `gpt-4o-0806-Inp-glbl Tokens`.
 * Rows that are not GenAI spend are counted as skipped, never stored. Rows that are GenAI but unreadable are
 * kept as unparsed lines with their raw text.
 */

export interface CloudOptions {
  /** Scope lines by this tag / label key instead of the account, principal, project or resource. */
  scopeTag?: string;
}

interface LineParts {
  provider: ProviderFamily;
  sourceFamily: string;
  sourceFormat: string;
  day: string | null;
  model: string | null;
  publisher: string | null;
  tokenClass: TokenClass;
  serviceTier: string | null;
  scopeType: string | null;
  scopeId: string | null;
  quantity: string | null;
  quantityUnit: string | null;
  billed: string | null;
  list: string | null;
  currency: string | null;
  description: string | null;
  identity: (string | null)[];
  note?: string | null;
}

/** Builds the line, or an unparsed line when the money or the day cannot be read. */
function line(r: TabularRow, p: LineParts): BillLine {
  const base: BillLine = {
    provider: p.provider,
    sourceFamily: p.sourceFamily,
    sourceFormat: p.sourceFormat,
    recordKind: 'cost',
    day: p.day,
    model: p.model,
    publisher: p.publisher,
    tokenClass: p.tokenClass,
    serviceTier: p.serviceTier,
    contextWindow: null,
    scopeType: p.scopeType,
    scopeId: p.scopeId,
    apiKeyId: null,
    quantity: p.quantity,
    quantityUnit: p.quantityUnit,
    billedPico: null,
    listPico: null,
    description: p.description,
    row: r.row,
    identity: p.identity,
    parsed: true,
    note: p.note ?? null,
    raw: null,
  };
  const unparsed = (note: string, billedPico: bigint | null = null): BillLine => ({
    ...base,
    model: null,
    tokenClass: 'other',
    quantity: null,
    quantityUnit: null,
    billedPico,
    parsed: false,
    note,
    raw: r.raw,
    identity: [r.raw],
  });
  if (r.problem !== null) return unparsed(r.problem);
  if (p.billed === null) return unparsed('no cost');
  let billedPico: bigint;
  try {
    billedPico = usdToPico(p.billed);
  } catch {
    return unparsed(`cost ${JSON.stringify(p.billed)} is not a number`);
  }
  if (p.currency !== null && p.currency.toUpperCase() !== 'USD') return unparsed(`cost in ${p.currency}, not USD`);
  if (p.day === null) return unparsed('no readable usage date', billedPico);
  let listPico: bigint | null = null;
  try {
    listPico = p.list === null ? null : usdToPico(p.list);
  } catch {
    listPico = null;
  }
  return { ...base, billedPico, listPico, raw: p.tokenClass === 'other' && base.note !== null ? r.raw : null };
}

function quantityOf(amount: string | null, unit: string | null, tokenish: boolean): { quantity: string | null; quantityUnit: string | null } {
  if (amount === null) return { quantity: null, quantityUnit: null };
  try {
    const factor = tokenish ? tokenFactorOfUnit(unit) : null;
    if (factor !== null) return { quantity: quantityText(amount, factor), quantityUnit: 'tokens' };
    return { quantity: quantityText(amount), quantityUnit: unit };
  } catch {
    return { quantity: null, quantityUnit: null };
  }
}

function tagScope(tags: Record<string, string>, key: string, type: string): { scopeType: string; scopeId: string } | null {
  const value = tags[key] ?? tags[`user:${key}`] ?? tags[`user_${key}`];
  return value === undefined || value === '' ? null : { scopeType: type, scopeId: `${key}=${value}` };
}

// ---- AWS CUR -----------------------------------------------------------------------------------------

/** The model and token class an AWS usage type names (`USE1-Claude3.5Sonnet-cache-read-input-token-count`). */
export function parseAwsUsageType(usageType: string): { model: string | null; tokenClass: TokenClass; serviceTier: string | null } {
  const lower = usageType.toLowerCase();
  const tokenClass: TokenClass = /cache[-_]?read/.test(lower)
    ? 'cached_input'
    : /cache[-_]?write/.test(lower)
      ? 'cache_write'
      : /input/.test(lower)
        ? 'input'
        : /output/.test(lower)
          ? 'output'
          : 'other';
  let model: string | null = null;
  if (!/(^|[-:])mp:/i.test(usageType)) {
    const m = usageType
      .replace(/^[A-Z]{2,4}\d?-/, '') // region: USE1-, EUC1-, APN1-
      .replace(/[-_](?:mantle[-_])?(?:cache[-_]?(?:read|write)[-_])?(?:input|output)[-_]?(?:tokens?|token[-_]count)?.*$/i, '')
      .replace(/[-_](?:batch|flex|priority|cross[-_]region|global|provisioned)$/gi, '')
      .replace(/[-_](?:batch|flex|priority|cross[-_]region|global|provisioned)$/gi, '');
    model = m === '' ? null : m;
  }
  return { model, tokenClass, serviceTier: tierOfWords(usageType) };
}

const MARKETPLACE_EDITION = /\(Amazon Bedrock Edition\)/i;

/** "Claude 3.5 Sonnet (Amazon Bedrock Edition) input tokens" → "Claude 3.5 Sonnet". */
const marketplaceModel = (name: string): string => name.split(MARKETPLACE_EDITION)[0]!.trim();

function isAwsGenAi(f: (k: string) => string | null): boolean {
  const code = f('line_item_product_code') ?? '';
  const name = productName(f) ?? '';
  return (
    /^amazonbedrock/i.test(code) ||
    /^amazonbedrock/i.test(f('product_servicecode') ?? '') ||
    MARKETPLACE_EDITION.test(name) ||
    MARKETPLACE_EDITION.test(f('line_item_line_item_description') ?? '')
  );
}

function productName(f: (k: string) => string | null): string | null {
  const direct = f('product_product_name') ?? f('product_name');
  if (direct !== null) return direct;
  const product = readTags(f('product'));
  return clean(product['product_name']);
}

export function parseAwsCur(table: Table, format: string, options: CloudOptions = {}): ParsedBill {
  if (!table.columns.includes('line_item_usage_type')) throw new BillFormatError('not an AWS CUR: no line_item_usage_type column');
  const lines: BillLine[] = [];
  let skippedRows = 0;
  for (const r of table.rows) {
    const f = (k: string) => clean(r.fields[k]);
    if (r.problem === null && !isAwsGenAi(f)) {
      skippedRows++;
      continue;
    }
    const usageType = f('line_item_usage_type') ?? '';
    const itemType = f('line_item_line_item_type') ?? 'Usage';
    const name = productName(f);
    const marketplace = name !== null && MARKETPLACE_EDITION.test(name);
    const parsedType = parseAwsUsageType(usageType);
    const model =
      marketplace && name !== null ? marketplaceModel(name) : parsedType.model === null ? null : normalizeModel('aws.bedrock', parsedType.model);
    const isUsage = /usage/i.test(itemType);
    const tokenClass: TokenClass = itemType === 'Tax' ? 'other' : parsedType.tokenClass;
    const { quantity, quantityUnit } = isUsage ? quantityOf(f('line_item_usage_amount'), f('pricing_unit') ?? 'tokens', tokenClass !== 'other') : { quantity: null, quantityUnit: null };
    const tags = readTags(f('resource_tags'));
    for (const c of table.columns) if (c.startsWith('resource_tags_') && r.fields[c]) tags[c.slice('resource_tags_'.length)] = r.fields[c]!;
    const principal = f('line_item_iam_principal');
    const scope =
      (options.scopeTag === undefined ? null : tagScope(tags, options.scopeTag, 'aws_tag')) ??
      (principal !== null ? { scopeType: 'aws_principal', scopeId: principal } : { scopeType: 'aws_account', scopeId: f('line_item_usage_account_id') });
    const net = f('line_item_net_unblended_cost');
    const lineId = f('identity_line_item_id');
    lines.push(
      line(r, {
        provider: 'aws',
        sourceFamily: 'aws.cur',
        sourceFormat: format,
        day: dayOf(f('line_item_usage_start_date')),
        model,
        publisher: publisherOf(model) ?? (marketplace ? null : 'Amazon'),
        tokenClass,
        serviceTier: parsedType.serviceTier,
        ...scope,
        quantity,
        quantityUnit,
        billed: net ?? f('line_item_unblended_cost'),
        list: f('pricing_public_on_demand_cost'),
        currency: f('line_item_currency_code'),
        description: [usageType, f('line_item_line_item_description')].filter((x) => x !== null && x !== '').join(' — ') || null,
        identity:
          lineId !== null
            ? [lineId, f('identity_time_interval')]
            : [f('line_item_usage_start_date'), usageType, itemType, f('line_item_usage_account_id'), principal, f('line_item_resource_id'), f('line_item_operation'), f('line_item_line_item_description')],
        note: tokenClass === 'other' && itemType !== 'Tax' ? `usage type ${JSON.stringify(usageType)} names no token class` : itemType === 'Tax' ? 'tax' : null,
      }),
    );
  }
  return { format, lines, skippedRows, notes: [] };
}

// ---- FOCUS -------------------------------------------------------------------------------------------

const GENAI_SERVICE = /bedrock|vertex|openai|generative|gemini|claude|anthropic|cognitive services|foundry|ai services/i;

export function parseFocus(table: Table, provider: ProviderFamily, format: string, options: CloudOptions = {}): ParsedBill {
  if (!table.columns.includes('billed_cost') || !table.columns.includes('charge_period_start')) {
    throw new BillFormatError('not a FOCUS export: no BilledCost / ChargePeriodStart columns');
  }
  const lines: BillLine[] = [];
  let skippedRows = 0;
  for (const r of table.rows) {
    const f = (k: string) => clean(r.fields[k]);
    const genai =
      f('service_subcategory') === 'Generative AI' ||
      GENAI_SERVICE.test(f('service_name') ?? '') ||
      /^amazonbedrock/i.test(f('x_service_code') ?? '') ||
      MARKETPLACE_EDITION.test(f('charge_description') ?? '');
    if (r.problem === null && !genai) {
      skippedRows++;
      continue;
    }
    const usageType = f('x_usage_type');
    const words = [f('sku_meter'), f('charge_description')].filter((x) => x !== null).join(' ');
    let model: string | null;
    let tokenClass: TokenClass;
    let serviceTier: string | null;
    if (usageType !== null && provider === 'aws') {
      const p = parseAwsUsageType(usageType);
      const name = [f('service_name'), f('charge_description')].find((x): x is string => x !== null && MARKETPLACE_EDITION.test(x));
      model = name !== undefined ? marketplaceModel(name) : p.model;
      tokenClass = p.tokenClass;
      serviceTier = p.serviceTier;
    } else {
      tokenClass = tokenClassOfWords(words) ?? 'other';
      model = modelOfWords(f('charge_description') ?? f('sku_meter') ?? '');
      serviceTier = tierOfWords(words);
    }
    if (f('charge_category') === 'Tax') tokenClass = 'other';
    if (model !== null) model = normalizeModel(ledgerProviderOf(provider), model);
    const usage = f('charge_category') === 'Usage';
    const { quantity, quantityUnit } = usage ? quantityOf(f('consumed_quantity'), f('consumed_unit'), tokenClass !== 'other') : { quantity: null, quantityUnit: null };
    const tags = readTags(f('tags'));
    const scope =
      (options.scopeTag === undefined ? null : tagScope(tags, options.scopeTag, `${provider}_tag`)) ??
      ({ scopeType: `${provider}_account`, scopeId: f('sub_account_id') ?? f('billing_account_id') } as const);
    lines.push(
      line(r, {
        provider,
        sourceFamily: `${provider}.focus`,
        sourceFormat: format,
        day: dayOf(f('charge_period_start')),
        model,
        publisher: f('publisher_name') ?? publisherOf(model),
        tokenClass,
        serviceTier,
        ...scope,
        quantity,
        quantityUnit,
        billed: f('billed_cost'),
        list: f('list_cost'),
        currency: f('billing_currency'),
        description: f('charge_description') ?? usageType,
        identity: [
          f('charge_period_start'),
          f('charge_period_end'),
          f('billing_account_id'),
          f('sub_account_id'),
          f('resource_id'),
          f('sku_id'),
          f('sku_price_id'),
          usageType,
          f('charge_category'),
          f('charge_class'),
          f('charge_description'),
          f('tags'),
        ],
        note: tokenClass === 'other' ? 'no token class in the charge' : null,
      }),
    );
  }
  return { format, lines, skippedRows, notes: [] };
}

/** The ledger's provider name for a bill's provider family (for model normalization). */
export function ledgerProviderOf(provider: ProviderFamily): string {
  return { openai: 'openai', anthropic: 'anthropic', aws: 'aws.bedrock', gcp: 'gcp.vertex_ai', azure: 'azure.ai.openai' }[provider];
}

// ---- GCP billing export ------------------------------------------------------------------------------

const GCP_GENAI = /vertex ai|generative language|gemini|claude|anthropic|llama|mistral|model garden/i;

export function parseGcpBilling(table: Table, format: string, options: CloudOptions = {}): ParsedBill {
  if (!table.columns.includes('cost') || !table.columns.includes('sku_description')) {
    throw new BillFormatError('not a GCP billing export: expected cost and sku.description columns');
  }
  const lines: BillLine[] = [];
  let skippedRows = 0;
  for (const r of table.rows) {
    const f = (k: string) => clean(r.fields[k]);
    const service = f('service_description') ?? '';
    const sku = f('sku_description') ?? '';
    if (r.problem === null && !GCP_GENAI.test(service) && !GCP_GENAI.test(sku)) {
      skippedRows++;
      continue;
    }
    let tokenClass: TokenClass = tokenClassOfWords(sku) ?? 'other';
    if (f('cost_type') === 'tax') tokenClass = 'other';
    const rawModel = modelOfWords(sku) ?? (GCP_GENAI.test(service) && !/vertex ai|generative language/i.test(service) ? service : null);
    const model = rawModel === null ? null : normalizeModel('gcp.vertex_ai', rawModel);
    const { quantity, quantityUnit } = quantityOf(f('usage_amount'), f('usage_unit'), tokenClass !== 'other' && !/character/i.test(sku));
    let billed = f('cost');
    const credits = f('credits');
    let note: string | null = tokenClass === 'other' ? 'SKU names no token class' : null;
    if (billed !== null && credits !== null && credits !== '[]') {
      try {
        billed = addCredits(billed, credits);
      } catch (err) {
        billed = null;
        note = `credits not readable: ${(err as Error).message}`;
      }
    }
    const labels = readTags(f('labels'));
    const scope =
      (options.scopeTag === undefined ? null : tagScope(labels, options.scopeTag, 'gcp_label')) ??
      ({ scopeType: 'gcp_project', scopeId: f('project_id') } as const);
    lines.push(
      line(r, {
        provider: 'gcp',
        sourceFamily: 'gcp.billing_export',
        sourceFormat: format,
        day: dayOf(f('usage_start_time')),
        model,
        publisher: publisherOf(model),
        tokenClass,
        serviceTier: tierOfWords(sku),
        ...scope,
        quantity,
        quantityUnit,
        billed,
        list: f('cost_at_list'),
        currency: f('currency'),
        description: `${service}: ${sku}`,
        identity: [f('billing_account_id'), f('usage_start_time'), f('usage_end_time'), f('service_id'), f('sku_id'), f('project_id'), f('labels'), f('cost_type'), f('location_region'), f('resource_name')],
        note,
      }),
    );
  }
  return { format, lines, skippedRows, notes: [] };
}

/** `cost` plus the (negative) amounts of the `credits` JSON array, exactly. */
function addCredits(cost: string, credits: string): string {
  const list = JSON.parse(credits.replace(/"amount"\s*:\s*(-?[\d.eE+-]+)/g, '"amount":"$1"')) as unknown;
  if (!Array.isArray(list)) throw new Error('credits is not a JSON array');
  let total = parseDecimal(cost, 12).value;
  for (const c of list) {
    const amount = (c as { amount?: unknown }).amount;
    if (amount === undefined || amount === null) continue;
    total += parseDecimal(String(amount), 12).value;
  }
  return formatScaled(total, 12);
}

// ---- Azure cost export -------------------------------------------------------------------------------

/** Model, class and tier of an Azure OpenAI meter: `gpt-4o-0806-Inp-glbl Tokens`, `5.4 mini cd Inp Gl 1M Tokens`. */
export function parseAzureMeter(meter: string, subCategory: string | null): { model: string | null; tokenClass: TokenClass; serviceTier: string | null; factor: bigint | null } {
  // Embedding meters name no direction ("text-embedding-3-large-glbl Tokens"): they bill input tokens.
  const tokenClass = tokenClassOfWords(meter.replace(/\bTokens?\b/gi, '')) ?? (/embedding/i.test(meter) && /tokens?/i.test(meter) ? 'input' : 'other');
  const factor = /\b1M\b/i.test(meter) ? 1_000_000n : /\b1K\b/i.test(meter) ? 1000n : null;
  let model = meter
    .replace(/\bTokens?\b/gi, ' ')
    .split(/[\s_]+/)
    .join(' ');
  model = model
    .split(/[-\s]+/)
    .filter(
      (w) =>
        w !== '' &&
        !/^(?:inp|input|outp|out|opt|output|cached|cchd|ccchd|cd|wr|glbl|gl|global|regnl|rg|regional|dz|dzone|data|zone|std|pp|batch|shortco|longco|l|1m|1k)$/i.test(
          w,
        ),
    )
    .join('-');
  if (/^\d/.test(model) && /gpt/i.test(subCategory ?? '')) model = `gpt-${model}`;
  return { model: /[a-z]/i.test(model) ? model : null, tokenClass, serviceTier: tierOfWords(meter), factor };
}

const AZURE_GENAI = /cognitive services|foundry|openai|ai services/i;

export function parseAzureCost(table: Table, format: string, options: CloudOptions = {}): ParsedBill {
  if (!table.columns.includes('meter_name')) throw new BillFormatError('not an Azure cost export: no MeterName column');
  const lines: BillLine[] = [];
  let skippedRows = 0;
  for (const r of table.rows) {
    const f = (k: string) => clean(r.fields[k]);
    const meter = f('meter_name') ?? '';
    const category = [f('meter_category'), f('meter_sub_category'), f('product_name'), f('consumed_service')].filter((x) => x !== null).join(' ');
    if (r.problem === null && !AZURE_GENAI.test(category)) {
      skippedRows++;
      continue;
    }
    const parsedMeter = parseAzureMeter(meter, f('meter_sub_category') ?? f('product_name'));
    const model = parsedMeter.model === null ? null : normalizeModel('azure.ai.openai', parsedMeter.model);
    const unit = f('unit_of_measure') ?? (parsedMeter.factor === null ? null : String(parsedMeter.factor));
    const tokenish = parsedMeter.tokenClass !== 'other' && /tokens?/i.test(meter);
    const { quantity, quantityUnit } = quantityOf(f('quantity'), unit ?? 'tokens', tokenish);
    const usd = f('cost_in_usd');
    const billed = usd ?? f('cost_in_billing_currency') ?? f('cost') ?? f('pre_tax_cost');
    const currency = usd !== null ? 'USD' : (f('billing_currency') ?? f('billing_currency_code') ?? f('currency'));
    let list: string | null = null;
    const payg = f('pay_g_price');
    const qty = f('quantity');
    if (payg !== null && qty !== null) {
      try {
        list = formatScaled((parseDecimal(payg, 12).value * parseDecimal(qty, 6).value) / 1_000_000n, 12);
      } catch {
        list = null;
      }
    }
    const tags = readTags(f('tags'));
    const resource = f('resource_id') ?? f('instance_id');
    const scope =
      (options.scopeTag === undefined ? null : tagScope(tags, options.scopeTag, 'azure_tag')) ??
      ({ scopeType: 'azure_resource', scopeId: resource } as const);
    lines.push(
      line(r, {
        provider: 'azure',
        sourceFamily: 'azure.cost_export',
        sourceFormat: format,
        day: dayOf(f('date') ?? f('usage_date') ?? f('billing_period_start_date')),
        model,
        publisher: publisherOf(model),
        tokenClass: parsedMeter.tokenClass,
        serviceTier: parsedMeter.serviceTier,
        ...scope,
        quantity,
        quantityUnit,
        billed,
        list,
        currency,
        description: meter,
        identity: [f('date') ?? f('usage_date'), f('meter_id'), meter, resource, f('subscription_id') ?? f('subscription_guid'), f('charge_type'), f('unit_price'), f('tags')],
        note: parsedMeter.tokenClass === 'other' ? 'meter names no token class' : null,
      }),
    );
  }
  return { format, lines, skippedRows, notes: [] };
}
