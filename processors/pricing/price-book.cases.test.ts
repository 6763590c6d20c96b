/**
 * More hand-computed cases (issue 4): each names the public list price it relies on, its source and the date
 * it was read; the test checks the bundled database (or our built-in rule) agrees, then the exact cost.
 * Money is pico-USD: $1/Mtok = 1,000,000 pico-USD per token.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { parseUsdToPico } from './decimal.js';
import { PriceBook, type PricedTokens } from './price-book.js';
import { parsePriceOverrides } from './price-overrides.js';

const book = await PriceBook.loadDefault();
const at = (iso: string): bigint => BigInt(Date.parse(iso)) * 1_000_000n;
const JUNE_2025 = at('2025-06-15T12:00:00Z');
const usd = (text: string): bigint => parseUsdToPico(text);
const perMtok = (text: string): bigint => usd(text) / 1_000_000n;
const tokens = (t: Partial<PricedTokens>): PricedTokens => ({
  inputTokens: 0,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  outputTokens: 0,
  reasoningTokens: 0,
  ...t,
});

interface Case {
  name: string;
  /** Where the list price comes from and when it was read. */
  source: string;
  provider: string;
  model: string;
  at: bigint;
  tier?: string;
  tokens: PricedTokens;
  /** Expected rates, $/Mtok: [input, cache read, cache write 5m, cache write 1h, output, reasoning]. */
  rates?: [string, string, string, string, string, string];
  /** Hand-computed parts: [uncached input, cache read, cache write, output (incl. reasoning)] in USD. */
  parts: [string, string, string, string];
  total: string;
  /** Included parts: [1-hour cache writes, reasoning] in USD (0 when omitted). */
  included?: [string, string];
}

