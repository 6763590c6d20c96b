import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import type { LedgerRow } from '../../core/ledger-row.js';
import { sampleLedgerRow } from '../../exporters/duckdb/testing/sample-rows.js';

/**
 * The ledger side of the June 2025 billing fixtures (test/fixtures/billing/): the calls the applications traced,
 * priced at list price. Against the bills it plants, on purpose:
 * - OpenAI 2025-06-02: gpt-4o output billed $6.50 for the same 500k tokens the ledger prices at $5.00 (price drift $1.50);
 * - OpenAI 2025-06-02: gpt-4.1-mini billed $5.00 with no traced call at all (untraced usage);
 * - OpenAI 2025-06-02: a line item nobody can read ($0.75) and web search tool calls ($0.40) (unclassified);
 * - Anthropic 2025-06-02: 1M output tokens billed, 800k traced (token drift $3.00), an unknown token type ($0.455)
 *   and web search ($1.20);
 * - AWS 2025-06-01: Claude 3 Haiku and Claude 3.5 Sonnet (AWS Marketplace) match the CUR; tax $0.41 is unclassified.
 */
export const BILLING_FIXTURES = resolve(fileURLToPath(import.meta.url), '../../../../test/fixtures/billing');

const USD = (dollars: string): bigint => {
  const [whole, frac = ''] = dollars.split('.');
  return BigInt(whole!) * 10n ** 12n + BigInt((frac + '0'.repeat(12)).slice(0, 12));
};

let serial = 0;
function call(day: string, fields: Partial<LedgerRow> & { costs: [input: string, cached: string, cacheWrite: string, output: string] }): LedgerRow {
  const n = ++serial;
  const [input, cached, cacheWrite, output] = fields.costs.map(USD) as [bigint, bigint, bigint, bigint];
  const start = BigInt(Date.parse(`${day}T12:00:00Z`)) * 1_000_000n + BigInt(n) * 1_000_000_000n;
  const { costs: _costs, ...rest } = fields;
  return sampleLedgerRow({
    traceId: n.toString(16).padStart(32, 'a'),
    spanId: n.toString(16).padStart(16, 'b'),
    startTimeUnixNano: start,
    endTimeUnixNano: start + 1_000_000_000n,
    requestCostPicoUsd: input + cached + cacheWrite + output,
    inputCostPicoUsd: input,
    cachedInputCostPicoUsd: cached,
    cacheWriteCostPicoUsd: cacheWrite,
    outputCostPicoUsd: output,
    reasoningTokens: 0,
    reasoningCostPicoUsd: 0n,
    cacheWrite1hTokens: null,
    cacheWrite1hCostPicoUsd: null,
    ...rest,
    totalTokens: (rest.inputTokens ?? 0) + (rest.outputTokens ?? 0),
  });
}

const times = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));

const SEARCH = { teamId: 'search', costCenter: 'CC-1001', projectId: 'semantic-search', service: 'search-api', environment: 'production' };
const SUPPORT = { teamId: 'support-bot', costCenter: 'CC-1002', projectId: 'helpdesk', service: 'support-bot', environment: 'production' };

export function june2025LedgerRows(): LedgerRow[] {
  serial = 0;
  const rows: LedgerRow[] = [];
  for (const day of ['2025-06-01', '2025-06-02', '2025-06-03']) {
    rows.push(
      ...times(10, () =>
        call(day, {
          ...SEARCH,
          provider: 'openai',
          model: 'gpt-4o-2024-08-06',
          requestModel: 'gpt-4o',
          responseModel: 'gpt-4o-2024-08-06',
          inputTokens: 110_000,
          cachedInputTokens: 10_000,
          cacheWriteTokens: 0,
          outputTokens: 50_000,
          costs: ['0.25', '0.0125', '0', '0.5'],
        }),
      ),
      ...times(20, () =>
        call(day, {
          ...SUPPORT,
          provider: 'openai',
          model: 'gpt-4o-mini-2024-07-18',
          requestModel: 'gpt-4o-mini',
          responseModel: 'gpt-4o-mini-2024-07-18',
          inputTokens: 50_000,
          cachedInputTokens: 0,
          cacheWriteTokens: 0,
          outputTokens: 25_000,
          costs: ['0.0075', '0', '0', '0.015'],
        }),
      ),
    );
  }
  for (const [day, output, outputCost] of [
    ['2025-06-01', 100_000, '1.5'],
    ['2025-06-02', 80_000, '1.2'],
  ] as const) {
    rows.push(
      ...times(10, () =>
        call(day, {
          ...SUPPORT,
          provider: 'anthropic',
          model: 'claude-sonnet-4-20250514',
          requestModel: 'claude-sonnet-4-20250514',
          responseModel: 'claude-sonnet-4-20250514',
          inputTokens: 1_300_000,
          cachedInputTokens: 1_000_000,
          cacheWriteTokens: 100_000,
          outputTokens: output,
          costs: ['0.6', '0.3', '0.375', outputCost],
        }),
      ),
    );
  }
  rows.push(
    ...times(4, () =>
      call('2025-06-01', {
        ...SUPPORT,
        provider: 'aws.bedrock',
        model: 'anthropic.claude-3-haiku-20240307-v1:0',
        requestModel: 'anthropic.claude-3-haiku-20240307-v1:0',
        responseModel: null,
        inputTokens: 1_500_000,
        cachedInputTokens: 500_000,
        cacheWriteTokens: 0,
        outputTokens: 0,
        costs: ['0.25', '0.015', '0', '0'],
      }),
    ),
    call('2025-06-01', {
      ...SEARCH,
      provider: 'aws.bedrock',
      model: 'us.anthropic.claude-3-5-sonnet-20240620-v1:0',
      requestModel: 'us.anthropic.claude-3-5-sonnet-20240620-v1:0',
      responseModel: null,
      inputTokens: 1_500_000,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: 200_000,
      costs: ['4.5', '0', '0', '3'],
    }),
  );
  return rows;
}
