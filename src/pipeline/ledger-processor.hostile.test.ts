/**
 * Hostile values inside well-formed requests, at the value level (issue 11): whatever one span carries, the
 * processor never throws, never writes a value outside its column, never prices an unreadable count as zero,
 * and never changes the rows of the other spans of its request — or of any later request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LedgerProcessor } from './ledger-processor.js';
import { rowProblem } from './row-check.js';
import { Attributor } from '../../processors/attribution/attributor.js';
import { PriceBook } from '../../processors/pricing/price-book.js';
import { COUNT_FIELDS, DETECTION_KEYS, TEXT_FIELDS } from '../../processors/genai/attribute-keys.js';
import {
  CACHE_WRITE_1H_KEYS,
  INPUT_AUDIO_KEYS,
  OUTPUT_AUDIO_KEYS,
  REPORTED_COST_KEYS,
  SERVICE_TIER_KEYS,
} from '../../processors/pricing/pricing-attributes.js';
import { anyValueArbitrary } from '../../receivers/otlp/testing/arbitraries.js';
import type { AnyValue, KeyValue, Span, TraceRequest } from '../../core/otlp.js';
import { testSpan } from '../../core/testing/test-span.js';
import type { LedgerRow } from '../../core/ledger-row.js';
import { moneyFits } from '../../core/ledger-limits.js';

const priceBook = await PriceBook.loadDefault();
const teams = new Map([['search', { teamId: 'search', costCenter: 'CC-1001', owner: null, monthlyBudgetUsd: null, extra: {}, line: 2 }]]);
const newProcessor = () => new LedgerProcessor(new Attributor({ teams, services: null }), priceBook);

const NS = 1_000_000n;
const T0 = BigInt(Date.parse('2026-06-15T12:00:00Z')) * NS;
const NOW = Date.parse('2026-06-15T12:05:00Z');

const kv = (key: string, value: AnyValue): KeyValue => ({ key, value });
const hex = (n: number, length: number) => n.toString(16).padStart(length, '0');

function span(i: number, attributes: KeyValue[], overrides: Partial<Span> = {}): Span {
  const start = T0 + BigInt(i) * 1000n * NS;
  return testSpan({
    traceId: hex(0x1000 + i, 32),
    spanId: hex(0x100 + i, 16),
    flags: 0,
    name: `chat ${i}`,
    startTimeUnixNano: start,
    endTimeUnixNano: start + 500n * NS,
    attributes,
    ...overrides,
  });
}

const requestOf = (spans: Span[]): TraceRequest => ({
  resourceSpans: [
    {
      resource: { attributes: [kv('service.name', 'svc')], droppedAttributesCount: 0 },
      schemaUrl: '',
      scopeSpans: [{ scope: { name: 'test', version: '', attributes: [], droppedAttributesCount: 0 }, schemaUrl: '', spans }],
    },
  ],
});

/** A valid, attributed, priced call. */
const validAttributes = (i: number): KeyValue[] => [
  kv('gen_ai.operation.name', 'chat'),
  kv('gen_ai.provider.name', 'openai'),
  kv('gen_ai.request.model', 'gpt-4o-mini'),
  kv('gen_ai.usage.input_tokens', 1000 + i),
  kv('gen_ai.usage.output_tokens', 100 + i),
  kv('team_id', 'search'),
];

/** Every row a processor may write keeps every column in range and the token invariants. */
function assertRowSound(row: LedgerRow): void {
  assert.equal(rowProblem(row), null, `row problem: ${rowProblem(row)}`);
  for (const money of [row.requestCostPicoUsd, row.reportedCostPicoUsd, row.inputCostPicoUsd, row.outputCostPicoUsd]) {
    if (money !== null) assert.ok(money >= 0n && moneyFits(money));
  }
  if (row.exceptions.includes('invalid_tokens') || row.exceptions.includes('missing_tokens')) {
    assert.equal(row.requestCostPicoUsd, null, 'a call without readable tokens has no cost');
  }
}

