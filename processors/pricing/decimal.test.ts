import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import fc from 'fast-check';

import {
  formatPicoUsd,
  formatScaled,
  formatUsdPerMtok,
  parseDecimal,
  parseUsdToPico,
  usdPerMtokToPicoPerToken,
} from './decimal.js';

describe('usdPerMtokToPicoPerToken', () => {
  test('list prices with up to 6 decimals in $/Mtok are exact pico-USD per token', () => {
    assert.deepEqual(usdPerMtokToPicoPerToken(0.075), { value: 75_000n, rounded: false });
    assert.deepEqual(usdPerMtokToPicoPerToken(0.15), { value: 150_000n, rounded: false });
    assert.deepEqual(usdPerMtokToPicoPerToken(3), { value: 3_000_000n, rounded: false });
    assert.deepEqual(usdPerMtokToPicoPerToken(3.75), { value: 3_750_000n, rounded: false });
    assert.deepEqual(usdPerMtokToPicoPerToken(0.003625), { value: 3_625n, rounded: false });
    assert.deepEqual(usdPerMtokToPicoPerToken(0.000001), { value: 1n, rounded: false });
    assert.deepEqual(usdPerMtokToPicoPerToken(0), { value: 0n, rounded: false });
  });

  test('exponent forms from String(n)', () => {
    assert.equal(String(1.5e-7), '1.5e-7');
    // 1.5e-7 $/Mtok = 0.15 pico-USD per token → rounds half-even to 0
    assert.deepEqual(usdPerMtokToPicoPerToken(1.5e-7), { value: 0n, rounded: true });
    assert.deepEqual(usdPerMtokToPicoPerToken(5e-6), { value: 5n, rounded: false });
    assert.equal(String(1e21), '1e+21');
    assert.deepEqual(usdPerMtokToPicoPerToken(1e21), { value: 10n ** 27n, rounded: false });
  });

  test('more than 6 decimals: rounded half-even and flagged', () => {
    // float artefacts found in the bundled database
    assert.deepEqual(usdPerMtokToPicoPerToken(0.18000000000000002), { value: 180_000n, rounded: true });
    assert.deepEqual(usdPerMtokToPicoPerToken(0.08333333333333334), { value: 83_333n, rounded: true });
    // ties go to the even neighbour
    assert.deepEqual(usdPerMtokToPicoPerToken(0.0000025), { value: 2n, rounded: true });
    assert.deepEqual(usdPerMtokToPicoPerToken(0.0000035), { value: 4n, rounded: true });
    assert.deepEqual(usdPerMtokToPicoPerToken(0.00000251), { value: 3n, rounded: true });
  });

  test('rejects negative, NaN and infinite prices', () => {
    for (const bad of [-0.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(() => usdPerMtokToPicoPerToken(bad), RangeError);
    }
  });

  test('property: a price written with ≤ 6 decimals survives the JS number round trip exactly', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 12n }), (picoPerToken) => {
        const asNumber = Number(formatUsdPerMtok(picoPerToken)); // what a JSON price file would hold
        assert.deepEqual(usdPerMtokToPicoPerToken(asNumber), { value: picoPerToken, rounded: false });
      }),
    );
  });
});

describe('parseDecimal', () => {
  test('syntax variants', () => {
    assert.deepEqual(parseDecimal('12.5', 2), { value: 1250n, rounded: false });
    assert.deepEqual(parseDecimal('.5', 1), { value: 5n, rounded: false });
    assert.deepEqual(parseDecimal('5.', 1), { value: 50n, rounded: false });
    assert.deepEqual(parseDecimal('+7', 0), { value: 7n, rounded: false });
    assert.deepEqual(parseDecimal('-1.25E+2', 0), { value: -125n, rounded: false });
    assert.deepEqual(parseDecimal('-0', 3), { value: 0n, rounded: false });
  });

  test('half-even rounding, symmetric for negatives', () => {
    assert.deepEqual(parseDecimal('0.5', 0), { value: 0n, rounded: true });
    assert.deepEqual(parseDecimal('1.5', 0), { value: 2n, rounded: true });
    assert.deepEqual(parseDecimal('2.5', 0), { value: 2n, rounded: true });
    assert.deepEqual(parseDecimal('-2.5', 0), { value: -2n, rounded: true });
    assert.deepEqual(parseDecimal('-2.51', 0), { value: -3n, rounded: true });
    assert.deepEqual(parseDecimal('2.4999999999', 0), { value: 2n, rounded: true });
  });

  test('malformed input is a SyntaxError', () => {
    for (const bad of ['', '.', '+', '-', 'e5', '1e', '1.2.3', ' 1', '1 ', '0x10', '1_000', 'NaN', 'Infinity', '1,5']) {
      assert.throws(() => parseDecimal(bad, 2), SyntaxError, JSON.stringify(bad));
    }
  });

  test('absurd exponents are refused instead of allocating huge numbers', () => {
    assert.throws(() => parseDecimal('1e999999', 0), RangeError);
  });
});

describe('parseUsdToPico / formatPicoUsd', () => {
  test('parse', () => {
    assert.equal(parseUsdToPico('12.5'), 12_500_000_000_000n);
    assert.equal(parseUsdToPico('0'), 0n);
    assert.equal(parseUsdToPico('-0.000000000001'), -1n);
    assert.equal(parseUsdToPico('1e-12'), 1n);
    assert.equal(parseUsdToPico('0.000123450000'), 123_450_000n);
  });

  test('digits below one pico-USD are refused, never silently rounded', () => {
    assert.throws(() => parseUsdToPico('0.0000000000001'), RangeError);
    assert.throws(() => parseUsdToPico('1e-13'), RangeError);
    assert.throws(() => parseUsdToPico('abc'), SyntaxError);
  });

  test('format: fixed 12 decimals, negative safe', () => {
    assert.equal(formatPicoUsd(0n), '0.000000000000');
    assert.equal(formatPicoUsd(123_450_000n), '0.000123450000');
    assert.equal(formatPicoUsd(1n), '0.000000000001');
    assert.equal(formatPicoUsd(-1n), '-0.000000000001');
    assert.equal(formatPicoUsd(-12_500_000_000_000n), '-12.500000000000');
    assert.equal(formatPicoUsd(999_999_999_999_999_999n), '999999.999999999999');
    assert.equal(formatUsdPerMtok(75_000n), '0.075000');
    assert.equal(formatScaled(-5n, 0), '-5');
  });

  test('property: format and parse are inverse', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(10n ** 24n), max: 10n ** 24n }), (pico) => {
        const text = formatPicoUsd(pico);
        assert.match(text, /^-?\d+\.\d{12}$/);
        assert.equal(parseUsdToPico(text), pico);
      }),
    );
  });
});
