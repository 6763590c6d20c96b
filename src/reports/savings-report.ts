import type { DuckDBConnection } from '@duckdb/node-api';
import type { PriceBook } from '../../processors/pricing/price-book.js';
import { count, periodWhere, ratio, text, usd } from './chargeback-report.js';
import { queryRows } from './ledger-reader.js';
import type { Period } from './report-period.js';
import { DAY_SQL, textLiteral } from './report-sql.js';
import type { Cell, Report, ReportColumn } from './report-table.js';
import type { SavingsPolicy, SavingsRule } from './savings-policy.js';

export interface SavingsOptions {
  month: Period;
  policy: SavingsPolicy;
  policyFile: string;
  priceBook: PriceBook;
}

export interface SavingsLine {
  teamId: string | null;
  from: string;
  to: string;
  calls: bigint;
  currentPicoUsd: bigint;
  projectedPicoUsd: bigint;
}

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The rows of the ledger a rule applies to: priced calls of `from` (or a dated snapshot of it) in the month. */
function ruleWhere(rule: SavingsRule, month: Period): string {
  const parts = [periodWhere(month), 'request_cost_usd IS NOT NULL', `regexp_full_match(model, ${textLiteral(`${escapeRegex(rule.from)}(-\\d{4}-?\\d{2}-?\\d{2})?`)})`];
  if (rule.provider !== undefined) parts.push(`lower(provider) = ${textLiteral(rule.provider.toLowerCase())}`);
  if (rule.teams !== undefined) parts.push(`team_id IN (${rule.teams.map(textLiteral).join(', ')})`);
  if (rule.operations !== undefined) parts.push(`operation IN (${rule.operations.map(textLiteral).join(', ')})`);
  return parts.join(' AND ');
}

const toNumber = (v: unknown): number => {
  const n = Number(v ?? 0);
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`token count out of range: ${String(v)}`);
  return n;
};

/**
 * What each team's calls of the policy's `from` models would have cost on the `to` models, priced by the price
 * book (the same prices, overrides, service tiers and cache rates as ingest) at the start of each call's UTC day.
 * Calls are priced in groups of the same team, provider, operation, service tier and day (cost is linear in
 * tokens); when the target's price has context-size tiers, every call is priced on its own.
 */
export async function savingsLines(connection: DuckDBConnection, o: SavingsOptions): Promise<{ lines: SavingsLine[]; problems: string[]; excluded: bigint }> {
  const lines = new Map<string, SavingsLine>();
  const problems: string[] = [];
  let excluded = 0n;
  for (const rule of o.policy.rules) {
    const where = ruleWhere(rule, o.month);
    const providers = await queryRows(connection, `SELECT DISTINCT provider FROM genai_calls WHERE ${where}`);
    const tiered = providers.some((p) => {
      const prices = o.priceBook.unitPrices(rule.toProvider ?? text(p['provider']), rule.to, BigInt(o.month.fromMs) * 1_000_000n);
      return prices?.tiered === true;
    });
    const rows = await queryRows(
      connection,
      `SELECT team_id, provider, operation, service_tier, ${DAY_SQL} AS "day",${tiered ? ' trace_id, span_id,' : ''}
  count(*) AS calls,
  sum(coalesce(input_tokens, 0)) AS input_tokens, sum(coalesce(cached_input_tokens, 0)) AS cached_input_tokens,
  sum(coalesce(cache_write_tokens, 0)) AS cache_write_tokens, sum(coalesce(cache_write_1h_tokens, 0)) AS cache_write_1h_tokens,
  sum(coalesce(output_tokens, 0)) AS output_tokens, sum(coalesce(reasoning_tokens, 0)) AS reasoning_tokens,
  sum(coalesce(input_audio_tokens, 0)) AS input_audio_tokens, sum(coalesce(output_audio_tokens, 0)) AS output_audio_tokens,
  CAST(sum(request_cost_usd) AS DECIMAL(38,12)) AS cost_usd
FROM genai_calls WHERE ${where}
GROUP BY ALL
ORDER BY ALL`,
    );
    const unpriced = await queryRows(
      connection,
      `SELECT count(*) AS n FROM genai_calls WHERE ${where.replace('request_cost_usd IS NOT NULL', 'request_cost_usd IS NULL')}`,
    );
    excluded += count(unpriced[0]?.['n']);
    for (const r of rows) {
      const provider = rule.toProvider ?? text(r['provider']);
      const at = BigInt(Date.parse(`${String(r['day'])}T00:00:00Z`)) * 1_000_000n;
      const cost = o.priceBook.cost(
        provider,
        rule.to,
        {
          inputTokens: toNumber(r['input_tokens']),
          cachedInputTokens: toNumber(r['cached_input_tokens']),
          cacheWriteTokens: toNumber(r['cache_write_tokens']),
          cacheWrite1hTokens: toNumber(r['cache_write_1h_tokens']),
          outputTokens: toNumber(r['output_tokens']),
          reasoningTokens: toNumber(r['reasoning_tokens']),
          inputAudioTokens: toNumber(r['input_audio_tokens']),
          outputAudioTokens: toNumber(r['output_audio_tokens']),
        },
        at,
        text(r['service_tier']),
      );
      if (cost === null) {
        const problem = `${rule.to} (provider ${provider ?? 'any'}) has no price: rule ${rule.from} → ${rule.to} skipped for those calls`;
        if (!problems.includes(problem)) problems.push(problem);
        continue;
      }
      const teamId = text(r['team_id']);
      const key = JSON.stringify([teamId, rule.from, rule.to]);
      const line = lines.get(key) ?? { teamId, from: rule.from, to: rule.to, calls: 0n, currentPicoUsd: 0n, projectedPicoUsd: 0n };
      line.calls += count(r['calls']);
      line.currentPicoUsd += usd(r['cost_usd']) ?? 0n;
      line.projectedPicoUsd += cost.totalPicoUsd;
      lines.set(key, line);
    }
  }
  const sorted = [...lines.values()].sort((a, b) => {
    const x = a.currentPicoUsd - a.projectedPicoUsd;
    const y = b.currentPicoUsd - b.projectedPicoUsd;
    return x === y ? String(a.teamId).localeCompare(String(b.teamId)) : x > y ? -1 : 1;
  });
  return { lines: sorted, problems, excluded };
}