const HOSTILE_CASES: [string, KeyValue[], Partial<Span>?][] = [
  ['cache read and write of 2^53-1', [kv('gen_ai.usage.cache_read.input_tokens', 2 ** 53 - 1), kv('gen_ai.usage.cache_creation.input_tokens', 2 ** 53 - 1)]],
  ['reasoning of 2^53-1', [kv('gen_ai.usage.reasoning.output_tokens', 2 ** 53 - 1)]],
  ['900 billion input tokens', [kv('gen_ai.usage.input_tokens', 900_000_000_000)]],
  ['reported cost "1e7"', [kv('gen_ai.usage.cost', '1e7')]],
  ['reported cost -5', [kv('gen_ai.usage.cost', -5)]],
  ['reported cost NaN', [kv('gen_ai.usage.cost', Number.NaN)]],
  ['negative input', [kv('gen_ai.usage.input_tokens', -5)]],
  ['fractional input', [kv('gen_ai.usage.input_tokens', 12.5)]],
  ['text input', [kv('gen_ai.usage.input_tokens', 'lots')]],
  ['array input', [kv('gen_ai.usage.input_tokens', [1, 2])]],
  ['int64-max input', [kv('gen_ai.usage.input_tokens', 2n ** 63n - 1n)]],
  ['26-digit input', [kv('gen_ai.usage.input_tokens', '99999999999999999999999999')]],
  ['1h cache writes of 2^60', [kv('gen_ai.usage.cache_creation.ephemeral_1h_input_tokens', 2 ** 60)]],
  ['megabyte response id and service tier', [kv('gen_ai.response.id', 'r'.repeat(1 << 20)), kv('openai.response.service_tier', 't'.repeat(1 << 20))]],
  ['start time 0', [], { startTimeUnixNano: 0n }],
  ['start time in 2554', [], { startTimeUnixNano: 2n ** 64n - 1n, endTimeUnixNano: 2n ** 64n - 1n }],
  ['end before start', [], { endTimeUnixNano: T0 - 1n }],
];

test('each hostile case costs at most its own span; neighbours and later requests are untouched', () => {
  const alone = newProcessor().process(requestOf([span(1, validAttributes(1)), span(3, validAttributes(3))]), NOW).rows;
  const processor = newProcessor();
  for (const [name, extra, overrides] of HOSTILE_CASES) {
    // The hostile attribute replaces the valid one with the same key (first occurrence wins).
    const keys = new Set(extra.map((a) => a.key));
    const hostile = span(2, [...extra, ...validAttributes(2).filter((a) => !keys.has(a.key))], overrides ?? {});
    const result = processor.process(requestOf([span(1, validAttributes(1)), hostile, span(3, validAttributes(3))]), NOW);
    const neighbours = result.rows.filter((r) => r.spanId !== hostile.spanId);
    assert.deepEqual(neighbours, alone, `${name}: the neighbours' rows are what they are without it`);
    for (const row of result.rows) assertRowSound(row);
    // A later, valid request from another trace is processed as if nothing had happened.
    const later = processor.process(requestOf([span(50, validAttributes(50))]), NOW);
    assert.equal(later.rejectedSpans, 0, name);
    assert.equal(later.rows.length, 1, name);
    assert.equal(later.rows[0]!.attributionStatus, 'attributed', name);
    // Fresh ids for the next round, so the trace index treats the repeats as new spans.
    alone.length = 0;
    alone.push(...newProcessor().process(requestOf([span(1, validAttributes(1)), span(3, validAttributes(3))]), NOW).rows);
  }
});

