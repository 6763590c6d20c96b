/**
 * The pricing columns added by issue 4 (cache_write_1h_tokens, service_tier, reported_cost_usd,
 * cache_write_1h_cost_usd, reasoning_cost_usd): written by the exporter, and added to a ledger file that an
 * older build created without them.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';

import { createLedgerStatements, LEDGER_COLUMNS } from './schema.js';
import { queryFile, tempDir, writeLedgerRows } from './testing/ledger-test-utils.js';
import { sampleLedgerRow } from './testing/sample-rows.js';

const NEW_COLUMNS = [
  'cache_write_1h_tokens',
  'service_tier',
  'reported_cost_usd',
  'cache_write_1h_cost_usd',
  'reasoning_cost_usd',
  'input_audio_tokens',
  'output_audio_tokens',
];

async function write(path: string): Promise<void> {
  await writeLedgerRows(path, [
    sampleLedgerRow({
      cacheWrite1hTokens: 60,
      serviceTier: 'batch',
      reportedCostPicoUsd: 123_000_000_001n,
      cacheWrite1hCostPicoUsd: 300_000n,
      reasoningCostPicoUsd: 3_000_000n,
      inputAudioTokens: 40,
      outputAudioTokens: 30,
    }),
  ]);
}

const SELECT = `SELECT cache_write_1h_tokens, service_tier, reported_cost_usd::VARCHAR, cache_write_1h_cost_usd::VARCHAR,
  reasoning_cost_usd::VARCHAR, input_audio_tokens, output_audio_tokens FROM genai_calls`;
const EXPECTED = [60n, 'batch', '0.123000000001', '0.000000300000', '0.000003000000', 40n, 30n];

describe('pricing columns', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await tempDir()));
  after(() => cleanup());

  test('are written by the exporter', async () => {
    const path = join(dir, 'new.duckdb');
    await write(path);
    assert.deepEqual(await queryFile(path, SELECT), [EXPECTED]);
  });

  test('are added to a ledger created without them, old rows reading NULL', async () => {
    const path = join(dir, 'old.duckdb');
    const instance = await DuckDBInstance.create(path);
    const connection = await instance.connect();
    const statements = createLedgerStatements('genai-ledger 0.1.0', new Date());
    const oldDdl = statements[0]!.split('\n').filter((line) => !NEW_COLUMNS.some((c) => line.includes(`"${c}"`))).join('\n');
    assert.ok(NEW_COLUMNS.every((c) => !oldDdl.includes(c)) && NEW_COLUMNS.every((c) => LEDGER_COLUMNS.some((l) => l.name === c)));
    await connection.run(['BEGIN', oldDdl, ...statements.slice(1), 'COMMIT'].join(';\n'));
    await connection.run(
      `INSERT INTO genai_calls (timestamp, trace_id, span_id, attribution_status, exceptions, status)
       VALUES (now(), 'a', 'b', 'missing_tokens', ['missing_tokens'], 'ok')`,
    );
    connection.closeSync();
    instance.closeSync();

    await write(path);
    const rows = await queryFile(path, `${SELECT} ORDER BY trace_id`);
    assert.deepEqual(rows, [EXPECTED, [null, null, null, null, null, null, null]]);
  });
});
