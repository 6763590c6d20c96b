/**
 * `user_id` was added after ledgers existed: opening an older file adds the column (via ADD_MISSING_COLUMNS),
 * old rows read NULL in it, new rows carry the value.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { DuckDbExporter } from './duckdb-exporter.js';
import { LEDGER_COLUMNS } from './schema.js';
import { queryFile, tempDir } from './testing/ledger-test-utils.js';
import { sampleLedgerRow } from './testing/sample-rows.js';

let dir: string;
let cleanup: () => Promise<void>;
before(async () => ({ dir, cleanup } = await tempDir()));
after(() => cleanup());

async function writeRows(path: string, rows: Parameters<DuckDbExporter['write']>[0]): Promise<void> {
  const exporter = new DuckDbExporter({ path });
  await exporter.start();
  try {
    await exporter.write(rows);
  } finally {
    await exporter.shutdown();
  }
}

test('a ledger without user_id gets the column on open; old rows read NULL, new rows carry the pseudonym', async () => {
  const path = join(dir, 'pre-user-id.duckdb');
  await writeRows(path, [sampleLedgerRow({ spanId: '1111111111111111' })]);
  {
    const instance = await DuckDBInstance.create(path);
    const connection = await instance.connect();
    // A ledger from before user_id has none of the columns appended after it either.
    const fromUserId = LEDGER_COLUMNS.slice(LEDGER_COLUMNS.findIndex((c) => c.name === 'user_id')).reverse();
    for (const column of fromUserId) await connection.run(`ALTER TABLE genai_calls DROP COLUMN ${column.name}`);
    connection.closeSync();
    instance.closeSync();
  }
  const hasColumn = async () =>
    Number((await queryFile(path, `SELECT count(*) FROM duckdb_columns() WHERE table_name = 'genai_calls' AND column_name = 'user_id'`))[0]![0]);
  assert.equal(await hasColumn(), 0);

  await writeRows(path, [sampleLedgerRow({ spanId: '2222222222222222', userId: 'hmac:0123456789abcdef0123456789abcdef' })]);

  assert.equal(await hasColumn(), 1);
  const columns = await queryFile(path, `SELECT column_name FROM duckdb_columns() WHERE table_name = 'genai_calls' ORDER BY column_index`);
  assert.deepEqual(columns.map((c) => c[0]), LEDGER_COLUMNS.map((c) => c.name), 'same column order as a new ledger');
  assert.deepEqual(await queryFile(path, 'SELECT span_id, user_id FROM genai_calls ORDER BY span_id'), [
    ['1111111111111111', null],
    ['2222222222222222', 'hmac:0123456789abcdef0123456789abcdef'],
  ]);
});