const CASES: Case[] = [
  {
    name: 'openai gpt-4.1 with cached input at 75% off',
    source: 'openai.com/api/pricing, GPT-4.1: input $2.00/M, cached input $0.50/M, output $8.00/M (read 2025-06)',
    provider: 'openai',
    model: 'gpt-4.1-2025-04-14',
    at: JUNE_2025,
    tokens: tokens({ inputTokens: 50_000, cachedInputTokens: 40_000, outputTokens: 2_000 }),
    rates: ['2', '0.5', '2', '2', '8', '8'],
    // 10,000 × $2/M = $0.02 · 40,000 × $0.50/M = $0.02 · 2,000 × $8/M = $0.016
    parts: ['0.02', '0.02', '0', '0.016'],
    total: '0.056',
  },
  {
    name: 'openai gpt-5 with cached input at 90% off and reasoning at the output rate',
    source: 'openai.com/api/pricing, GPT-5: input $1.25/M, cached input $0.125/M, output $10.00/M (read 2025-08)',
    provider: 'openai',
    model: 'gpt-5',
    at: at('2025-09-01T00:00:00Z'),
    tokens: tokens({ inputTokens: 8_000, cachedInputTokens: 6_000, outputTokens: 3_000, reasoningTokens: 2_500 }),
    rates: ['1.25', '0.125', '1.25', '1.25', '10', '10'],
    // 2,000 × $1.25/M = $0.0025 · 6,000 × $0.125/M = $0.00075 · 3,000 × $10/M = $0.03 (2,500 of it reasoning)
    parts: ['0.0025', '0.00075', '0', '0.03'],
    total: '0.03325',
    included: ['0', '0.025'], // 2,500 reasoning × $10/M
  },
  {
    name: 'openai o4-mini reasoning model: reasoning billed as output',
    source: 'openai.com/api/pricing, o4-mini: input $1.10/M, cached input $0.275/M, output $4.40/M (read 2025-06)',
    provider: 'openai',
    model: 'o4-mini',
    at: JUNE_2025,
    tokens: tokens({ inputTokens: 1_000, outputTokens: 5_000, reasoningTokens: 4_800 }),
    rates: ['1.1', '0.275', '1.1', '1.1', '4.4', '4.4'],
    // 1,000 × $1.10/M = $0.0011 · 5,000 × $4.40/M = $0.022
    parts: ['0.0011', '0', '0', '0.022'],
    total: '0.0231',
    included: ['0', '0.02112'], // 4,800 reasoning × $4.40/M
  },
  {
    name: 'anthropic claude-sonnet-4: 5-minute and 1-hour cache writes in one call, plus cache reads',
    source:
      'docs.anthropic.com/en/docs/about-claude/pricing, Claude Sonnet 4: base input $3/MTok, 5m cache writes $3.75/MTok, ' +
      '1h cache writes $6/MTok, cache hits $0.30/MTok, output $15/MTok (read 2025-06)',
    provider: 'anthropic',
    model: 'claude-sonnet-4-20250514',
    at: JUNE_2025,
    // input 20,000 = 1,000 uncached + 9,000 cache writes (of which 5,000 1-hour) + 10,000 cache reads
    tokens: tokens({ inputTokens: 20_000, cachedInputTokens: 10_000, cacheWriteTokens: 9_000, cacheWrite1hTokens: 5_000, outputTokens: 500 }),
    rates: ['3', '0.3', '3.75', '6', '15', '15'],
    // 1,000 × $3/M = $0.003 · 10,000 × $0.30/M = $0.003 · 4,000 × $3.75/M + 5,000 × $6/M = $0.015 + $0.03 · 500 × $15/M = $0.0075
    parts: ['0.003', '0.003', '0.045', '0.0075'],
    total: '0.0585',
    included: ['0.03', '0'],
  },
  {
    name: 'anthropic claude-3-5-haiku: only 1-hour cache writes',
    source: 'docs.anthropic.com pricing, Claude Haiku 3.5: input $0.80/MTok, 1h cache writes $1.60/MTok, output $4/MTok (read 2025-06)',
    provider: 'anthropic',
    model: 'claude-3-5-haiku-20241022',
    at: JUNE_2025,
    tokens: tokens({ inputTokens: 100_000, cacheWriteTokens: 100_000, cacheWrite1hTokens: 100_000, outputTokens: 1_000 }),
    rates: ['0.8', '0.08', '1', '1.6', '4', '4'],
    // 100,000 × $1.60/M = $0.16 · 1,000 × $4/M = $0.004
    parts: ['0', '0', '0.16', '0.004'],
    total: '0.164',
    included: ['0.16', '0'],
  },
  {
    name: 'openai gpt-4o-mini through the Batch API: half the list rates',
    source:
      'openai.com/api/pricing, gpt-4o-mini: $0.15/M input, $0.60/M output; Batch API: "save 50% on inputs and outputs" ' +
      '→ $0.075/M and $0.30/M (read 2025-06); built-in multiplier batch ×0.5',
    provider: 'openai',
    model: 'gpt-4o-mini',
    at: JUNE_2025,
    tier: 'batch',
    tokens: tokens({ inputTokens: 1_000_000, outputTokens: 200_000 }),
    rates: ['0.075', '0.0375', '0.075', '0.075', '0.3', '0.3'],
    parts: ['0.075', '0', '0', '0.06'],
    total: '0.135',
  },
  {
    name: 'openai gpt-5 flex processing: batch rates',
    source: 'openai.com/api/pricing, Flex processing for GPT-5: input $0.625/M, output $5.00/M (read 2025-08); built-in flex ×0.5',
    provider: 'openai',
    model: 'gpt-5',
    at: at('2025-09-01T00:00:00Z'),
    tier: 'flex',
    tokens: tokens({ inputTokens: 10_000, outputTokens: 1_000 }),
    rates: ['0.625', '0.0625', '0.625', '0.625', '5', '5'],
    parts: ['0.00625', '0', '0', '0.005'],
    total: '0.01125',
  },
  {
    name: 'gemini-2.5-flash with audio input at its own rate',
    source: 'ai.google.dev/gemini-api/docs/pricing, Gemini 2.5 Flash: input $0.30/M text, $1.00/M audio; output $2.50/M (read 2025-07)',
    provider: 'gcp.gemini',
    model: 'gemini-2.5-flash',
    at: at('2025-08-01T00:00:00Z'),
    tokens: tokens({ inputTokens: 10_000, inputAudioTokens: 4_000, outputTokens: 1_000 }),
    // 6,000 × $0.30/M + 4,000 × $1.00/M = $0.0018 + $0.004 · 1,000 × $2.50/M = $0.0025
    parts: ['0.0058', '0', '0', '0.0025'],
    total: '0.0083',
  },
  {
    name: 'openai gpt-realtime with audio in and out',
    source: 'openai.com/api/pricing, gpt-realtime: text $4/M in, $16/M out; audio $32/M in, $64/M out (read 2025-09)',
    provider: 'openai',
    model: 'gpt-realtime',
    at: at('2025-09-01T00:00:00Z'),
    tokens: tokens({ inputTokens: 1_500, inputAudioTokens: 1_000, outputTokens: 700, outputAudioTokens: 500 }),
    // 500 × $4/M + 1,000 × $32/M = $0.002 + $0.032 · 200 × $16/M + 500 × $64/M = $0.0032 + $0.032
    parts: ['0.034', '0', '0', '0.0352'],
    total: '0.0692',
  },
  {
    name: 'aws.bedrock Claude 3.5 Sonnet by its Bedrock ARN (foundation model)',
    source: 'aws.amazon.com/bedrock/pricing, Anthropic Claude 3.5 Sonnet: $3/M input, $15/M output (read 2025-06)',
    provider: 'aws.bedrock',
    model: 'arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-sonnet-20240620-v1:0',
    at: JUNE_2025,
    tokens: tokens({ inputTokens: 2_000, outputTokens: 300 }),
    // 2,000 × $3/M = $0.006 · 300 × $15/M = $0.0045
    parts: ['0.006', '0', '0', '0.0045'],
    total: '0.0105',
  },
];

