import type { DuckDBConnection } from '@duckdb/node-api';
import { budgetLineJson, budgetStatus, FORECAST_METHOD } from '../reports/budget-status.js';

export interface HttpAnswer {
  status: number;
  body: unknown;
}

/** Answers `(path)` with JSON, or null when the path is not one it serves. */
export type BudgetsHandler = (path: string) => Promise<HttpAnswer | null>;

const PREFIX = '/v1/budgets';

/**
 * `GET /v1/budgets` (every team and cost center this month, as of now) and `GET /v1/budgets/{team_id}` (one team
 * and its cost center; 404 when the team has neither a budget nor spend this month). `query` runs a function on
 * the ledger connection (serialised with the caller's other uses of it). Mount it on any HTTP server: pass the
 * request path (a query string is ignored); send `body` as JSON with `status`; on null, answer as you would.
 */
export function createBudgetsHandler(
  query: <T>(fn: (connection: DuckDBConnection) => Promise<T>) => Promise<T>,
  now: () => number = Date.now,
): BudgetsHandler {
  return async (rawPath) => {
    const path = rawPath.split('?')[0]!.replace(/\/+$/, '');
    if (path !== PREFIX && !path.startsWith(`${PREFIX}/`)) return null;
    let teamId: string | null = null;
    if (path !== PREFIX) {
      const rest = path.slice(PREFIX.length + 1);
      if (rest === '' || rest.includes('/')) return { status: 404, body: { error: 'not found' } };
      try {
        teamId = decodeURIComponent(rest);
      } catch {
        return { status: 400, body: { error: 'the team id is not valid percent-encoding' } };
      }
    }
    let lines;
    try {
      const asOfMs = now();
      lines = await query((connection) => budgetStatus(connection, { asOfMs }));
    } catch (err) {
      return { status: 500, body: { error: `budget status unavailable: ${(err as Error).message}` } };
    }
    const month = lines[0]?.month ?? new Date(now()).toISOString().slice(0, 7);
    const asOf = lines[0]?.asOf ?? new Date(now()).toISOString();
    if (teamId === null) {
      return {
        status: 200,
        body: {
          month,
          as_of: asOf,
          forecast_method: FORECAST_METHOD,
          teams: lines.filter((l) => l.scope === 'team').map(budgetLineJson),
          cost_centers: lines.filter((l) => l.scope === 'cost_center').map(budgetLineJson),
        },
      };
    }
    const team = lines.find((l) => l.scope === 'team' && l.teamId === teamId);
    if (team === undefined) return { status: 404, body: { error: `no budget or spend for team "${teamId}" in ${month}` } };
    const costCenter = lines.find((l) => l.scope === 'cost_center' && l.costCenter === team.costCenter) ?? null;
    return {
      status: 200,
      body: { month, as_of: asOf, forecast_method: FORECAST_METHOD, team: budgetLineJson(team), cost_center: costCenter === null ? null : budgetLineJson(costCenter) },
    };
  };
}
