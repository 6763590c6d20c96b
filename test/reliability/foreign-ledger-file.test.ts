/**
 * A file at --db that is not a genai-ledger ledger — plain text, another application's DuckDB database,
 * a ledger with damaged headers — stops `serve` with a clear error naming the file, and the file is left
 * byte for byte as it was (no WAL created next to it either).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile, access, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { runCli } from '../helpers/cli-process.js';
import { DuckDbExporter } from '../../exporters/duckdb/duckdb-exporter.js';
import { sampleLedgerRows } from '../../exporters/duckdb/testing/sample-rows.js';

const sha = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');
const exists = (path: string) => access(path).then(() => true, () => false);

async function expectRefused(path: string, message: RegExp): Promise<void> {
  const before = await sha(path);
  const result = await runCli(['serve', '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0', '--sql-port', '0', '--db', path]);
  assert.equal(result.code, 1, result.stdout + result.stderr);
  assert.ok(result.stderr.includes(path), `error names the file: ${result.stderr}`);
  assert.match(result.stderr, message);
  assert.doesNotMatch(result.stdout, /listening/);
  assert.equal(await sha(path), before, 'file not modified');
  assert.equal(await exists(`${path}.wal`), false, 'no WAL created');
}

test('--db pointing at a text file, a foreign DuckDB database or a damaged ledger: clear error, file untouched', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-foreign-'));
  try {
    const text = join(dir, 'notes.duckdb');
    await writeFile(text, 'these are my notes, not a database\n'.repeat(100));
    await expectRefused(text, /is not a DuckDB database; genai-ledger refuses to open it/);
    assert.equal(await exists(`${text}.userid.key`), false, 'no user id key generated beside it');

    const empty = join(dir, 'empty.duckdb');
    await writeFile(empty, '');
    await expectRefused(empty, /is not a DuckDB database/);

    const foreign = join(dir, 'invoices.duckdb');
    const instance = await DuckDBInstance.create(foreign);
    const connection = await instance.connect();
    await connection.run("CREATE TABLE invoices (id INTEGER, amount DECIMAL(18,2)); INSERT INTO invoices VALUES (1, 9.99)");
    connection.closeSync();
    instance.closeSync();
    await expectRefused(foreign, /did not create.*refusing to write to it/);

    // A real ledger whose two database headers (at 4 KiB and 8 KiB) are overwritten: checksums fail.
    const damaged = join(dir, 'damaged.duckdb');
    const exporter = new DuckDbExporter({ path: damaged });
    await exporter.start();
    await exporter.write(sampleLedgerRows(3));
    await exporter.shutdown();
    const handle = await open(damaged, 'r+');
    await handle.write(Buffer.alloc(64, 0xa5), 0, 64, 4096 + 8);
    await handle.write(Buffer.alloc(64, 0xa5), 0, 64, 8192 + 8);
    await handle.close();
    await expectRefused(damaged, /cannot open ledger|not a valid|corrupt|checksum/i);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