test('the outcome of each hostile case is deliberate', () => {
  const outcome = (extra: KeyValue[], overrides: Partial<Span> = {}) => {
    const keys = new Set(extra.map((a) => a.key));
    const result = newProcessor().process(requestOf([span(2, [...extra, ...validAttributes(2).filter((a) => !keys.has(a.key))], overrides)]), NOW);
    assert.equal(result.rejectedSpans, 0, result.errorMessage);
    return result.rows[0]!;
  };
  for (const value of [-5, 12.5, 'lots', [1, 2], 2n ** 63n - 1n, '99999999999999999999999999', 2 ** 53 - 1] as AnyValue[]) {
    const row = outcome([kv('gen_ai.usage.input_tokens', value)]);
    assert.equal(row.attributionStatus, 'invalid_tokens', String(value));
    assert.equal(row.inputTokens, null);
    assert.equal(row.requestCostPicoUsd, null, 'never priced as if the input were zero');
  }
  const cache = outcome([kv('gen_ai.usage.cache_read.input_tokens', 2 ** 53 - 1), kv('gen_ai.usage.cache_creation.input_tokens', 2 ** 53 - 1)]);
  assert.deepEqual([cache.attributionStatus, cache.cachedInputTokens, cache.requestCostPicoUsd], ['invalid_tokens', null, null]);
  // 900 billion tokens is under the per-class ceiling (10^12): priced as sent ($135,000 of gpt-4o-mini input).
  const huge = outcome([kv('gen_ai.usage.input_tokens', 900_000_000_000)]);
  assert.equal(huge.attributionStatus, 'attributed');
  assert.equal(huge.requestCostPicoUsd, 135_000n * 10n ** 12n + 102n * 600_000n);
  // At the ceiling on a dearer model the cost would not fit one call's DECIMAL(18,12): unpriced, never wrapped.
  const dear = outcome([kv('gen_ai.request.model', 'gpt-4o'), kv('gen_ai.usage.input_tokens', 1_000_000_000_000)]);
  assert.deepEqual([dear.attributionStatus, dear.inputTokens, dear.requestCostPicoUsd], ['invalid_tokens', 1_000_000_000_000, null]);
  const reported = outcome([kv('gen_ai.usage.cost', '1e7')]);
  assert.equal(reported.reportedCostPicoUsd, null);
  assert.deepEqual(reported.exceptions, ['invalid_reported_cost']);
  assert.equal(reported.attributionStatus, 'attributed', 'our own cost is still right');
  assert.notEqual(reported.requestCostPicoUsd, null);
  const early = outcome([], { startTimeUnixNano: 0n });
  assert.equal(early.startTimeUnixNano, BigInt(NOW) * NS, 'a start outside 1970-2200 is replaced by the time received');
  assert.equal(early.endTimeUnixNano, null);
  assert.deepEqual(early.exceptions, ['invalid_timestamp']);
  const backwards = outcome([], { endTimeUnixNano: T0 - 1n });
  assert.equal(backwards.startTimeUnixNano, span(2, []).startTimeUnixNano);
  assert.equal(backwards.endTimeUnixNano, null);
  const text = outcome([kv('gen_ai.response.id', 'r'.repeat(5000)), kv('openai.response.service_tier', 'T'.repeat(5000))]);
  assert.equal(text.responseId?.length, 1024);
  assert.equal(text.serviceTier?.length, 1024);
});

// ---- Properties over any attribute map ---------------------------------------------------------------

const CONVENTION_KEYS = [
  ...new Set(
    [
      ...DETECTION_KEYS,
      ...Object.values(COUNT_FIELDS).flat(),
      ...Object.values(TEXT_FIELDS)
        .flat()
        .map((f) => f.key),
      ...CACHE_WRITE_1H_KEYS,
      ...REPORTED_COST_KEYS,
      ...SERVICE_TIER_KEYS,
      ...INPUT_AUDIO_KEYS,
      ...OUTPUT_AUDIO_KEYS,
    ].map((key) => key.split('#')[0]!),
  ),
];

/** Values of every kind and magnitude, weighted towards the ones that broke things. */
const hostileValue: fc.Arbitrary<AnyValue> = fc.oneof(
  anyValueArbitrary(),
  fc.constantFrom<AnyValue>(
    2 ** 53 - 1,
    2 ** 53 + 2,
    -1,
    -0,
    0.5,
    1e12,
    1e12 + 1,
    1e7,
    '1e7',
    '1e400',
    '99999999999999999999999999',
    Number.NaN,
    Number.POSITIVE_INFINITY,
    2n ** 63n - 1n,
    -(2n ** 63n),
    '',
    ' ',
    'gpt-4o',
    'claude-sonnet-4-20250514',
    'openai',
    'chat',
    'search',
    '{"input": 5, "output": "x"}',
  ),
  fc.double(),
  fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }),
  fc.integer(),
  fc.string({ maxLength: 3000 }),
);

