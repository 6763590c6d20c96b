import { normalizeModel } from '../../../processors/genai/model-names.js';
import {
  BillFormatError,
  clean,
  dayOf,
  dayOfUnixSeconds,
  quantityText,
  usdToPico,
  type BillLine,
  type ParsedBill,
  type TokenClass,
} from '../bill-line.js';
import { field, isObject, text, type ExactJson } from '../exact-json.js';
import type { Table, TabularRow } from '../tabular.js';
import { readPages } from './admin-api-pages.js';

/**
 * OpenAI's bills (https://platform.openai.com/docs/api-reference/usage):
 * - `GET /v1/organization/costs` pages: results `organization.costs.result` with `amount.value` in dollars
 *   (a JSON number: read as its decimal text), `line_item` free text when grouped by line item (model and
 *   token class: `gpt-4o-2024-08-06, cached input`, `priority | gpt-5, output, long context`), `project_id`,
 *   `api_key_id`, and `quantity` / `quantity_unit` (`tokens`, `1000_tokens`, …) on newer responses;
 * - `GET /v1/organization/usage/completions` pages: token counts per model (`input_tokens` includes cached and
 *   cache-write tokens), and `…/usage/embeddings`;
 * - the Usage dashboard's CSV exports of both (the same fields flattened: `amount_value`, `amount_currency`).
 */

const BASE = { provider: 'openai' as const, publisher: 'OpenAI', contextWindow: null, listPico: null, raw: null, note: null };

// ---- line items ----------------------------------------------------------------------------------

export interface OpenAiLineItem {
  model: string | null;
  tokenClass: TokenClass;
  serviceTier: string | null;
  longContext: boolean;
  /** False when the text does not follow the line item grammar at all. */
  understood: boolean;
}

const TIERS = new Set(['priority', 'flex', 'batch', 'scale', 'default', 'standard']);
const MODALITIES = new Set(['text', 'audio', 'image', 'images', 'video', 'realtime']);
/** Line items that are charges but not model tokens: understood, class `other`. */
const NON_TOKEN_ITEM = /tool calls?|web search|file search|vector stor|code interpreter|container|storage|sessions?$|fine-tuning hosting/i;

/**
 * `[tier | ]model[ modality], piece[, piece…]` where pieces name the token class (`input`, `cached input`,
 * `cache write`, `output`) and modifiers (`long context`, `batch`). Unknown pieces leave the class `other`.
 */
export function parseOpenAiLineItem(lineItem: string): OpenAiLineItem {
  let s = lineItem.trim();
  let serviceTier: string | null = null;
  const tier = /^([a-z]+)\s*\|\s*/i.exec(s);
  if (tier && TIERS.has(tier[1]!.toLowerCase())) {
    serviceTier = tier[1]!.toLowerCase();
    s = s.slice(tier[0].length);
  }
  const parts = s.split(',').map((p) => p.trim());
  const head = parts[0] ?? '';
  const pieces = parts.slice(1).map((p) => p.toLowerCase());
  const none: OpenAiLineItem = { model: null, tokenClass: 'other', serviceTier, longContext: false, understood: false };
  if (pieces.length === 0) return { ...none, understood: NON_TOKEN_ITEM.test(head) };
  const words = head.split(/\s+/);
  const model = words[0] ?? '';
  if (!/^[a-z0-9][\w.:@/-]*$/i.test(model) || !/[a-z]/i.test(model)) return none;
  if (words.slice(1).some((w) => !MODALITIES.has(w.toLowerCase()))) return none;
  let tokenClass: TokenClass | null = null;
  let longContext = false;
  for (const piece of pieces) {
    if (piece === 'long context' || piece === 'long-context') longContext = true;
    else if (piece === 'batch') serviceTier ??= 'batch';
    else if (/^(?:cache(?:d)?[ _-]?(?:write|writes|creation))$/.test(piece)) tokenClass = 'cache_write';
    else if (/^(?:cached input|cache read|cached)$/.test(piece)) tokenClass = 'cached_input';
    else if (/^(?:batch )?input$/.test(piece)) {
      tokenClass = 'input';
      if (piece.startsWith('batch')) serviceTier ??= 'batch';
    } else if (/^(?:batch )?output$/.test(piece)) {
      tokenClass = 'output';
      if (piece.startsWith('batch')) serviceTier ??= 'batch';
    }
  }
  return { model: normalizeModel('openai', model), tokenClass: tokenClass ?? 'other', serviceTier, longContext, understood: true };
}

