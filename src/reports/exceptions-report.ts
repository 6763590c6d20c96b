import type { DuckDBConnection } from '@duckdb/node-api';
import { count, list, periodWhere, text, usd } from './chargeback-report.js';
import { queryRows } from './ledger-reader.js';
import type { Period } from './report-period.js';
import { exceptionsSql, textLiteral, type LedgerShape } from './report-sql.js';
import type { Cell, Report, ReportColumn } from './report-table.js';

export const EXCEPTION_OWNERS = ['platform', 'finops', 'application'] as const;
export type ExceptionOwner = (typeof EXCEPTION_OWNERS)[number];

export interface ExceptionsOptions {
  period: Period;
  owner: ExceptionOwner | null;
}

const COLUMNS: ReportColumn[] = [
  { key: 'owner', kind: 'text' },
  { key: 'reason', kind: 'text' },
  { key: 'team_id', kind: 'text' },
  { key: 'cost_center', kind: 'text' },
  { key: 'service', kind: 'text' },
  { key: 'route', kind: 'text' },
  { key: 'api_key_alias', kind: 'text' },
  { key: 'provider', kind: 'text' },
  { key: 'model', kind: 'text' },
  { key: 'first_seen', kind: 'timestamp' },
  { key: 'last_seen', kind: 'timestamp' },
  { key: 'calls', kind: 'count' },
  { key: 'cost_usd', kind: 'usd' },
  { key: 'unpriced_calls', kind: 'count' },
  { key: 'estimated_cost_usd', kind: 'usd' },
  { key: 'other_reasons', kind: 'list' },
];

/**
 * `report exceptions`: the exceptions queue routed to who fixes it — missing team → platform (with the service,
 * the route of the nearest server span and the API key alias, to find the caller); team without a cost center
 * or model without a price → finops; missing or invalid tokens → application (with the owning team when known)
 * — sorted by the money at stake.
 */
export async function exceptionsReport(connection: DuckDBConnection, shape: LedgerShape, o: ExceptionsOptions): Promise<Report> {
  const filter = o.owner === null ? 'TRUE' : `"owner" = ${textLiteral(o.owner)}`;
  const rows = await queryRows(
    connection,
    `SELECT * FROM (${exceptionsSql(periodWhere(o.period), shape)}) WHERE ${filter}
ORDER BY estimated_cost_usd DESC, calls DESC, "owner", reason, team_id NULLS FIRST, service NULLS FIRST, route NULLS FIRST`,
  );
  const cells = rows.map((r): Cell[] =>
    COLUMNS.map((c) => {
      const v = r[c.key];
      if (c.kind === 'usd') return usd(v);
      if (c.kind === 'count') return count(v);
      if (c.kind === 'list') return list(v);
      return text(v);
    }),
  );
  const idx = (key: string) => COLUMNS.findIndex((c) => c.key === key);
  const sumOf = (key: string, of: Cell[][]) => of.reduce((a, r) => a + ((r[idx(key)] as bigint | null) ?? 0n), 0n);
  const totals: Cell[] = COLUMNS.map((c) => {
    if (c.key === 'owner') return 'TOTAL';
    if (c.kind === 'usd' || c.kind === 'count') return sumOf(c.key, cells);
    return null;
  });
  const owners = (o.owner === null ? EXCEPTION_OWNERS : [o.owner]).map((owner): Cell[] => {
    const mine = cells.filter((r) => r[0] === owner);
    return [owner, mine.length, sumOf('calls', mine), sumOf('estimated_cost_usd', mine)];
  });
  return {
    kind: 'exceptions',
    title: `Exceptions ${o.period.label}${o.owner === null ? '' : ` for ${o.owner}`}`,
    parameters: { period: o.period.label, owner: o.owner ?? 'all' },
    sections: [
      {
        name: 'owners',
        title: 'By owner',
        columns: [
          { key: 'owner', kind: 'text' },
          { key: 'lines', kind: 'count' },
          { key: 'calls', kind: 'count' },
          { key: 'estimated_cost_usd', kind: 'usd' },
        ],
        rows: owners,
        totals: null,
      },
      { name: 'queue', title: 'Exceptions queue', columns: COLUMNS, rows: cells, totals },
    ],
    notes: [
      'Routing by the call\'s attribution_status (each call counted once): missing_team → platform; missing_cost_center, ' +
        'unpriced_model → finops; missing_tokens, invalid_tokens → application. other_reasons lists the other exceptions of the same calls.',
      'route: http.route of the nearest SERVER span above the call; api_key_alias: the API key alias (or key hash) the instrumentation ' +
        'reported (LiteLLM metadata).',
      'estimated_cost_usd (the money at stake): cost_usd plus, per call without a cost, the average cost per priced call of the same ' +
        'provider and model in the period (else of every priced call in the period).',
    ],
  };
}
