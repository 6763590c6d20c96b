import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { boundRowText, MAX_LEDGER_TEXT_CHARS, truncateText } from './bound-text.js';
import { sampleLedgerRows } from '../../exporters/duckdb/testing/sample-rows.js';

test('truncateText: short text unchanged, long text cut to the limit on a character boundary', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 40 }), fc.integer({ min: 1, max: 20 }), (s, max) => {
      const t = truncateText(s, max);
      assert.ok(s.startsWith(t));
      assert.ok(t.length <= max);
      if (s.length <= max) assert.equal(t, s);
      else assert.ok(t.length >= max - 1);
      // never ends in a lone high surrogate that the input had a pair for
      const lastCode = t.charCodeAt(t.length - 1);
      if (t.length < s.length && lastCode >= 0xd800 && lastCode <= 0xdbff) assert.fail('split a surrogate pair');
    }),
  );
  assert.equal(truncateText('😀'.repeat(3), 3), '😀');
});

test('boundRowText bounds every text column and leaves other fields alone', () => {
  const row = sampleLedgerRows(1)[0]!;
  assert.equal(boundRowText(row), row, 'nothing to do: same object');
  const huge = 'x'.repeat(1024 * 1024);
  const bounded = boundRowText({ ...row, model: huge, teamId: huge, spanName: huge, service: huge, instrumentationScope: huge });
  for (const v of [bounded.model, bounded.teamId, bounded.spanName, bounded.service, bounded.instrumentationScope]) {
    assert.equal(v?.length, MAX_LEDGER_TEXT_CHARS);
  }
  assert.equal(bounded.requestCostPicoUsd, row.requestCostPicoUsd);
  assert.equal(bounded.traceId, row.traceId);
});
