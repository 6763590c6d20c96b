import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';

import { ConfigFileError } from '../../core/config-file-error.js';
import { PriceBook } from './price-book.js';
import { loadPriceOverrides, parsePriceOverrides } from './price-overrides.js';

function problems(text: string): string[] {
  try {
    parsePriceOverrides(text, 'prices.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigFileError, String(err));
    return [...err.problems];
  }
  assert.fail('expected a ConfigFileError');
}

describe('price overrides file', () => {
  test('a minimal file and the JSON form parse to the same rules', () => {
    const yaml = parsePriceOverrides('version: "1.0"\nprices:\n  - model: m\n    input: 1\n', 'a.yaml');
    const json = parsePriceOverrides('{"version": "1.0", "prices": [{"model": "m", "input": "1"}]}', 'a.json');
    assert.deepEqual(yaml.prices, json.prices);
    assert.equal(yaml.prices[0]?.input, 1_000_000n);
    // missing classes fall back: cache read/write → input, 1h → cache write, reasoning → output
    assert.deepEqual(
      [yaml.prices[0]?.cacheRead, yaml.prices[0]?.cacheWrite, yaml.prices[0]?.cacheWrite1h, yaml.prices[0]?.output, yaml.prices[0]?.reasoning],
      [1_000_000n, 1_000_000n, 1_000_000n, 0n, 0n],
    );
    assert.deepEqual(yaml.warnings, []);
  });

  test('a different major version is refused, naming the line', () => {
    assert.deepEqual(problems('# prices\nversion: "2.0"\n'), [
      'prices.yaml:2: version: unsupported major version; this genai-ledger reads price override files version 1.x',
    ]);
    assert.match(problems('prices: []\n')[0] ?? '', /^prices\.yaml:1: version: /);
  });

  test('a newer minor version is accepted with a warning', () => {
    const o = parsePriceOverrides('version: "1.7"\n', 'prices.yaml');
    assert.equal(o.warnings.length, 1);
    assert.match(o.warnings[0] ?? '', /^prices\.yaml: version 1\.7 is newer than 1\.0/);
  });

  test('every problem is reported with file, line and key', () => {
    const text = [
      'version: "1.0"', // 1
      'prices:', // 2
      '  - model: ft-model', // 3
      '    input: "0.1234567"', // 4: more than 6 decimals
      '    output: cheap', // 5: not a number
      '    from: 2025-07-01', // 6
      '    until: 2025-06-01', // 7: before from
      'discounts:', // 8
      '  - percent: 10', // 9: no provider or model
      '  - provider: openai', // 10
      '    percent: 120', // 11: > 100
      '    colour: red', // 12: unknown key
      'aliases:', // 13
      '  - model: my-deployment', // 14: priceAs missing
    ].join('\n');
    assert.deepEqual(problems(text).sort(), [
      'prices.yaml:11: discounts.1.percent: expected a percentage from 0 to 100 with at most 6 decimal places, got 120',
      'prices.yaml:12: discounts.1.colour: unknown key (check the spelling; see docs/configuration.md)',
      'prices.yaml:14: aliases.0.priceAs: Invalid input: expected object, received undefined',
      'prices.yaml:4: prices.0.input: price 0.1234567 has more than 6 decimal places ($/Mtok)',
      'prices.yaml:5: prices.0.output: expected a non-negative price in USD per million tokens, got "cheap"',
      'prices.yaml:9: discounts.0: a discount needs a provider, a model, or both',
    ]);
  });

  test('until must be after from', () => {
    assert.deepEqual(problems('version: "1.0"\nprices:\n  - model: m\n    input: 1\n    from: 2025-07-01\n    until: 2025-06-01\n'), [
      'prices.yaml:6: prices.0.until: until must be after from',
    ]);
    assert.match(problems('version: "1.0"\nprices:\n  - model: m\n    input: 1\n    from: July\n')[0] ?? '', /prices\.yaml:5: prices\.0\.from: expected a date/);
  });

  test('loading from disk: a missing file is a ConfigFileError; the book snapshot includes the hash', async () => {
    await assert.rejects(loadPriceOverrides('/nonexistent/prices.yaml'), (err: unknown) => err instanceof ConfigFileError);
    const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-prices-'));
    try {
      const file = join(dir, 'prices.yaml');
      await writeFile(file, 'version: "1.0"\nprices:\n  - model: m\n    input: 1\n');
      const book = await PriceBook.load(file);
      assert.equal(book.overrides?.file, file);
      assert.ok(book.snapshot.endsWith(`;overrides=${book.overrides?.hash ?? ''}`));
      assert.equal(book.cost(null, 'm', { inputTokens: 1_000_000, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 0, reasoningTokens: 0 }, 0n)?.totalPicoUsd, 1_000_000_000_000n);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('examples/prices.yaml', () => {
  test('the documented example file is valid', async () => {
    const o = await loadPriceOverrides(new URL('../../../examples/prices.yaml', import.meta.url).pathname);
    assert.deepEqual(o.warnings, []);
    assert.equal(o.aliases.length, 2);
    assert.ok(o.prices.length >= 3 && o.discounts.length >= 1 && o.serviceTiers.length >= 1);
  });
});
