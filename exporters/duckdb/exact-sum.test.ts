/**
 * Money is exact end to end: over a million ledger rows, DuckDB's SUM of the DECIMAL(18,12) costs equals the
 * JavaScript bigint sum of the same pico-USD amounts to the last digit, per class and in total, and the
 * chargeback view adds up to the same number. (Summing the same amounts as binary floats does not — checked
 * too, so this test would notice a float creeping into the money path.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { formatPicoUsd } from '../../processors/pricing/decimal.js';
import { createSyntheticLedger } from './testing/synthetic-ledger.js';
import { syntheticCostParts } from './testing/generate-ledger-rows.js';
import { queryFile, tempDir } from './testing/ledger-test-utils.js';

const ROWS = 1_000_000;

describe('exact sums over a million rows', () => {
  let cleanup: () => Promise<void>;
  let path: string;
  before(async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    path = await createSyntheticLedger(t.dir, { count: ROWS, startMs: Date.parse('2025-05-01T00:00:00Z'), stepMs: 2_000 });
  });
  after(() => cleanup());

  test('SUM in DuckDB equals the bigint sum of the parts, per class and in total', async () => {
    let input = 0n;
    let cached = 0n;
    let cacheWrite = 0n;
    let output = 0n;
    let floatTotal = 0;
    for (let i = 0; i < ROWS; i++) {
      const p = syntheticCostParts(i);
      input += p.input;
      cached += p.cached;
      cacheWrite += p.cacheWrite;
      output += p.output;
      floatTotal += Number(p.input + p.cached + p.cacheWrite + p.output) / 1e12;
    }
    const total = input + cached + cacheWrite + output;
    const [row] = await queryFile(
      path,
      `SELECT count(*)::VARCHAR, sum(request_cost_usd)::VARCHAR, sum(input_cost_usd)::VARCHAR, sum(cached_input_cost_usd)::VARCHAR,
         sum(cache_write_cost_usd)::VARCHAR, sum(output_cost_usd)::VARCHAR,
         count(*) FILTER (WHERE request_cost_usd <> input_cost_usd + cached_input_cost_usd + cache_write_cost_usd + output_cost_usd)::VARCHAR,
         (SELECT sum(cost_usd) FROM genai_chargeback_monthly)::VARCHAR
       FROM genai_calls`,
    );
    assert.ok(row);
    assert.deepEqual(row, [
      String(ROWS),
      formatPicoUsd(total),
      formatPicoUsd(input),
      formatPicoUsd(cached),
      formatPicoUsd(cacheWrite),
      formatPicoUsd(output),
      '0',
      formatPicoUsd(total),
    ]);
    // The same amounts summed as binary floats lose digits: the test above could tell.
    assert.notEqual(floatTotal.toFixed(12), formatPicoUsd(total));
  });
});