// ---- costs -----------------------------------------------------------------------------------------

interface CostFields {
  day: string | null;
  amount: string | null;
  currency: string | null;
  lineItem: string | null;
  projectId: string | null;
  apiKeyId: string | null;
  quantity: string | null;
  quantityUnit: string | null;
}

function costLine(f: CostFields, row: number, format: string, raw: string): BillLine {
  const base = {
    ...BASE,
    sourceFamily: 'openai.costs',
    sourceFormat: format,
    recordKind: 'cost' as const,
    day: f.day,
    scopeType: f.projectId !== null ? 'openai_project' : f.apiKeyId !== null ? 'openai_api_key' : null,
    scopeId: f.projectId ?? f.apiKeyId,
    apiKeyId: f.apiKeyId,
    description: f.lineItem,
    row,
    identity: [f.day, f.projectId, f.apiKeyId, f.lineItem],
  };
  const unparsed = (note: string): BillLine => ({
    ...base,
    model: null,
    tokenClass: 'other',
    serviceTier: null,
    quantity: null,
    quantityUnit: null,
    billedPico: null,
    parsed: false,
    note,
    raw,
    identity: [raw],
  });
  if (f.day === null) return unparsed('no readable bucket start time');
  if (f.amount === null) return unparsed('no amount.value');
  if (f.currency !== null && f.currency.toLowerCase() !== 'usd') return unparsed(`amount in ${f.currency}, not USD`);
  let billedPico: bigint;
  try {
    billedPico = usdToPico(f.amount);
  } catch {
    return unparsed(`amount.value ${JSON.stringify(f.amount)} is not a number`);
  }
  const item = f.lineItem === null ? null : parseOpenAiLineItem(f.lineItem);
  let quantity: string | null = null;
  let quantityUnit: string | null = null;
  if (f.quantity !== null) {
    try {
      if (f.quantityUnit === 'tokens') [quantity, quantityUnit] = [quantityText(f.quantity), 'tokens'];
      else if (f.quantityUnit === '1000_tokens') [quantity, quantityUnit] = [quantityText(f.quantity, 1000n), 'tokens'];
      else [quantity, quantityUnit] = [quantityText(f.quantity), f.quantityUnit];
    } catch {
      quantity = null;
    }
  }
  const line: BillLine = {
    ...base,
    model: item?.model ?? null,
    tokenClass: item?.tokenClass ?? 'other',
    serviceTier: item?.serviceTier ?? null,
    contextWindow: item?.longContext ? 'long' : null,
    quantity,
    quantityUnit,
    billedPico,
    parsed: item === null || item.understood,
    note: f.lineItem === null ? 'not grouped by line_item: fetch with group_by=line_item to see models and token classes' : null,
  };
  if (item !== null && !item.understood) {
    return { ...line, tokenClass: 'other', model: null, note: `line item ${JSON.stringify(f.lineItem)} not understood`, raw, identity: base.identity };
  }
  return line;
}

// ---- usage -----------------------------------------------------------------------------------------

interface UsageFields {
  day: string | null;
  kind: 'completions' | 'embeddings' | 'other';
  model: string | null;
  projectId: string | null;
  apiKeyId: string | null;
  userId: string | null;
  serviceTier: string | null;
  batch: string | null;
  inputTokens: string | null;
  cachedTokens: string | null;
  cacheWriteTokens: string | null;
  uncachedTokens: string | null;
  outputTokens: string | null;
}

