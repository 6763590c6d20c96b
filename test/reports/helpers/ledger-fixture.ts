import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { writeLedgerRows } from '../../../exporters/duckdb/testing/ledger-test-utils.js';
import { textLiteral, timestampLiteral } from '../../../src/reports/report-sql.js';

/** An empty ledger file, created by the real exporter (tables and views as a server leaves them). */
export async function emptyLedger(dir: string, name = 'ledger.duckdb'): Promise<string> {
  const path = join(dir, name);
  await writeLedgerRows(path, []);
  return path;
}

/** One call as the tests need it; the rest of the row is fixed. */
export interface FixtureCall {
  atMs: number;
  teamId?: string | null;
  costCenter?: string | null;
  service?: string | null;
  model?: string;
  provider?: string;
  /** USD as exact decimal text; null = unpriced. */
  costUsd: string | null;
  inputTokens?: number | null;
  outputTokens?: number | null;
  status?: string;
  route?: string | null;
}

let sequence = 0;

/** Inserts calls straight into genai_calls (unique ids per process). */
export async function insertCalls(connection: DuckDBConnection, calls: readonly FixtureCall[]): Promise<void> {
  const lit = (v: string | null | undefined) => (v === null || v === undefined ? 'NULL' : textLiteral(v));
  const num = (v: number | null | undefined) => (v === null || v === undefined ? 'NULL' : String(v));
  for (let i = 0; i < calls.length; i += 1000) {
    const values = calls.slice(i, i + 1000).map((c) => {
      sequence++;
      const status = c.status ?? (c.teamId === null || c.teamId === undefined ? 'missing_team' : c.costCenter === null ? 'missing_cost_center' : 'attributed');
      return `(${timestampLiteral(c.atMs)}, ${textLiteral(sequence.toString(16).padStart(32, '0'))}, ${textLiteral(sequence.toString(16).padStart(16, '0'))},
        ${lit(c.provider ?? 'openai')}, ${lit(c.model ?? 'gpt-4o')}, 'chat', ${lit(c.teamId ?? null)}, ${lit(c.costCenter ?? null)}, ${lit(c.service ?? null)},
        ${num(c.inputTokens === undefined ? 1000 : c.inputTokens)}, ${num(c.outputTokens === undefined ? 100 : c.outputTokens)},
        ${c.costUsd === null ? 'NULL' : `CAST(${textLiteral(c.costUsd)} AS DECIMAL(18,12))`}, ${textLiteral(status)},
        ${status === 'attributed' ? 'CAST([] AS VARCHAR[])' : `[${textLiteral(status)}]`}, 'ok', ${lit(c.route ?? null)})`;
    });
    await connection.run(`INSERT INTO genai_calls ("timestamp", trace_id, span_id, provider, model, operation, team_id, cost_center, service,
      input_tokens, output_tokens, request_cost_usd, attribution_status, exceptions, status, route) VALUES ${values.join(',\n')}`);
  }
}
