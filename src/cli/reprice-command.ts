import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { formatTable } from '../../exporters/duckdb/format-result.js';
import { restateCosts, type RestateResult } from '../../exporters/duckdb/restate-costs.js';
import { costMismatchThresholds } from '../../processors/pricing/cost-mismatch.js';
import { formatPicoUsd } from '../../processors/pricing/decimal.js';
import { PriceBook } from '../../processors/pricing/price-book.js';
import { loadLedgerConfig } from '../config/ledger-config.js';
import { parseCliDate } from './cli-dates.js';
import { CliUsageError } from './cli-usage-error.js';

/**
 * `genai-ledger reprice --db PATH --from DATE --to DATE [--dry-run] [--prices FILE] [--config FILE]`:
 * restates the costs of the calls in the range with the current price book. The dry run shows the delta
 * per team and changes nothing; the real run shows it too, then records the restatement (docs/pricing.md).
 */
export async function runReprice(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        db: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        prices: { type: 'string' },
        config: { type: 'string' },
      },
    });
  } catch (err) {
    throw new CliUsageError((err as Error).message);
  }
  const { values } = parsed;
  if (values.from === undefined || values.to === undefined) throw new CliUsageError('reprice needs --from DATE and --to DATE');
  const fromMs = parseCliDate('from', values.from);
  const toMs = parseCliDate('to', values.to, true);
  if (toMs <= fromMs) throw new CliUsageError('--to must be after --from');
  const config = await loadLedgerConfig(values.config);
  const dbPath = values.db ?? config.exporters.duckdb.path;
  const book = await PriceBook.load(values.prices ?? config.pricing.overridesFile);
  for (const w of book.overrides?.warnings ?? []) console.error(`genai-ledger: warning: ${w}`);
  const dryRun = values['dry-run'];

  console.log(
    `${dryRun ? 'dry run: ' : ''}restating ${dbPath} from ${new Date(fromMs).toISOString()} to ${new Date(toMs).toISOString()} (exclusive)`,
  );
  console.log(`new prices: ${book.snapshot}`);
  const progress = progressBar();
  const started = performance.now();
  const result = await restateCosts({
    dbPath,
    fromMs,
    toMs,
    dryRun,
    priceBook: book,
    costMismatch: costMismatchThresholds(config.pricing.costMismatch),
    user: process.env.USER ?? safeUserName(),
    command: ['genai-ledger', 'reprice', ...args].join(' '),
    onProgress: progress.update,
    onPlanned: (plan) => {
      progress.done();
      printPlan(plan);
      if (!dryRun && plan.rowsChanged > 0) console.log('applying…');
    },
  });
  const seconds = (performance.now() - started) / 1000;
  printOutcome(result, dryRun, seconds);
  return 0;
}

function safeUserName(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** A progress bar on stderr: redrawn in place on a terminal, a line per 10% otherwise. */
function progressBar(): { update: (done: number, total: number) => void; done: () => void } {
  const tty = process.stderr.isTTY === true;
  const started = performance.now();
  let lastDecile = -1;
  let drawn = false;
  return {
    update(done, total) {
      const fraction = total === 0 ? 1 : done / total;
      const rate = done / Math.max(0.001, (performance.now() - started) / 1000);
      const text = `${String(Math.floor(fraction * 100)).padStart(3)}% ${done}/${total} rows, ${Math.round(rate)} rows/s`;
      if (tty) {
        const width = 30;
        const filled = Math.round(fraction * width);
        process.stderr.write(`\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${text}`);
        drawn = true;
      } else {
        const decile = Math.floor(fraction * 10);
        if (decile > lastDecile) {
          lastDecile = decile;
          process.stderr.write(`${text}\n`);
        }
      }
    },
    done() {
      if (drawn) process.stderr.write('\n');
      drawn = false;
    },
  };
}

/** The delta per team, printed once every row is priced and before anything is written. */
function printPlan(r: RestateResult): void {
  const old = [...r.oldSnapshots.entries()].map(([s, n]) => `${s ?? '(unpriced)'} × ${n}`).join(', ');
  console.log(`rows in range: ${r.rowsExamined}; rows whose cost, snapshot or exceptions change: ${r.rowsChanged}`);
  if (old !== '') console.log(`old prices: ${old}`);
  if (r.teams.length > 0) {
    const oldUnpriced = r.teams.reduce((n, t) => n + t.oldUnpriced, 0);
    const newUnpriced = r.teams.reduce((n, t) => n + t.newUnpriced, 0);
    process.stdout.write(
      formatTable({
        columns: ['team_id', 'calls', 'old_cost_usd', 'new_cost_usd', 'delta_usd', 'unpriced_before', 'unpriced_after'],
        rows: [
          ...r.teams.map((t) => [
            t.teamId ?? '(none)',
            t.rows,
            ...costColumns(t.rows, t.oldPicoUsd, t.oldUnpriced, t.newPicoUsd, t.newUnpriced),
            t.oldUnpriced,
            t.newUnpriced,
          ]),
          ['TOTAL', r.rowsExamined, ...costColumns(r.rowsExamined, r.oldPicoUsd, oldUnpriced, r.newPicoUsd, newUnpriced), '', ''],
        ],
      }),
    );
  }
}

/**
 * Old cost, new cost and delta of a group of calls. When none of the calls has a price the cost is
 * `unpriced`, never a silent 0.000000000000, and so is a delta to or from it; otherwise it is the sum over
 * the priced calls (the unpriced_* columns say how many are left out).
 */
function costColumns(calls: number, oldPico: bigint, oldUnpriced: number, newPico: bigint, newUnpriced: number): string[] {
  const oldNone = calls > 0 && oldUnpriced === calls;
  const newNone = calls > 0 && newUnpriced === calls;
  return [
    oldNone ? UNPRICED : formatPicoUsd(oldPico),
    newNone ? UNPRICED : formatPicoUsd(newPico),
    oldNone || newNone ? UNPRICED : formatPicoUsd(newPico - oldPico),
  ];
}

const UNPRICED = 'unpriced';

function printOutcome(r: RestateResult, dryRun: boolean, seconds: number): void {
  const rate = Math.round(r.rowsExamined / Math.max(seconds, 0.001));
  if (dryRun) {
    console.log(`dry run: nothing was changed (${seconds.toFixed(1)} s, ${rate} rows/s). Run again without --dry-run to apply.`);
  } else if (r.restatementId === null) {
    console.log(`nothing to change (${seconds.toFixed(1)} s).`);
  } else {
    console.log(
      `applied as restatement ${r.restatementId} (${seconds.toFixed(1)} s, ${rate} rows/s); previous values are in genai_cost_history, ` +
        'the record in genai_cost_restatements and genai_cost_restatement_teams.',
    );
  }
}
