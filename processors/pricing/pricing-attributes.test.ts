import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { KeyValue, Span, TraceRequest } from '../../core/otlp.js';
import { testSpan } from '../../core/testing/test-span.js';
import { LedgerProcessor } from '../../src/pipeline/ledger-processor.js';
import { Attributor } from '../attribution/attributor.js';
import { costMismatchThresholds, CostMismatchConfig, isCostMismatch } from './cost-mismatch.js';
import { parseUsdToPico } from './decimal.js';
import { PriceBook } from './price-book.js';
import { parseReportedCost, readPricingAttributes } from './pricing-attributes.js';

const kv = (key: string, value: KeyValue['value']): KeyValue => ({ key, value });
const usd = parseUsdToPico;

describe('pricing attributes', () => {
  test('service tier: the tier that ran beats the one requested; a requested "auto" says nothing', () => {
    assert.equal(
      readPricingAttributes([kv('openai.request.service_tier', 'flex'), kv('openai.response.service_tier', 'Default')]).serviceTier,
      'default',
    );
    assert.equal(readPricingAttributes([kv('gen_ai.openai.request.service_tier', 'flex')]).serviceTier, 'flex');
    assert.equal(readPricingAttributes([kv('openai.request.service_tier', 'auto')]).serviceTier, null);
    assert.equal(readPricingAttributes([kv('genai_ledger.service_tier', 'batch')]).serviceTier, 'batch');
    assert.equal(readPricingAttributes([]).serviceTier, null);
  });

  test('1-hour cache writes and reported cost, in every accepted form', () => {
    const a = readPricingAttributes([
      kv('gen_ai.usage.cache_creation.ephemeral_1h_input_tokens', '1200'),
      kv('llm.cost.total', 0.5),
      kv('gen_ai.usage.cost', 0.0123),
    ]);
    assert.equal(a.cacheWrite1hTokens, 1200);
    assert.equal(a.reportedCostPicoUsd, usd('0.0123')); // OpenLIT's key outranks llm.cost.total
    assert.equal(readPricingAttributes([kv('gen_ai.cost.total_cost', '0.000000123')]).reportedCostPicoUsd, 123_000n);
    assert.equal(parseReportedCost(1e-7), 100_000n);
    const audio = readPricingAttributes([kv('llm.token_count.prompt_details.audio', 7), kv('llm.token_count.completion_details.audio', '11')]);
    assert.deepEqual([audio.inputAudioTokens, audio.outputAudioTokens], [7, 11]);
    assert.equal(parseReportedCost(-1), null);
    assert.equal(parseReportedCost('n/a'), null);
    assert.equal(parseReportedCost(Number.NaN), null);
  });

  test('cost mismatch needs both thresholds exceeded (defaults: 10% and $0.001)', () => {
    const t = costMismatchThresholds(CostMismatchConfig.parse({}));
    assert.equal(isCostMismatch(usd('1'), usd('1.1'), t), false); // exactly 10%
    assert.equal(isCostMismatch(usd('1'), usd('1.100000000001'), t), true);
    assert.equal(isCostMismatch(usd('0.001'), usd('0.0019'), t), false); // 90% but under $0.001
    assert.equal(isCostMismatch(usd('0.001'), usd('0.002001'), t), true);
    assert.equal(isCostMismatch(0n, usd('0.01'), t), true);
    assert.equal(isCostMismatch(usd('5'), 0n, t), false); // a reported 0 means: unknown to the instrumentation
    const loose = costMismatchThresholds(CostMismatchConfig.parse({ percent: 50, minUsd: '0.5' }));
    assert.equal(isCostMismatch(usd('1'), usd('1.45'), loose), false);
  });
});

function span(attributes: KeyValue[]): Span {
  return testSpan({
    name: 'chat',
    startTimeUnixNano: BigInt(Date.parse('2025-06-15T12:00:00Z')) * 1_000_000n,
    endTimeUnixNano: BigInt(Date.parse('2025-06-15T12:00:01Z')) * 1_000_000n,
    attributes,
  });
}

const request = (attributes: KeyValue[]): TraceRequest => ({
  resourceSpans: [
    {
      resource: { attributes: [kv('service.name', 'svc')], droppedAttributesCount: 0 },
      schemaUrl: '',
      scopeSpans: [{ scope: { name: 'test', version: '', attributes: [], droppedAttributesCount: 0 }, schemaUrl: '', spans: [span(attributes)] }],
    },
  ],
});

