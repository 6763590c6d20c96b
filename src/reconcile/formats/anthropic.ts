import { normalizeModel } from '../../../processors/genai/model-names.js';
import { centsToPico, clean, dayOf, type BillLine, type ParsedBill, type TokenClass } from '../bill-line.js';
import { field, isObject, text, type ExactJson } from '../exact-json.js';
import { readPages } from './admin-api-pages.js';

/**
 * Anthropic's Admin API (https://platform.claude.com/docs/en/api/admin):
 * - `GET /v1/organizations/cost_report` pages: results with `amount` — a decimal STRING in the lowest currency
 *   unit (cents: "123.45" is $1.2345) — `currency`, `cost_type` (`tokens`, `web_search`, `code_execution`, …),
 *   and when grouped by description: `model`, `token_type` (`uncached_input_tokens`, `cache_read_input_tokens`,
 *   `cache_creation.ephemeral_5m_input_tokens`, `cache_creation.ephemeral_1h_input_tokens`, `output_tokens`),
 *   `service_tier`, `context_window` (`0-200k`, `200k-1M`), `inference_geo`; and `workspace_id`
 *   (null: the default workspace);
 * - `GET /v1/organizations/usage_report/messages` pages: token counts per bucket (`uncached_input_tokens`,
 *   `cache_read_input_tokens`, `cache_creation.ephemeral_5m_input_tokens` / `…_1h_…`, `output_tokens`) with the
 *   grouped dimensions (`model`, `workspace_id`, `api_key_id`, `service_tier`, `context_window`).
 */

const TOKEN_TYPES: Readonly<Record<string, TokenClass>> = {
  uncached_input_tokens: 'input',
  input_tokens: 'input',
  cache_read_input_tokens: 'cached_input',
  'cache_creation.ephemeral_5m_input_tokens': 'cache_write',
  'cache_creation.ephemeral_1h_input_tokens': 'cache_write',
  cache_creation_input_tokens: 'cache_write',
  output_tokens: 'output',
};

const BASE = { provider: 'anthropic' as const, publisher: 'Anthropic', listPico: null, raw: null, note: null };

export function parseAnthropicJson(content: string): ParsedBill {
  const { source, buckets } = readPages(content);
  const lines: BillLine[] = [];
  let format: string | null = null;
  let row = 0;
  for (const { bucket, results } of buckets) {
    const day = dayOf(text(field(bucket, 'starting_at')));
    for (const result of results) {
      const raw = isObject(result) ? source.slice(result.start, result.end) : JSON.stringify(result);
      if (field(result, 'amount') !== undefined) {
        format ??= 'anthropic.cost_report.json';
        lines.push(costLine(result, day, row, raw));
      } else if (field(result, 'uncached_input_tokens') !== undefined || field(result, 'output_tokens') !== undefined) {
        format ??= 'anthropic.usage_report.json';
        lines.push(...usageLines(result, day, row, raw));
      } else {
        lines.push(unparsedLine('anthropic.cost_report', 'anthropic.json', day, row, raw, 'neither a cost (amount) nor a usage (token counts) result'));
      }
      row++;
    }
  }
  if (format === null && buckets.length === 0) format = 'anthropic.json';
  return { format: format ?? 'anthropic.json', lines, skippedRows: 0, notes: [] };
}

function unparsedLine(family: string, format: string, day: string | null, row: number, raw: string, note: string, billedPico: bigint | null = null): BillLine {
  return {
    ...BASE,
    sourceFamily: family,
    sourceFormat: format,
    recordKind: 'cost',
    day,
    model: null,
    tokenClass: 'other',
    serviceTier: null,
    contextWindow: null,
    scopeType: null,
    scopeId: null,
    apiKeyId: null,
    quantity: null,
    quantityUnit: null,
    billedPico,
    description: null,
    row,
    identity: [raw],
    parsed: false,
    note,
    raw,
  };
}

