import { open } from 'node:fs/promises';

/**
 * What sits at a ledger path before DuckDB is allowed near it. Looking at the header ourselves means a
 * file that is not a DuckDB database is refused without DuckDB ever opening it for writing.
 */
export type LedgerFileKind = 'missing' | 'duckdb' | 'not-duckdb';

/** A DuckDB file starts with an 8-byte checksum followed by the magic bytes `DUCK`. */
const MAGIC = Buffer.from('DUCK', 'latin1');
const MAGIC_OFFSET = 8;

export async function inspectLedgerFile(path: string): Promise<LedgerFileKind> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw new Error(`cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) return 'not-duckdb';
    const header = Buffer.alloc(MAGIC_OFFSET + MAGIC.length);
    const { bytesRead } = await handle.read(header, 0, header.length, 0);
    if (bytesRead < header.length) return 'not-duckdb';
    return header.subarray(MAGIC_OFFSET).equals(MAGIC) ? 'duckdb' : 'not-duckdb';
  } finally {
    await handle.close();
  }
}

/** DuckDB allows one writing process per file; the second open (read-only or not) fails with this. */
export function isLockConflict(err: unknown): boolean {
  return err instanceof Error && /Could not set lock on file|Conflicting lock is held/i.test(err.message);
}

export function notDuckDbError(path: string): Error {
  return new Error(`${path} is not a DuckDB database; genai-ledger refuses to open it (and has not modified it)`);
}