describe('the ledger processor prices with them', async () => {
  const book = await PriceBook.loadDefault();
  const teams = new Map([['team-a', { teamId: 'team-a', costCenter: 'CC-1', owner: null, monthlyBudgetUsd: null, extra: {}, line: 2 }]]);
  const processor = new LedgerProcessor(new Attributor({ teams, services: null }), book);
  const row = (attributes: KeyValue[]) => {
    const rows = processor.process(request(attributes)).rows;
    assert.equal(rows.length, 1);
    return rows[0]!;
  };
  const base = [
    kv('gen_ai.operation.name', 'chat'),
    kv('gen_ai.provider.name', 'openai'),
    kv('gen_ai.request.model', 'gpt-4o-mini'),
    kv('gen_ai.usage.input_tokens', 1_000_000),
    kv('gen_ai.usage.output_tokens', 100_000),
    kv('team_id', 'team-a'),
  ];

  test('a batch-tier call is half price, and the tier is stored', () => {
    // gpt-4o-mini $0.15/M in, $0.60/M out (openai.com/api/pricing, read 2025-06) → $0.15 + $0.06 = $0.21 standard
    assert.equal(row(base).requestCostPicoUsd, usd('0.21'));
    const batch = row([...base, kv('openai.response.service_tier', 'batch')]);
    assert.equal(batch.requestCostPicoUsd, usd('0.105'));
    assert.equal(batch.serviceTier, 'batch');
  });

  test('a reported cost is kept; a large disagreement adds cost_mismatch without changing attribution_status', () => {
    const close = row([...base, kv('gen_ai.usage.cost', 0.2101)]);
    assert.equal(close.reportedCostPicoUsd, usd('0.2101'));
    assert.deepEqual(close.exceptions, []);
    const far = row([...base, kv('gen_ai.usage.cost', 1.16)]);
    assert.deepEqual(far.exceptions, ['cost_mismatch']);
    assert.equal(far.attributionStatus, 'attributed');
    const noTeam = row([...base.filter((a) => a.key !== 'team_id'), kv('gen_ai.cost.total_cost', '0.01')]);
    assert.deepEqual(noTeam.exceptions, ['missing_team', 'cost_mismatch']);
    assert.equal(noTeam.attributionStatus, 'missing_team');
  });

  test('OpenInference audio token counts are priced at the audio rates and stored', () => {
    // gpt-realtime (openai.com/api/pricing, read 2025-09): audio $32/M in, $64/M out; text $4/M in, $16/M out.
    const r = row([
      kv('openinference.span.kind', 'LLM'),
      kv('llm.provider', 'openai'),
      kv('llm.model_name', 'gpt-realtime'),
      kv('llm.token_count.prompt', 1_500),
      kv('llm.token_count.completion', 700),
      kv('llm.token_count.prompt_details.audio', 1_000),
      kv('llm.token_count.completion_details.audio', 500),
      kv('team_id', 'team-a'),
    ]);
    assert.deepEqual([r.inputAudioTokens, r.outputAudioTokens], [1_000, 500]);
    // 500 × $4 + 1,000 × $32 + 200 × $16 + 500 × $64 (per M) = $0.002 + $0.032 + $0.0032 + $0.032
    assert.equal(r.requestCostPicoUsd, usd('0.0692'));
  });

  test('1-hour cache writes are priced at their own rate and capped at the cache writes', () => {
    const anthropic = [
      kv('gen_ai.operation.name', 'chat'),
      kv('gen_ai.provider.name', 'anthropic'),
      kv('gen_ai.request.model', 'claude-sonnet-4-20250514'),
      kv('gen_ai.usage.input_tokens', 10_000),
      kv('gen_ai.usage.cache_creation.input_tokens', 10_000),
      kv('gen_ai.usage.output_tokens', 0),
    ];
    // all 10,000 written for 1 hour: 10,000 × $6/M = $0.06 (docs.anthropic.com pricing, read 2025-06)
    const r = row([...anthropic, kv('gen_ai.usage.cache_creation.ephemeral_1h_input_tokens', 10_000)]);
    assert.equal(r.cacheWriteTokens, 10_000);
    assert.equal(r.cacheWrite1hTokens, 10_000);
    assert.equal(r.requestCostPicoUsd, usd('0.06'));
    assert.equal(r.cacheWrite1hCostPicoUsd, usd('0.06'));
    // 5-minute writes only: $3.75/M → $0.0375
    assert.equal(row(anthropic).requestCostPicoUsd, usd('0.0375'));
    // a 1-hour count above the cache writes is capped to them
    assert.equal(row([...anthropic, kv('gen_ai.usage.cache_creation.ephemeral_1h_input_tokens', 99_999)]).cacheWrite1hTokens, 10_000);
  });
});
