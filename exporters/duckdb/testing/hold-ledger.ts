import { DuckDbExporter } from '../duckdb-exporter.js';
import { sampleLedgerRows } from './sample-rows.js';

/**
 * Test helper run as a child process: opens the ledger at argv[2] with a DuckDbExporter (so this process
 * holds DuckDB's file lock, like a running server), writes argv[3] sample rows if given (each write()
 * resolved = acknowledged), prints "ready", and closes the ledger when its stdin closes.
 */
const path = process.argv[2];
if (!path) throw new Error('usage: hold-ledger.js <ledger.duckdb>');
const exporter = new DuckDbExporter({ path });
await exporter.start();
const rows = Number(process.argv[3] ?? 0);
for (let i = 0; i < rows; i += 100) await exporter.write(sampleLedgerRows(Math.min(100, rows - i), {}, i + 1));
process.stdout.write('ready\n');
process.stdin.resume();
process.stdin.on('end', () => {
  void exporter.shutdown();
});