function usageLines(f: UsageFields, row: number, format: string, raw: string): BillLine[] {
  const tier = f.serviceTier ?? (f.batch === 'true' ? 'batch' : null);
  const base = {
    ...BASE,
    sourceFamily: 'openai.usage',
    sourceFormat: format,
    recordKind: 'usage' as const,
    day: f.day,
    model: f.model === null ? null : normalizeModel('openai', f.model),
    serviceTier: tier,
    scopeType: f.projectId !== null ? 'openai_project' : f.apiKeyId !== null ? 'openai_api_key' : null,
    scopeId: f.projectId ?? f.apiKeyId,
    apiKeyId: f.apiKeyId,
    billedPico: null,
    description: f.model,
    row,
  };
  const identity = [f.day, f.projectId, f.apiKeyId, f.userId, f.model, f.serviceTier, f.batch];
  const unparsed = (note: string): BillLine[] => [
    { ...base, tokenClass: 'other', quantity: null, quantityUnit: null, parsed: false, note, raw, identity: [raw] },
  ];
  if (f.day === null) return unparsed('no readable bucket start time');
  let n: (v: string | null) => bigint | null;
  try {
    n = (v) => (v === null ? null : BigInt(v));
    const input = n(f.inputTokens);
    const cached = n(f.cachedTokens) ?? 0n;
    const cacheWrite = n(f.cacheWriteTokens) ?? 0n;
    const uncached = n(f.uncachedTokens) ?? (input === null ? null : input - cached - cacheWrite);
    const output = n(f.outputTokens);
    if (input === null && output === null) return unparsed('no input_tokens or output_tokens');
    const classes: [TokenClass, bigint | null][] = [
      ['input', uncached],
      ['cached_input', cached],
      ['cache_write', cacheWrite],
      ['output', output],
    ];
    return classes
      .filter(([, v]) => v !== null && v !== 0n)
      .map(([tokenClass, v]) => ({
        ...base,
        tokenClass,
        quantity: v!.toString(),
        quantityUnit: 'tokens',
        parsed: true,
        note: f.model === null ? 'not grouped by model: fetch with group_by=model' : null,
        identity,
      }));
  } catch {
    return unparsed('token counts are not integers');
  }
}

// ---- readers ---------------------------------------------------------------------------------------

/** A JSON file of admin API pages: costs or usage, told apart by the results' `object`. */
export function parseOpenAiJson(textContent: string): ParsedBill {
  const { source, buckets } = readPages(textContent);
  const lines: BillLine[] = [];
  let skippedRows = 0;
  let format: string | null = null;
  let row = 0;
  for (const { bucket, results } of buckets) {
    const start = text(field(bucket, 'start_time'));
    const day = start !== null && /^\d+$/.test(start) ? dayOfUnixSeconds(Number(start)) : dayOf(start);
    for (const result of results) {
      const raw = isObject(result) ? source.slice(result.start, result.end) : JSON.stringify(result);
      const object = text(field(result, 'object')) ?? '';
      if (object === 'organization.costs.result' || (object === '' && field(result, 'amount') !== undefined)) {
        format ??= 'openai.costs.json';
        const amount = field(result, 'amount');
        lines.push(
          costLine(
            {
              day,
              amount: text(field(amount, 'value')),
              currency: text(field(amount, 'currency')),
              lineItem: clean(text(field(result, 'line_item'))),
              projectId: clean(text(field(result, 'project_id'))),
              apiKeyId: clean(text(field(result, 'api_key_id'))),
              quantity: text(field(result, 'quantity')),
              quantityUnit: clean(text(field(result, 'quantity_unit'))),
            },
            row,
            'openai.costs.json',
            raw,
          ),
        );
      } else if (/^organization\.usage\.(completions|embeddings)\.result$/.test(object) || (object === '' && field(result, 'input_tokens') !== undefined)) {
        format ??= 'openai.usage.json';
        lines.push(...usageLines(usageFieldsOfJson(result, day), row, 'openai.usage.json', raw));
      } else if (object.startsWith('organization.usage.')) {
        skippedRows++; // images, audio, vector stores…: not token usage
      } else {
        lines.push({
          ...BASE,
          sourceFamily: 'openai.costs',
          sourceFormat: 'openai.json',
          recordKind: 'cost',
          day,
          model: null,
          tokenClass: 'other',
          serviceTier: null,
          scopeType: null,
          scopeId: null,
          apiKeyId: null,
          quantity: null,
          quantityUnit: null,
          billedPico: null,
          description: null,
          row,
          identity: [raw],
          parsed: false,
          note: `unknown result object ${JSON.stringify(object)}`,
          raw,
        });
      }
      row++;
    }
  }
  return { format: format ?? 'openai.json', lines, skippedRows, notes: [] };
}

