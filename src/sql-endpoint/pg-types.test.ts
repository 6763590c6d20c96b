import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DuckDBIntervalValue } from '@duckdb/node-api';
import { numericBinary, numericFromBinary, textForms } from './pg-types.js';

describe('PostgreSQL text forms', () => {
  it('timestamps: ISO, fraction only when present, +00 for timestamptz, BC before year 1', () => {
    const { timestampText } = textForms;
    assert.equal(timestampText(1_793_872_800_000_000n, true), '2026-11-05 10:00:00+00');
    assert.equal(timestampText(1_735_732_800_123_456n, true), '2025-01-01 12:00:00.123456+00');
    assert.equal(timestampText(1_735_732_800_120_000n, false), '2025-01-01 12:00:00.12');
    assert.equal(timestampText(-1n, false), '1969-12-31 23:59:59.999999');
    // 0000-01-01 is 1 BC (there is no year 0); a day earlier is 2 BC.
    assert.equal(timestampText(-62_167_219_200_000_000n, false), '0001-01-01 00:00:00 BC');
    assert.equal(timestampText(-62_167_219_200_000_000n - 86_400_000_000n, false), '0002-12-31 00:00:00 BC');
  });

  it('intervals in the postgres IntervalStyle', () => {
    const { intervalText } = textForms;
    assert.equal(intervalText(new DuckDBIntervalValue(14, 3, 14_706_500_000n)), '1 year 2 mons 3 days 04:05:06.5');
    assert.equal(intervalText(new DuckDBIntervalValue(0, 0, 0n)), '00:00:00');
    assert.equal(intervalText(new DuckDBIntervalValue(-1, -1, -3_600_000_000n)), '-1 mons -1 days -01:00:00');
  });

  it('float4 with the fewest digits that read back as the same float', () => {
    const { float4Text } = textForms;
    assert.equal(float4Text(Math.fround(0.1)), '0.1');
    assert.equal(float4Text(Math.fround(1 / 3)), '0.33333334');
    assert.equal(float4Text(Number.NaN), 'NaN');
  });

  it('array elements quoted when they could be misread', () => {
    const { arrayElementText } = textForms;
    assert.deepEqual(['a', '', 'NULL', 'a,b', 'x"y', 'back\\slash', 'sp ace', '{}'].map(arrayElementText), [
      'a',
      '""',
      '"NULL"',
      '"a,b"',
      '"x\\"y"',
      '"back\\\\slash"',
      '"sp ace"',
      '"{}"',
    ]);
  });
});

describe('binary NUMERIC', () => {
  it('encodes PostgreSQL digit groups, weight, sign and scale', () => {
    // 1234.5600 → digits [1234, 5600], weight 0, dscale 4
    assert.deepEqual([...numericBinary('1234.5600')], [0, 2, 0, 0, 0, 0, 0, 4, 0x04, 0xd2, 0x15, 0xe0]);
    // 0.000000000001 = 1 × 10000^-3 → one digit group, weight -3
    assert.deepEqual([...numericBinary('0.000000000001')], [0, 1, 0xff, 0xfd, 0, 0, 0, 12, 0, 1]);
    assert.deepEqual([...numericBinary('0')], [0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('reads back what it writes, exactly', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 38n) + 1n, max: 10n ** 38n - 1n }), fc.integer({ min: 0, max: 20 }), (unscaled, scale) => {
        const abs = (unscaled < 0n ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
        const text = `${unscaled < 0n ? '-' : ''}${scale > 0 ? `${abs.slice(0, -scale)}.${abs.slice(-scale)}` : abs}`;
        const back = numericFromBinary(numericBinary(text));
        assert.equal(back, text);
      }),
    );
  });
});
