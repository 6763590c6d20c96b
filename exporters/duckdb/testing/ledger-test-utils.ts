import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import type { LedgerRow } from '../../../core/ledger-row.js';
import { DuckDbExporter } from '../duckdb-exporter.js';

/** A fresh temp directory; `cleanup` removes it. */
export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-duckdb-test-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Opens the ledger at `path` with a default exporter, writes `rows` (one commit), and closes it. */
export async function writeLedgerRows(path: string, rows: readonly LedgerRow[]): Promise<void> {
  const exporter = new DuckDbExporter({ path });
  await exporter.start();
  try {
    await exporter.write(rows);
  } finally {
    await exporter.shutdown();
  }
}

/** Runs SQL on a DuckDB file directly (read-only, no sealing) and returns rows of DuckDB values. */
export async function queryFile(path: string, sql: string): Promise<unknown[][]> {
  const instance = await DuckDBInstance.create(path, { access_mode: 'READ_ONLY' });
  try {
    const connection = await instance.connect();
    try {
      return (await connection.runAndReadAll(sql)).getRows();
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

/** Bytes and mtime of a file, to prove it was not modified. */
export async function snapshot(path: string): Promise<{ bytes: Buffer; mtimeMs: number; size: number }> {
  const s = await stat(path);
  return { bytes: await readFile(path), mtimeMs: s.mtimeMs, size: s.size };
}

/** A child process holding the ledger open for writing (as a running server would), after writing `writeRows` rows. */
export async function holdLedgerInChild(
  path: string,
  writeRows = 0,
): Promise<{ child: ChildProcess; release: () => Promise<void> }> {
  const script = fileURLToPath(new URL('./hold-ledger.js', import.meta.url));
  const child = spawn(process.execPath, [script, path, String(writeRows)], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`hold-ledger exited early with code ${code}`)));
  });
  const release = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.stdin!.end();
    });
  return { child, release };
}