function usageFieldsOfJson(result: ExactJson, day: string | null): UsageFields {
  const t = (k: string) => clean(text(field(result, k)));
  const object = t('object') ?? '';
  return {
    day,
    kind: object.includes('embeddings') ? 'embeddings' : 'completions',
    model: t('model'),
    projectId: t('project_id'),
    apiKeyId: t('api_key_id'),
    userId: t('user_id'),
    serviceTier: t('service_tier'),
    batch: t('batch'),
    inputTokens: t('input_tokens'),
    cachedTokens: t('input_cached_tokens'),
    cacheWriteTokens: t('input_cache_write_tokens'),
    uncachedTokens: t('input_uncached_tokens'),
    outputTokens: t('output_tokens'),
  };
}

/** The Usage dashboard's CSV export (costs or completions usage). */
export function parseOpenAiCsv(table: Table): ParsedBill {
  const has = (c: string) => table.columns.includes(c);
  const costs = has('amount_value');
  const usage = has('input_tokens') || has('output_tokens');
  if (!costs && !usage) {
    throw new BillFormatError('not an OpenAI usage export: expected an amount_value column (costs) or input_tokens/output_tokens (usage)');
  }
  const format = costs ? 'openai.costs.csv' : 'openai.usage.csv';
  const lines: BillLine[] = [];
  for (const r of table.rows) {
    const f = (k: string) => clean(r.fields[k]);
    const day = dayOf(f('start_time_iso')) ?? dayOf(f('start_time'));
    if (r.problem !== null) {
      lines.push(problemLine(r, costs ? 'openai.costs' : 'openai.usage', format, day));
      continue;
    }
    if (costs) {
      lines.push(
        costLine(
          {
            day,
            amount: f('amount_value'),
            currency: f('amount_currency'),
            lineItem: f('line_item'),
            projectId: f('project_id'),
            apiKeyId: f('api_key_id'),
            quantity: f('quantity'),
            quantityUnit: f('quantity_unit'),
          },
          r.row,
          format,
          r.raw,
        ),
      );
    } else {
      lines.push(
        ...usageLines(
          {
            day,
            kind: 'completions',
            model: f('model'),
            projectId: f('project_id'),
            apiKeyId: f('api_key_id'),
            userId: f('user_id'),
            serviceTier: f('service_tier'),
            batch: f('batch')?.toLowerCase() ?? null,
            inputTokens: f('input_tokens'),
            cachedTokens: f('input_cached_tokens'),
            cacheWriteTokens: f('input_cache_write_tokens'),
            uncachedTokens: f('input_uncached_tokens'),
            outputTokens: f('output_tokens'),
          },
          r.row,
          format,
          r.raw,
        ),
      );
    }
  }
  return { format, lines, skippedRows: 0, notes: [] };
}

/** A row the container itself could not read (CSV quoting): kept whole as an unparsed line. */
export function problemLine(r: TabularRow, sourceFamily: string, format: string, day: string | null, provider: BillLine['provider'] = 'openai'): BillLine {
  return {
    provider,
    sourceFamily,
    sourceFormat: format,
    recordKind: 'cost',
    day,
    model: null,
    publisher: null,
    tokenClass: 'other',
    serviceTier: null,
    contextWindow: null,
    scopeType: null,
    scopeId: null,
    apiKeyId: null,
    quantity: null,
    quantityUnit: null,
    billedPico: null,
    listPico: null,
    description: null,
    row: r.row,
    identity: [r.raw],
    parsed: false,
    note: r.problem,
    raw: r.raw,
  };
}
