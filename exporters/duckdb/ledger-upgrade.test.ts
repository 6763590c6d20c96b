/**
 * Columns added after the first release (`token_convention`, `token_source`) are added to an existing
 * ledger when it is opened, so a file written by an older genai-ledger keeps working and its old rows read
 * as NULL in the new columns.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { LEDGER_COLUMNS } from './schema.js';
import { queryFile, tempDir, writeLedgerRows } from './testing/ledger-test-utils.js';
import { sampleLedgerRow } from './testing/sample-rows.js';

let dir: string;
let cleanup: () => Promise<void>;
before(async () => ({ dir, cleanup } = await tempDir()));
after(() => cleanup());

test('opening a ledger without the later columns adds them; old rows read NULL, new rows carry values', async () => {
  const path = join(dir, 'old-ledger.duckdb');
  // A ledger as the first release wrote it: today's schema minus the columns added since.
  await writeLedgerRows(path, [sampleLedgerRow({ spanId: '1111111111111111' })]);
  {
    const instance = await DuckDBInstance.create(path);
    const connection = await instance.connect();
    await connection.run(
      'ALTER TABLE genai_calls DROP COLUMN api_key_alias; ALTER TABLE genai_calls DROP COLUMN route; ' +
        'ALTER TABLE genai_calls DROP COLUMN attribution_updated_at; ALTER TABLE genai_calls DROP COLUMN response_id; ' +
        'ALTER TABLE genai_calls DROP COLUMN user_id; ' +
        'ALTER TABLE genai_calls DROP COLUMN token_source; ALTER TABLE genai_calls DROP COLUMN token_convention; ' +
        'DROP VIEW genai_all_spans; DROP TABLE genai_duplicate_spans',
    );
    connection.closeSync();
    instance.closeSync();
  }
  const before = await queryFile(path, `SELECT count(*) FROM duckdb_columns() WHERE table_name = 'genai_calls' AND column_name LIKE 'token_%'`);
  assert.equal(Number(before[0]![0]), 0);

  await writeLedgerRows(path, [
    sampleLedgerRow({
      spanId: '2222222222222222',
      tokenConvention: 'input_excludes_cache',
      tokenSource: 'openlit',
      userId: 'hmac:0123456789abcdef0123456789abcdef',
      responseId: 'resp_2',
    }),
  ]);

  const columns = await queryFile(path, `SELECT column_name FROM duckdb_columns() WHERE table_name = 'genai_calls' ORDER BY column_index`);
  assert.deepEqual(
    columns.map((c) => c[0]),
    LEDGER_COLUMNS.map((c) => c.name),
    'same column order as a new ledger',
  );
  const rows = await queryFile(
    path,
    'SELECT span_id, token_convention, token_source, user_id, response_id, attribution_updated_at FROM genai_calls ORDER BY span_id',
  );
  assert.deepEqual(rows, [
    ['1111111111111111', null, null, null, null, null],
    ['2222222222222222', 'input_excludes_cache', 'openlit', 'hmac:0123456789abcdef0123456789abcdef', 'resp_2', null],
  ]);
  // The counted-once table and view are created on open too.
  assert.equal(Number((await queryFile(path, 'SELECT count(*) FROM genai_all_spans'))[0]![0]), 2);
  // Opening it again is a no-op.
  await writeLedgerRows(path, []);
  assert.equal(Number((await queryFile(path, 'SELECT count(*) FROM genai_calls'))[0]![0]), 2);
});
