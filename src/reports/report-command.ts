import { parseArgs } from 'node:util';
import { PriceBook } from '../../processors/pricing/price-book.js';
import { parseCliDate } from '../cli/cli-dates.js';
import { CliUsageError } from '../cli/cli-usage-error.js';
import { loadLedgerConfig } from '../config/ledger-config.js';
import { anomaliesReport } from './anomalies-report.js';
import { budgetsReport } from './budget-status.js';
import { chargebackReport, DEFAULT_CHARGEBACK_BY } from './chargeback-report.js';
import { EXCEPTION_OWNERS, exceptionsReport, type ExceptionOwner } from './exceptions-report.js';
import { openReportLedger } from './ledger-reader.js';
import { DAY_MS, dayStart, monthOf, parseMonth, previousMonth, rangePeriod, type Period } from './report-period.js';
import { USAGE_DIMENSIONS, type UsageDimension } from './report-sql.js';
import { formatReport, REPORT_FORMATS, type Report, type ReportFormat } from './report-table.js';
import { loadSavingsPolicy } from './savings-policy.js';
import { savingsReport } from './savings-report.js';
import { varianceReport } from './variance-report.js';

export const REPORT_USAGE = `  genai-ledger report chargeback [--month YYYY-MM | --from DATE --to DATE] [--by DIMS] [--allocate-shared]
  genai-ledger report variance --month YYYY-MM [--against YYYY-MM] [--by DIMS]
  genai-ledger report exceptions [--month YYYY-MM | --from DATE --to DATE] [--owner platform|finops|application]
  genai-ledger report budgets [--month YYYY-MM] [--at TIMESTAMP]
  genai-ledger report anomalies [--from DATE --to DATE] [--min-daily-usd N] [--min-calls N]
  genai-ledger report savings --month YYYY-MM --policy FILE [--prices FILE]
    every report: [--db PATH] [--config FILE] [--snapshot] [--format table|csv|json|markdown]
    DIMS: comma-separated ${USAGE_DIMENSIONS.join(', ')}`;

const REPORTS = ['chargeback', 'variance', 'exceptions', 'budgets', 'anomalies', 'savings'] as const;

function month(flag: string, value: string): Period {
  const p = parseMonth(value);
  if (p === null) throw new CliUsageError(`--${flag} must be a month YYYY-MM, got "${value}"`);
  return p;
}

function dims(value: string | undefined, fallback: readonly UsageDimension[]): UsageDimension[] {
  if (value === undefined) return [...fallback];
  const list = value.split(',').map((d) => d.trim()).filter((d) => d !== '');
  for (const d of list) {
    if (!(USAGE_DIMENSIONS as readonly string[]).includes(d)) {
      throw new CliUsageError(`--by: unknown dimension "${d}" (one of ${USAGE_DIMENSIONS.join(', ')})`);
    }
  }
  if (new Set(list).size !== list.length) throw new CliUsageError('--by names a dimension twice');
  return list as UsageDimension[];
}

/** --month, or --from/--to, or the current month. */
function period(values: { month?: string; from?: string; to?: string }, nowMs: number): Period {
  if (values.month !== undefined) {
    if (values.from !== undefined || values.to !== undefined) throw new CliUsageError('use --month or --from/--to, not both');
    return month('month', values.month);
  }
  if (values.from !== undefined || values.to !== undefined) {
    if (values.from === undefined || values.to === undefined) throw new CliUsageError('--from and --to go together');
    const fromMs = parseCliDate('from', values.from);
    const toMs = parseCliDate('to', values.to, true);
    if (toMs <= fromMs) throw new CliUsageError('--to must be after --from');
    return rangePeriod(fromMs, toMs);
  }
  return monthOf(nowMs);
}

function positiveNumber(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new CliUsageError(`--${flag} must be a non-negative number, got "${value}"`);
  return n;
}

/**
 * `genai-ledger report <kind> …`: the FinOps reports over a ledger file, opened read-only (docs/reports.md).
 * Every number also exists as a view in the ledger (genai_usage_daily, genai_variance_monthly, …).
 */