describe('hand-computed cases (list prices, tiers, 1-hour cache writes)', () => {
  for (const c of CASES) {
    test(c.name, () => {
      if (c.rates !== undefined) {
        const u = book.unitPrices(c.provider, c.model, c.at, c.tokens.inputTokens, c.tier ?? null);
        assert.ok(u, `${c.model} should be priced (${c.source})`);
        assert.deepEqual(
          [u.input, u.cacheRead, u.cacheWrite, u.cacheWrite1h, u.output, u.reasoning],
          c.rates.map(perMtok),
          c.source,
        );
      }
      const cost = book.cost(c.provider, c.model, c.tokens, c.at, c.tier ?? null);
      assert.ok(cost);
      assert.deepEqual(
        [cost.inputPicoUsd, cost.cachedInputPicoUsd, cost.cacheWritePicoUsd, cost.outputPicoUsd],
        c.parts.map(usd),
      );
      assert.equal(cost.totalPicoUsd, usd(c.total));
      assert.deepEqual([cost.cacheWrite1hPicoUsd, cost.reasoningPicoUsd], (c.included ?? ['0', '0']).map(usd));
    });
  }

  test('a tier with no known multiplier (priority) is priced at standard rates, and standard names change nothing', () => {
    const t = tokens({ inputTokens: 1_000, outputTokens: 100 });
    const standard = book.cost('openai', 'gpt-4o-mini', t, JUNE_2025);
    for (const tier of ['priority', 'default', 'auto', 'STANDARD', null]) {
      assert.deepEqual(book.cost('openai', 'gpt-4o-mini', t, JUNE_2025, tier), standard, String(tier));
    }
    // flex is an OpenAI tier: another provider's "flex" is not halved by the built-in rule
    const sonnet = tokens({ inputTokens: 1_000, outputTokens: 100 });
    assert.deepEqual(
      book.cost('anthropic', 'claude-sonnet-4-20250514', sonnet, JUNE_2025, 'flex'),
      book.cost('anthropic', 'claude-sonnet-4-20250514', sonnet, JUNE_2025),
    );
  });
});