/** `report savings`: per team and rule, current cost, cost on the cheaper model, savings. */
export async function savingsReport(connection: DuckDBConnection, o: SavingsOptions): Promise<Report> {
  const { lines, problems, excluded } = await savingsLines(connection, o);
  const columns: ReportColumn[] = [
    { key: 'team_id', kind: 'text' },
    { key: 'from_model', kind: 'text' },
    { key: 'to_model', kind: 'text' },
    { key: 'calls', kind: 'count' },
    { key: 'current_usd', kind: 'usd' },
    { key: 'projected_usd', kind: 'usd' },
    { key: 'savings_usd', kind: 'usd' },
    { key: 'savings_pct', kind: 'ratio' },
  ];
  const rows = lines.map((l): Cell[] => [
    l.teamId ?? '(unattributed)',
    l.from,
    l.to,
    l.calls,
    l.currentPicoUsd,
    l.projectedPicoUsd,
    l.currentPicoUsd - l.projectedPicoUsd,
    l.currentPicoUsd === 0n ? null : ratio(l.currentPicoUsd - l.projectedPicoUsd, l.currentPicoUsd),
  ]);
  const sum = (f: (l: SavingsLine) => bigint) => lines.reduce((a, l) => a + f(l), 0n);
  const current = sum((l) => l.currentPicoUsd);
  const projected = sum((l) => l.projectedPicoUsd);
  const notes = [
    `current_usd: the calls' cost in the ledger; projected_usd: the same tokens (per class: input, cache reads and writes, output, ` +
      `reasoning, audio) priced on to_model by the price book ${o.priceBook.snapshot}, at the start of each call's UTC day and in its service tier.`,
    'A rule matches the model it names and its dated snapshots (gpt-4o matches gpt-4o-2024-08-06, not gpt-4o-mini).',
  ];
  if (excluded > 0n) notes.push(`${excluded} matching call(s) without a cost are not compared (see report exceptions).`);
  notes.push(...problems);
  return {
    kind: 'savings',
    title: `Savings ${o.month.label}`,
    parameters: { month: o.month.label, policy: o.policyFile, prices: o.priceBook.snapshot },
    sections: [
      {
        name: 'lines',
        title: 'Savings by team',
        columns,
        rows,
        totals: ['TOTAL', null, null, sum((l) => l.calls), current, projected, current - projected, current === 0n ? null : ratio(current - projected, current)],
      },
    ],
    notes,
  };
}
