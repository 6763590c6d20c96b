import type { FakeProviderOptions } from './fake-provider.js';

/**
 * Known usage answered by the fake provider, and the ledger rows it must produce, shared by the
 * real-instrumentation tests. Prices: @pydantic/genai-prices 0.1.8 list prices (per million tokens).
 */
export const OPENAI_USAGE: FakeProviderOptions = {
  openAiChat: {
    // gpt-4o-mini: $0.15 input, $0.075 cached input, $0.60 output.
    // 800 × 0.15 + 200 × 0.075 + 500 × 0.60 = 120 + 15 + 300 µ$ = $0.000435
    'gpt-4o-mini': { prompt_tokens: 1000, cached_tokens: 200, completion_tokens: 500, responseModel: 'gpt-4o-mini-2024-07-18' },
    // gpt-4o (streamed): $2.50 input, $1.25 cached input, $10 output.
    // 500 × 2.50 + 100 × 1.25 + 50 × 10 = 1250 + 125 + 500 µ$ = $0.001875
    'gpt-4o': { prompt_tokens: 600, cached_tokens: 100, completion_tokens: 50, responseModel: 'gpt-4o-2024-08-06' },
    // o3-mini: $1.10 input, $4.40 output (reasoning billed as output).
    // 100 × 1.10 + 1000 × 4.40 = 110 + 4400 µ$ = $0.00451
    'o3-mini': { prompt_tokens: 100, completion_tokens: 1000, reasoning_tokens: 800, responseModel: 'o3-mini-2025-01-31' },
    // o4-mini (Responses API): $1.10 input, $0.275 cached input, $4.40 output.
    // 1000 × 1.10 + 1000 × 0.275 + 300 × 4.40 = 1100 + 275 + 1320 µ$ = $0.002695
    'o4-mini': { prompt_tokens: 2000, cached_tokens: 1000, completion_tokens: 300, reasoning_tokens: 200, responseModel: 'o4-mini-2025-04-16' },
  },
  // text-embedding-3-small: $0.02 input. 8 × 0.02 µ$ = $0.00000016
  openAiEmbeddings: { 'text-embedding-3-small': 8 },
};

export const ANTHROPIC_USAGE: FakeProviderOptions = {
  anthropic: {
    // claude-sonnet-4: $3 input, $0.30 cache read, $3.75 cache write (5 min), $15 output. Anthropic's
    // input_tokens (1500) EXCLUDES the 1000 cache reads and 500 cache writes: the row's input is 3000.
    // 1500 × 3 + 1000 × 0.30 + 500 × 3.75 + 200 × 15 = 4500 + 300 + 1875 + 3000 µ$ = $0.009675
    'claude-sonnet-4-20250514': { input_tokens: 1500, cache_read_input_tokens: 1000, cache_creation_input_tokens: 500, output_tokens: 200 },
    // claude-3-5-haiku (streamed): $0.80 input, $0.08 cache read, $1 cache write, $4 output.
    // 100 × 0.80 + 2000 × 0.08 + 0 + 50 × 4 = 80 + 160 + 200 µ$ = $0.00044
    'claude-3-5-haiku-20241022': { input_tokens: 100, cache_read_input_tokens: 2000, cache_creation_input_tokens: 0, output_tokens: 50 },
  },
};

/** The columns the real-library tests compare (ids and timestamps are the SDK's own). */
const COLUMNS = [
  'provider',
  'model',
  'operation',
  'input_tokens',
  'cached_input_tokens',
  'cache_write_tokens',
  'output_tokens',
  'reasoning_tokens',
  'total_tokens',
  'team_id',
  'cost_center',
  'project_id',
  'service',
  'environment',
  'attribution_source',
  'request_cost_usd',
  'attribution_status',
  'instrumentation_scope',
] as const;

export type PickedRow = Record<(typeof COLUMNS)[number], string | null>;

export function pick(row: Record<string, string | null>): PickedRow {
  return Object.fromEntries(COLUMNS.map((c) => [c, row[c] ?? null])) as PickedRow;
}

export function sortByModel(rows: PickedRow[]): PickedRow[] {
  return [...rows].sort((a, b) => String(a.model).localeCompare(String(b.model)) || String(a.operation).localeCompare(String(b.operation)));
}

/** Ownership from the resource `service.name = checkout-assistant` via the services mapping table. */
export const CHECKOUT_OWNER = {
  team_id: 'growth',
  cost_center: 'CC-1003',
  project_id: 'checkout',
  service: 'checkout-assistant',
  environment: 'production',
  attribution_source: 'service_mapping',
  attribution_status: 'attributed',
} as const;

export function row(fields: Partial<PickedRow>): PickedRow {
  const base = Object.fromEntries(COLUMNS.map((c) => [c, null])) as PickedRow;
  return { ...base, ...CHECKOUT_OWNER, ...fields };
}

export const BEDROCK_USAGE: FakeProviderOptions = {
  bedrock: {
    // Converse: 1000 uncached input + 2000 cache reads + 500 cache writes, 100 output.
    'anthropic.claude-3-haiku-20240307-v1:0': { inputTokens: 1000, cacheReadInputTokens: 2000, cacheWriteInputTokens: 500, outputTokens: 100 },
    // InvokeModel with an Anthropic body, cross-region inference profile id.
    'us.anthropic.claude-3-5-sonnet-20241022-v2:0': { inputTokens: 300, outputTokens: 40 },
    // ConverseStream: 400 uncached input + 1000 cache reads, 60 output (usage in the stream's metadata event).
    'anthropic.claude-3-5-haiku-20241022-v1:0': { inputTokens: 400, cacheReadInputTokens: 1000, outputTokens: 60 },
    // InvokeModelWithResponseStream (Anthropic body): 700 input, 90 output.
    'anthropic.claude-3-sonnet-20240229-v1:0': { inputTokens: 700, outputTokens: 90 },
  },
};

/** `[model, token_convention, token_source]` per row, sorted by model: how each row's counts were read. */
export function conventions(rows: Record<string, string | null>[]): [string | null, string | null, string | null][] {
  return rows
    .map((r): [string | null, string | null, string | null] => [r['model'] ?? null, r['token_convention'] ?? null, r['token_source'] ?? null])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
}