const OVERRIDES = `version: "1.0"
aliases:
  - provider: azure.ai.openai
    model: prod-gpt4o-eastus          # an Azure deployment name
    priceAs: { provider: openai, model: gpt-4o }
  - provider: aws.bedrock
    model: "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"
    priceAs: { model: anthropic.claude-3-5-sonnet-20240620-v1:0 }
prices:
  - provider: acme
    model: acme-llm-70b               # self-hosted: an internal rate per million tokens
    input: "0.40"
    output: "1.20"
  - provider: openai
    model: "ft:gpt-4o-mini-2024-07-18:acme:*"
    input: 0.30
    cacheRead: 0.15
    output: 1.20
  # a negotiated price change in the middle of July: before the 16th and from the 16th
  - provider: anthropic
    model: claude-sonnet-4-20250514
    input: "3"
    cacheRead: "0.30"
    cacheWrite: "3.75"
    cacheWrite1h: "6"
    output: "15"
    until: 2025-07-16
  - provider: anthropic
    model: claude-sonnet-4-20250514
    input: "2.40"
    cacheRead: "0.24"
    cacheWrite: "3"
    cacheWrite1h: "4.80"
    output: "12"
    from: 2025-07-16
discounts:
  - provider: openai
    percent: 12.5
    from: 2025-01-01
  - provider: openai
    model: gpt-4o-mini
    percent: "20"
serviceTiers:
  - provider: openai
    model: gpt-4o
    tier: priority
    multiplier: "1.7"
`;