const hostileSpan: fc.Arbitrary<Span> = fc
  .record({
    attributes: fc.array(fc.tuple(fc.constantFrom(...CONVENTION_KEYS), hostileValue), { minLength: 1, maxLength: 16 }),
    start: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    end: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    traceId: fc.oneof(fc.constant(hex(0xdead, 32)), fc.constant(''), fc.constant('0'.repeat(32)), fc.stringMatching(/^[0-9a-f]{32}$/)),
    spanId: fc.oneof(fc.constant(hex(0xbeef, 16)), fc.constant(''), fc.constant('0'.repeat(16)), fc.stringMatching(/^[0-9a-f]{16}$/)),
    name: fc.string({ maxLength: 2000 }),
  })
  .map(({ attributes, start, end, traceId, spanId, name }) =>
    span(999, attributes.map(([key, value]) => kv(key, value)), { startTimeUnixNano: start, endTimeUnixNano: end, traceId, spanId, name }),
  );

test('property: any span → process() never throws, every row is sound, the neighbours are untouched', () => {
  const neighbours = [span(1, validAttributes(1)), span(3, validAttributes(3))];
  const alone = newProcessor().process(requestOf(neighbours), NOW).rows;
  fc.assert(
    fc.property(hostileSpan, fc.nat({ max: 2 }), (hostile, position) => {
      fc.pre(!neighbours.some((n) => n.traceId === hostile.traceId));
      const processor = newProcessor();
      const spans = [...neighbours];
      spans.splice(position, 0, hostile);
      const result = processor.process(requestOf(spans), NOW);
      for (const row of result.rows) assertRowSound(row);
      for (const dup of result.changes?.duplicates ?? []) assertRowSound(dup);
      assert.deepEqual(
        result.rows.filter((r) => r.spanId !== hostile.spanId || r.traceId !== hostile.traceId),
        alone,
      );
      assert.ok(result.rows.length + result.rejectedSpans + (result.changes?.duplicates.length ?? 0) <= 3);
      // And the processor is as good as new for the next request.
      const later = processor.process(requestOf([span(50, validAttributes(50))]), NOW);
      assert.equal(later.rows.length, 1);
      assert.equal(later.rejectedSpans, 0);
    }),
    { numRuns: 1500 },
  );
});

test('property: a priced-class count that is sent but unreadable is never priced as zero', () => {
  const unreadable = fc.oneof(
    fc.integer({ max: -1 }),
    fc.double().filter((d) => !Number.isInteger(d) || d < 0 || d > 1e12),
    fc.string().filter((s) => s.trim() !== '' && !/^\+?\d+(\.0*)?$/.test(s.trim())),
    fc.bigInt({ min: 10n ** 12n + 1n, max: 2n ** 70n }),
    fc.array(fc.nat(), { minLength: 1, maxLength: 3 }),
    fc.boolean(),
  );
  const pricedKeys = ['gen_ai.usage.input_tokens', 'gen_ai.usage.output_tokens', 'gen_ai.usage.cache_read.input_tokens',
    'gen_ai.usage.cache_creation.input_tokens', 'gen_ai.usage.reasoning.output_tokens', ...CACHE_WRITE_1H_KEYS];
  fc.assert(
    fc.property(fc.constantFrom(...pricedKeys), unreadable, (key, value) => {
      const attributes = [kv(key, value as AnyValue), ...validAttributes(2).filter((a) => a.key !== key)];
      const [row] = newProcessor().process(requestOf([span(2, attributes)]), NOW).rows;
      // 1e12 < value in scientific text like "2e12" is also unreadable; every case must end unpriced.
      assert.equal(row?.requestCostPicoUsd, null, `${key}=${String(value)}`);
      assert.ok(row?.exceptions.includes('invalid_tokens'));
    }),
    { numRuns: 1000 },
  );
});
