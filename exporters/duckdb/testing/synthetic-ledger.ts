import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { createLedgerStatements } from '../schema.js';
import { generateLedgerRowsSql, type GenerateOptions } from './generate-ledger-rows.js';

/** Creates a ledger file at `dir/name` holding the synthetic rows of {@link generateLedgerRowsSql}. */
export async function createSyntheticLedger(dir: string, options: GenerateOptions, name = 'ledger.duckdb'): Promise<string> {
  const path = join(dir, name);
  const instance = await DuckDBInstance.create(path);
  try {
    const connection = await instance.connect();
    try {
      await connection.run(['BEGIN', ...createLedgerStatements('test', new Date()), 'COMMIT'].join(';\n'));
      await connection.run(generateLedgerRowsSql(options));
      await connection.run('CHECKPOINT');
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
  return path;
}