describe('overrides (hand-computed)', () => {
  const overrides = parsePriceOverrides(OVERRIDES, 'prices.yaml');
  const ob = new PriceBook(book.snapshot, overrides);

  test('the snapshot carries the overrides file hash', () => {
    assert.match(ob.snapshot, /^genai-prices@0\.1\.8\+sha256:[0-9a-f]{12};rules=2;overrides=sha256:[0-9a-f]{12}$/);
    assert.equal(ob.snapshot, `${book.snapshot};overrides=${overrides.hash}`);
    const other = parsePriceOverrides(OVERRIDES.replace('"0.40"', '"0.41"'), 'prices.yaml');
    assert.notEqual(other.hash, overrides.hash);
  });

  test('a provider-wide negotiated discount: 12.5% off OpenAI list prices from 2025-01-01', () => {
    // gpt-4.1 list (openai.com/api/pricing, read 2025-06): $2/M input, $8/M output → ×0.875 = $1.75/M and $7/M.
    const t = tokens({ inputTokens: 100_000, outputTokens: 10_000 });
    const cost = ob.cost('openai', 'gpt-4.1', t, JUNE_2025);
    assert.ok(cost);
    // 100,000 × $1.75/M = $0.175 · 10,000 × $7/M = $0.07
    assert.equal(cost.totalPicoUsd, usd('0.245'));
    // before the discount starts: list price
    assert.equal(ob.cost('openai', 'gpt-4.1', t, at('2024-12-31T23:59:59Z'))?.totalPicoUsd, usd('0.28'));
    const u = ob.unitPrices('openai', 'gpt-4.1', JUNE_2025);
    assert.equal(u?.origin.discount, 'discounts[0]: 12.5% off, from 2025-01-01');
  });

  test('a model discount beats the provider discount: 20% off gpt-4o-mini', () => {
    // $0.15/M input ×0.8 = $0.12/M; $0.60/M output ×0.8 = $0.48/M
    const cost = ob.cost('openai', 'gpt-4o-mini', tokens({ inputTokens: 1_000_000, outputTokens: 1_000_000 }), JUNE_2025);
    assert.equal(cost?.totalPicoUsd, usd('0.60'));
  });

  test('an effective-date change in the middle of the month: 2025-07-15 vs 2025-07-16', () => {
    const t = tokens({ inputTokens: 10_000, cachedInputTokens: 2_000, cacheWriteTokens: 3_000, cacheWrite1hTokens: 1_000, outputTokens: 1_000 });
    // old rates: 5,000 × $3 + 2,000 × $0.30 + 2,000 × $3.75 + 1,000 × $6 + 1,000 × $15 (per M)
    //          = $0.015 + $0.0006 + $0.0075 + $0.006 + $0.015 = $0.0441
    assert.equal(ob.cost('anthropic', 'claude-sonnet-4-20250514', t, at('2025-07-15T23:59:59.999Z'))?.totalPicoUsd, usd('0.0441'));
    // new rates: 5,000 × $2.40 + 2,000 × $0.24 + 2,000 × $3 + 1,000 × $4.80 + 1,000 × $12 (per M)
    //          = $0.012 + $0.00048 + $0.006 + $0.0048 + $0.012 = $0.03528
    assert.equal(ob.cost('anthropic', 'claude-sonnet-4-20250514', t, at('2025-07-16T00:00:00Z'))?.totalPicoUsd, usd('0.03528'));
    const u = ob.unitPrices('anthropic', 'claude-sonnet-4-20250514', at('2025-07-20T00:00:00Z'));
    assert.equal(u?.origin.source, 'overrides prices[3] (prices.yaml)');
    assert.equal(u?.origin.period, 'from 2025-07-16');
  });

  test('a self-hosted model priced by the overrides file; unknown without it', () => {
    assert.equal(book.cost('acme', 'acme-llm-70b', tokens({ inputTokens: 1 }), JUNE_2025), null);
    // 500,000 × $0.40/M = $0.20 · 100,000 × $1.20/M = $0.12
    const cost = ob.cost('acme', 'ACME-LLM-70B', tokens({ inputTokens: 500_000, outputTokens: 100_000 }), JUNE_2025);
    assert.equal(cost?.totalPicoUsd, usd('0.32'));
  });

  test('a fine-tuned model by prefix, with the provider discount on top', () => {
    // $0.30/M ×0.875 = $0.2625/M input; $0.15/M ×0.875 = $0.13125/M cached; $1.20/M ×0.875 = $1.05/M output
    const cost = ob.cost(
      'openai',
      'ft:gpt-4o-mini-2024-07-18:acme:support-v3:AbC123',
      tokens({ inputTokens: 4_000, cachedInputTokens: 2_000, outputTokens: 1_000 }),
      JUNE_2025,
    );
    // 2,000 × $0.2625/M = $0.000525 · 2,000 × $0.13125/M = $0.0002625 · 1,000 × $1.05/M = $0.00105
    assert.deepEqual([cost?.inputPicoUsd, cost?.cachedInputPicoUsd, cost?.outputPicoUsd], [usd('0.000525'), usd('0.0002625'), usd('0.00105')]);
  });

  test('an Azure deployment name priced as the model it runs (with the OpenAI discount, as the aliased provider)', () => {
    // gpt-4o list (openai.com/api/pricing, read 2025-06): $2.50/M input, $10/M output; ×0.875 → $2.1875/M, $8.75/M
    const cost = ob.cost('azure.ai.openai', 'prod-gpt4o-eastus', tokens({ inputTokens: 1_000_000, outputTokens: 100_000 }), JUNE_2025);
    assert.equal(cost?.totalPicoUsd, usd('3.0625'));
    assert.equal(ob.unitPrices('azure.ai.openai', 'prod-gpt4o-eastus', JUNE_2025)?.origin.alias, 'aliases[0] → openai/gpt-4o');
    assert.equal(book.cost('azure.ai.openai', 'prod-gpt4o-eastus', tokens({ inputTokens: 1 }), JUNE_2025), null);
  });

  test('a Bedrock application inference profile ARN priced as its model', () => {
    const arn = 'arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6';
    assert.equal(book.cost('aws.bedrock', arn, tokens({ inputTokens: 1 }), JUNE_2025), null);
    // $3/M input, $15/M output (aws.amazon.com/bedrock/pricing, read 2025-06)
    assert.equal(ob.cost('aws.bedrock', arn, tokens({ inputTokens: 2_000, outputTokens: 300 }), JUNE_2025)?.totalPicoUsd, usd('0.0105'));
  });

  test('a service-tier rule from the overrides file; discount and tier multiply', () => {
    // gpt-4o $2.50/M × 0.875 × 1.7 = $3.71875/M input
    const u = ob.unitPrices('openai', 'gpt-4o', JUNE_2025, 0, 'priority');
    assert.equal(u?.input, perMtok('3.71875'));
    assert.equal(u?.origin.serviceTier, 'priority ×1.7 (overrides serviceTiers[0])');
    // the built-in batch rule still applies to models the file does not mention
    assert.equal(ob.unitPrices('openai', 'gpt-4.1', JUNE_2025, 0, 'batch')?.input, perMtok('0.875'));
  });
});
