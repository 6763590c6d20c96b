import type { DuckDBConnection } from '@duckdb/node-api';
import { queryRows, type SqlRow, type SqlValue } from './ledger-reader.js';
import type { Period } from './report-period.js';
import { chargebackSql, timeRangeSql, type UsageDimension } from './report-sql.js';
import type { Cell, Report, ReportColumn } from './report-table.js';

export interface ChargebackOptions {
  period: Period;
  /** Grouping (after the bucket, which always comes first). Default: cost_center, team_id. */
  by: readonly UsageDimension[];
  /** Show `shared_allocation_usd`: approved shared spend spread over team usage in proportion to its cost. */
  allocateShared: boolean;
}

export const DEFAULT_CHARGEBACK_BY: readonly UsageDimension[] = ['cost_center', 'team_id'];

const TOKEN_COLUMNS = ['input_tokens', 'cached_input_tokens', 'cache_write_tokens', 'output_tokens', 'reasoning_tokens'] as const;

/** Money cell of a row: bigint pico-USD or null. */
export const usd = (v: SqlValue | undefined): bigint | null => (typeof v === 'bigint' ? v : v === null || v === undefined ? null : BigInt(String(v)));
/** Count cell: bigint. */
export const count = (v: SqlValue | undefined): bigint => (typeof v === 'bigint' ? v : BigInt(Number(v ?? 0)));
export const num = (v: SqlValue | undefined): number | null => (v === null || v === undefined ? null : Number(v));
export const text = (v: SqlValue | undefined): string | null => (v === null || v === undefined ? null : String(v));
export const list = (v: SqlValue | undefined): string[] => (Array.isArray(v) ? v.map((x) => String(x)) : []);

/** A period as the report's `where` predicate. */
export const periodWhere = (p: Period): string => timeRangeSql(p.fromMs, p.toMs);

const sum = (rows: SqlRow[], key: string): bigint => rows.reduce((acc, r) => acc + (usd(r[key]) ?? 0n), 0n);

/**
 * `report chargeback`: cost, calls and tokens per class per bucket and grouping, unpriced calls and coverage,
 * with a totals line and a per-bucket summary (docs/reports.md).
 */
export async function chargebackReport(connection: DuckDBConnection, o: ChargebackOptions): Promise<Report> {
  const rows = await queryRows(connection, chargebackSql({ where: periodWhere(o.period), dims: o.by, allocationPer: 'all' }));
  const columns: ReportColumn[] = [
    { key: 'bucket', kind: 'text' },
    ...o.by.map((d): ReportColumn => ({ key: d, kind: d === 'day' || d === 'month' ? 'date' : 'text' })),
    { key: 'calls', kind: 'count' },
    ...TOKEN_COLUMNS.map((k): ReportColumn => ({ key: k, kind: 'count' })),
    { key: 'cost_usd', kind: 'usd' },
    { key: 'unpriced_calls', kind: 'count' },
    { key: 'coverage', kind: 'ratio' },
    ...(o.allocateShared ? [{ key: 'shared_allocation_usd', kind: 'usd' } as ReportColumn] : []),
  ];
  const cells = (r: SqlRow): Cell[] => [
    text(r['bucket']),
    ...o.by.map((d) => text(r[d])),
    count(r['calls']),
    ...TOKEN_COLUMNS.map((k) => count(r[k])),
    usd(r['cost_usd']),
    count(r['unpriced_calls']),
    num(r['coverage']),
    ...(o.allocateShared ? [usd(r['shared_allocation_usd'])] : []),
  ];
  const totalCost = sum(rows, 'cost_usd');
  const attributed = sum(rows, 'attributed_usd');
  const countSum = (key: string) => rows.reduce((acc, r) => acc + count(r[key]), 0n);
  const totals: Cell[] = [
    'TOTAL',
    ...o.by.map(() => null),
    countSum('calls'),
    ...TOKEN_COLUMNS.map((k) => countSum(k)),
    totalCost,
    countSum('unpriced_calls'),
    totalCost === 0n ? null : ratio(attributed, totalCost),
    ...(o.allocateShared ? [sum(rows, 'shared_allocation_usd')] : []),
  ];

  const buckets = ['team', 'shared', 'unattributed'].map((b) => {
    const inBucket = rows.filter((r) => r['bucket'] === b);
    const cost = sum(inBucket, 'cost_usd');
    return [b, inBucket.reduce((a, r) => a + count(r['calls']), 0n), cost, totalCost === 0n ? null : ratio(cost, totalCost),
      inBucket.reduce((a, r) => a + count(r['unpriced_calls']), 0n)] as Cell[];
  });
  const unpriced = countSum('unpriced_calls');
  const notes = [
    'Buckets: team = usage of a team whose allocation is direct; shared = approved shared usage (teams with allocation shared: ' +
      'platform work, incident response, security review); unattributed = calls without a team. They are never added into one line.',
    'coverage = share of the priced spend that has both a team and a cost center (chargeable as billed).',
    'cost_usd sums priced calls only; unpriced_calls have no cost (unknown model price, missing or invalid tokens): see report exceptions.',
  ];
  if (o.allocateShared) {
    notes.push(
      'shared_allocation_usd (optional rule): the shared bucket\'s cost spread over the team lines in proportion to their cost_usd, ' +
        'to the pico-dollar (largest remainder); it is not included in cost_usd. Unattributed spend is never spread.',
    );
  }
  if (unpriced > 0n) notes.push(`${unpriced} call(s) have no cost: the totals are incomplete by their amount.`);
  return {
    kind: 'chargeback',
    title: `Chargeback ${o.period.label}`,
    parameters: { period: o.period.label, by: ['bucket', ...o.by].join(', ') },
    sections: [
      { name: 'lines', title: 'Chargeback', columns, rows: rows.map(cells), totals },
      {
        name: 'buckets',
        title: 'Buckets',
        columns: [
          { key: 'bucket', kind: 'text' },
          { key: 'calls', kind: 'count' },
          { key: 'cost_usd', kind: 'usd' },
          { key: 'share_of_cost', kind: 'ratio' },
          { key: 'unpriced_calls', kind: 'count' },
        ],
        rows: buckets,
        totals: ['TOTAL', countSum('calls'), totalCost, totalCost === 0n ? null : 1, unpriced],
      },
    ],
    notes,
  };
}

/** a / b as a number (for percentages; never for money). */
export function ratio(a: bigint, b: bigint): number {
  return b === 0n ? NaN : Number(a) / Number(b);
}
