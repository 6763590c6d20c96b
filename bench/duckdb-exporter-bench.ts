import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDbExporter } from '../exporters/duckdb/duckdb-exporter.js';
import { sampleLedgerRows } from '../exporters/duckdb/testing/sample-rows.js';

/**
 * Writer throughput of the DuckDB exporter on a real file: `node dist/bench/duckdb-exporter-bench.js
 * [totalRows]`. Prints rows/s for sequential 512-row writes (one commit each), for 50k-row writes, and for
 * many concurrent 512-row writes (group commit).
 */
const total = Number(process.argv[2] ?? 500_000);

async function run(label: string, batchRows: number, concurrency: number): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-bench-'));
  const exporter = new DuckDbExporter({ path: join(dir, 'ledger.duckdb') });
  await exporter.start();
  const batches = Math.ceil(total / batchRows);
  const data = Array.from({ length: batches }, (_, b) => sampleLedgerRows(batchRows, {}, b + 1));
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < batches) await exporter.write(data[next++]!);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const ms = performance.now() - t0;
  await exporter.shutdown();
  await rm(dir, { recursive: true, force: true });
  const rows = batches * batchRows;
  console.log(`${label.padEnd(38)} ${rows} rows in ${ms.toFixed(0)} ms = ${Math.round(rows / (ms / 1000))} rows/s`);
}

await run('512-row writes, sequential', 512, 1);
await run('512-row writes, 64 concurrent (grouped)', 512, 64);
await run('50k-row writes, sequential', 50_000, 1);
