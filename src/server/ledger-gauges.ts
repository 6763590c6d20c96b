import { stat } from 'node:fs/promises';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { LedgerGauges } from '../../exporters/prometheus/ledger-metrics.js';
import type { MappingTables } from '../../processors/attribution/mapping-tables.js';

/** Start of the current UTC calendar month, as the ledger's views bucket months. */
export function utcMonthStart(nowMs: number): Date {
  const now = new Date(nowMs);
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

/**
 * The gauges /metrics reads from the ledger at scrape time, so they survive restarts: month-to-date spend per
 * owner (unattributed groups included), budgets from the teams table in force, open exceptions this month, and
 * the file's size. Runs on a reader connection of the server's own database (never a second process).
 */
export async function readLedgerGauges(
  connect: () => Promise<DuckDBConnection>,
  tables: () => MappingTables,
  ledgerPath: string,
  nowMs = Date.now(),
): Promise<LedgerGauges> {
  const since = utcMonthStart(nowMs).toISOString();
  const connection = await connect();
  try {
    const spend = await connection.runAndReadAll(
      `SELECT team_id, cost_center, CAST(coalesce(sum(request_cost_usd), 0) AS VARCHAR) AS cost,
         count(*) FILTER (WHERE attribution_status <> 'attributed') AS exceptions
       FROM genai_calls WHERE "timestamp" >= CAST($1 AS TIMESTAMPTZ) GROUP BY ALL`,
      [since],
    );
    let openExceptions = 0;
    const monthToDate = spend.getRows().map(([teamId, costCenter, cost, exceptions]) => {
      openExceptions += Number(exceptions);
      return { teamId: teamId === null ? null : String(teamId), costCenter: costCenter === null ? null : String(costCenter), costUsd: String(cost) };
    });
    const budgets = [...(tables().teams?.values() ?? [])]
      .filter((t) => t.monthlyBudgetUsd !== null)
      .map((t) => ({ teamId: t.teamId, costCenter: t.costCenter, budgetUsd: t.monthlyBudgetUsd! }));
    return { monthToDate, budgets, openExceptions, ledgerFileBytes: (await fileSize(ledgerPath)) + (await fileSize(`${ledgerPath}.wal`)) };
  } finally {
    connection.closeSync();
  }
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}