function costLine(result: ExactJson, day: string | null, row: number, raw: string): BillLine {
  const t = (k: string) => clean(text(field(result, k)));
  const family = 'anthropic.cost_report';
  const format = 'anthropic.cost_report.json';
  if (day === null) return unparsedLine(family, format, day, row, raw, 'no readable bucket starting_at');
  const amount = t('amount');
  const currency = t('currency');
  if (amount === null) return unparsedLine(family, format, day, row, raw, 'no amount');
  if (currency !== null && currency.toUpperCase() !== 'USD') return unparsedLine(family, format, day, row, raw, `amount in ${currency}, not USD`);
  let billedPico: bigint;
  try {
    billedPico = centsToPico(amount);
  } catch {
    return unparsedLine(family, format, day, row, raw, `amount ${JSON.stringify(amount)} is not a decimal number of cents`);
  }
  const costType = t('cost_type');
  const tokenType = t('token_type');
  const model = t('model');
  const workspace = t('workspace_id');
  const description = t('description');
  let tokenClass: TokenClass = 'other';
  let parsed = true;
  let note: string | null = null;
  if (costType === null && tokenType === null && model === null) {
    note = 'not grouped by description: fetch with group_by[]=description to see models and token types';
  } else if (costType === 'tokens' || tokenType !== null) {
    const cls = tokenType === null ? undefined : TOKEN_TYPES[tokenType];
    if (cls === undefined) {
      parsed = false;
      note = `token_type ${JSON.stringify(tokenType)} not understood`;
    } else tokenClass = cls;
  }
  return {
    ...BASE,
    sourceFamily: family,
    sourceFormat: format,
    recordKind: 'cost',
    day,
    model: model === null ? null : normalizeModel('anthropic', model),
    tokenClass,
    serviceTier: t('service_tier'),
    contextWindow: t('context_window'),
    scopeType: 'anthropic_workspace',
    scopeId: workspace ?? 'default',
    apiKeyId: null,
    quantity: null,
    quantityUnit: null,
    billedPico,
    description: description ?? ([costType, model, tokenType].filter((x) => x !== null).join(' ') || null),
    row,
    identity: [day, workspace, description, model, costType, tokenType, t('service_tier'), t('context_window'), t('inference_geo')],
    parsed,
    note,
    raw: parsed ? null : raw,
  };
}

function usageLines(result: ExactJson, day: string | null, row: number, raw: string): BillLine[] {
  const t = (k: string) => clean(text(field(result, k)));
  const family = 'anthropic.usage_report';
  const format = 'anthropic.usage_report.json';
  if (day === null) return [{ ...unparsedLine(family, format, day, row, raw, 'no readable bucket starting_at'), recordKind: 'usage' }];
  const cacheCreation = field(result, 'cache_creation');
  const counts: [TokenClass, string, string | null][] = [
    ['input', 'uncached_input_tokens', t('uncached_input_tokens')],
    ['cached_input', 'cache_read_input_tokens', t('cache_read_input_tokens')],
    ['cache_write', 'ephemeral_5m', clean(text(field(cacheCreation, 'ephemeral_5m_input_tokens'))) ?? t('cache_creation_5m_input_tokens')],
    ['cache_write', 'ephemeral_1h', clean(text(field(cacheCreation, 'ephemeral_1h_input_tokens'))) ?? t('cache_creation_1h_input_tokens')],
    ['output', 'output_tokens', t('output_tokens')],
  ];
  if (counts.some(([, , v]) => v !== null && !/^\d+$/.test(v))) {
    return [{ ...unparsedLine(family, format, day, row, raw, 'token counts are not non-negative integers'), recordKind: 'usage' }];
  }
  const model = t('model');
  const workspace = t('workspace_id');
  const identity = [day, workspace, t('api_key_id'), model, t('service_tier'), t('context_window'), t('inference_geo')];
  return counts
    .filter(([, , v]) => v !== null && v !== '0')
    .map(([tokenClass, sub, v]) => ({
      ...BASE,
      sourceFamily: family,
      sourceFormat: format,
      recordKind: 'usage' as const,
      day,
      model: model === null ? null : normalizeModel('anthropic', model),
      tokenClass,
      serviceTier: t('service_tier'),
      contextWindow: t('context_window'),
      scopeType: 'anthropic_workspace',
      scopeId: workspace ?? 'default',
      apiKeyId: t('api_key_id'),
      quantity: v!,
      quantityUnit: 'tokens',
      billedPico: null,
      description: model,
      row,
      identity: [...identity, sub],
      parsed: true,
      note: model === null ? 'not grouped by model: fetch with group_by[]=model' : null,
    }));
}