export async function runReport(args: string[], nowMs: number = Date.now()): Promise<number> {
  const [kind, ...rest] = args;
  if (kind === undefined || !(REPORTS as readonly string[]).includes(kind)) {
    throw new CliUsageError(kind === undefined ? 'report needs a kind' : `unknown report "${kind}" (one of ${REPORTS.join(', ')})`);
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      strict: true,
      allowPositionals: false,
      options: {
        db: { type: 'string' },
        config: { type: 'string' },
        snapshot: { type: 'boolean', default: false },
        format: { type: 'string', default: 'table' },
        month: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        by: { type: 'string' },
        against: { type: 'string' },
        owner: { type: 'string' },
        at: { type: 'string' },
        policy: { type: 'string' },
        prices: { type: 'string' },
        'allocate-shared': { type: 'boolean', default: false },
        'min-daily-usd': { type: 'string' },
        'min-calls': { type: 'string' },
      },
    });
  } catch (err) {
    throw new CliUsageError((err as Error).message);
  }
  const { values } = parsed;
  const format = values.format;
  if (!(REPORT_FORMATS as readonly string[]).includes(format)) {
    throw new CliUsageError(`--format must be ${REPORT_FORMATS.join(', ')}, got "${format}"`);
  }
  const allowed: Record<(typeof REPORTS)[number], readonly string[]> = {
    chargeback: ['month', 'from', 'to', 'by', 'allocate-shared'],
    variance: ['month', 'against', 'by'],
    exceptions: ['month', 'from', 'to', 'owner'],
    budgets: ['month', 'at'],
    anomalies: ['from', 'to', 'min-daily-usd', 'min-calls'],
    savings: ['month', 'policy', 'prices'],
  };
  const common = ['db', 'config', 'snapshot', 'format'];
  for (const [flag, value] of Object.entries(values)) {
    if (value === undefined || value === false || common.includes(flag)) continue;
    if (!allowed[kind as (typeof REPORTS)[number]].includes(flag)) throw new CliUsageError(`report ${kind} does not take --${flag}`);
  }

  const config = await loadLedgerConfig(values.config);
  const dbPath = values.db ?? config.exporters.duckdb.path;
  // Everything that can be refused is checked before the ledger is opened.
  let build: (ledger: Awaited<ReturnType<typeof openReportLedger>>) => Promise<Report>;
  switch (kind) {
    case 'chargeback': {
      const p = period(values, nowMs);
      const by = dims(values.by, DEFAULT_CHARGEBACK_BY);
      build = (l) => chargebackReport(l.connection, { period: p, by, allocateShared: values['allocate-shared'] === true });
      break;
    }
    case 'variance': {
      if (values.month === undefined) throw new CliUsageError('report variance needs --month YYYY-MM');
      const m = month('month', values.month);
      const against = values.against === undefined ? previousMonth(m) : month('against', values.against);
      const by = dims(values.by, ['team_id']);
      build = (l) => varianceReport(l.connection, { month: m, against, by });
      break;
    }
    case 'exceptions': {
      const p = period(values, nowMs);
      const owner = values.owner ?? null;
      if (owner !== null && !(EXCEPTION_OWNERS as readonly string[]).includes(owner)) {
        throw new CliUsageError(`--owner must be ${EXCEPTION_OWNERS.join(', ')}, got "${owner}"`);
      }
      build = (l) => exceptionsReport(l.connection, l.shape, { period: p, owner: owner as ExceptionOwner | null });
      break;
    }
    case 'budgets': {
      const asOfMs = values.at === undefined ? nowMs : parseCliDate('at', values.at);
      const m = values.month === undefined ? monthOf(asOfMs) : month('month', values.month);
      if (m.fromMs > asOfMs) throw new CliUsageError(`--month ${m.label} has not started at ${new Date(asOfMs).toISOString()}`);
      build = (l) => budgetsReport(l.connection, { month: m, asOfMs });
      break;
    }
    case 'anomalies': {
      // Default: the 28 complete days before today (today is not over: its cost would look like a drop).
      const today = dayStart(nowMs);
      const p = values.from === undefined && values.to === undefined ? rangePeriod(today - 28 * DAY_MS, today) : period(values, nowMs);
      const minDailyUsd = positiveNumber('min-daily-usd', values['min-daily-usd']);
      const minCalls = positiveNumber('min-calls', values['min-calls']);
      build = (l) => anomaliesReport(l.connection, { period: p, minDailyUsd, minCalls });
      break;
    }
    case 'savings': {
      if (values.month === undefined) throw new CliUsageError('report savings needs --month YYYY-MM');
      if (values.policy === undefined) throw new CliUsageError('report savings needs --policy FILE');
      const m = month('month', values.month);
      const policyFile = values.policy;
      const policy = await loadSavingsPolicy(policyFile);
      const priceBook = await PriceBook.load(values.prices ?? config.pricing.overridesFile);
      for (const w of priceBook.overrides?.warnings ?? []) console.error(`genai-ledger: warning: ${w}`);
      build = (l) => savingsReport(l.connection, { month: m, policy, policyFile, priceBook });
      break;
    }
    default:
      throw new CliUsageError(`unknown report "${kind}"`);
  }
  const ledger = await openReportLedger(dbPath, { snapshot: values.snapshot === true });
  try {
    const report = await build(ledger);
    process.stdout.write(formatReport(report, format as ReportFormat));
  } finally {
    await ledger.close();
  }
  return 0;
}
