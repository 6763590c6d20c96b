import { parseArgs, type ParseArgsConfig } from 'node:util';
import { formatTable } from '../../exporters/duckdb/format-result.js';
import { runReadOnlyQuery } from '../../exporters/duckdb/read-only-query.js';
import { formatUsdPerMtok } from '../../processors/pricing/decimal.js';
import { PriceBook, type UnitPrices } from '../../processors/pricing/price-book.js';
import { loadLedgerConfig } from '../config/ledger-config.js';
import { parseCliDate } from './cli-dates.js';
import { CliUsageError } from './cli-usage-error.js';

/** Exit code of `prices check` when some model in the ledger has no price. */
export const UNPRICED_EXIT_CODE = 3;

/** `genai-ledger prices show|check ...` */
export async function runPrices(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'show') return runPricesShow(rest);
  if (sub === 'check') return runPricesCheck(rest);
  throw new CliUsageError(sub === undefined ? 'prices needs a subcommand: show or check' : `unknown prices subcommand "${sub}"`);
}

function parse(args: string[], options: NonNullable<ParseArgsConfig['options']>, positionals: boolean) {
  try {
    return parseArgs({ args, strict: true, allowPositionals: positionals, options });
  } catch (err) {
    throw new CliUsageError((err as Error).message);
  }
}

/** The price book the server would use: --prices, else the config file's pricing.overridesFile. */
export async function priceBookFor(prices: string | undefined, config: string | undefined): Promise<PriceBook> {
  if (prices !== undefined) return PriceBook.load(prices);
  const c = await loadLedgerConfig(config);
  return PriceBook.load(c.pricing.overridesFile);
}

function printWarnings(book: PriceBook): void {
  for (const w of book.overrides?.warnings ?? []) console.error(`genai-ledger: warning: ${w}`);
}

function rateLines(u: UnitPrices): string[] {
  const rows: [string, bigint][] = [
    ['input', u.input],
    ['cache read', u.cacheRead],
    ['cache write (5 min)', u.cacheWrite],
    ['cache write (1 h)', u.cacheWrite1h],
    ['output', u.output],
    ['reasoning', u.reasoning],
    ['audio input', u.inputAudio],
    ['audio output', u.outputAudio],
  ];
  return rows.map(([k, v]) => `    ${k.padEnd(20)} ${formatUsdPerMtok(v).padStart(14)}`);
}

/** `prices show MODEL [--provider P] [--at DATE] [--tier T] [--prices FILE] [--config FILE]` */
async function runPricesShow(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      provider: { type: 'string' },
      at: { type: 'string' },
      tier: { type: 'string' },
      prices: { type: 'string' },
      config: { type: 'string' },
    },
    true,
  );
  if (positionals.length !== 1) throw new CliUsageError('prices show takes exactly one MODEL');
  const model = positionals[0]!;
  const provider = typeof values.provider === 'string' ? values.provider : null;
  const atMs = typeof values.at === 'string' ? parseCliDate('at', values.at) : Date.now();
  const tier = typeof values.tier === 'string' ? values.tier : null;
  const book = await priceBookFor(values.prices as string | undefined, values.config as string | undefined);
  printWarnings(book);
  const at = BigInt(atMs) * 1_000_000n;
  const base = book.unitPrices(provider, model, at, 0, tier);
  const head = [
    `model         ${model}${provider === null ? '' : ` (provider ${provider})`}`,
    `at            ${new Date(atMs).toISOString()}`,
    `snapshot      ${book.snapshot}`,
  ];
  if (base === null) {
    console.log([...head, 'price         NONE: calls to this model are recorded with request_cost_usd NULL (unpriced_model)'].join('\n'));
    console.log('              add it to a price overrides file (docs/pricing.md), then `genai-ledger reprice`');
    return 1;
  }
  const o = base.origin;
  const lines = [
    ...head,
    `source        ${o.source}`,
    `alias         ${o.alias ?? '-'}`,
    `period        ${o.period}`,
    `discount      ${o.discount ?? '-'}`,
    `service tier  ${o.serviceTier ?? (tier === null ? 'standard' : `${tier}: no multiplier known, standard rates`)}`,
    `rounded       ${base.rounded ? 'yes: some rate had more than 6 decimals in $/Mtok and was rounded half-even' : 'no'}`,
    `unit prices (USD per million tokens)${base.tiered ? ', by input size' : ''}:`,
  ];
  if (!base.tiered) {
    lines.push(...rateLines(base));
  } else {
    const bounds = [0, ...base.tierThresholds];
    bounds.forEach((lo, i) => {
      const u = i === 0 ? base : book.unitPrices(provider, model, at, lo + 1, tier);
      const hi = bounds[i + 1];
      lines.push(`  input tokens ${i === 0 ? `≤ ${hi ?? '∞'}` : `> ${lo}`} (rates apply to the whole call):`);
      if (u !== null) lines.push(...rateLines(u));
    });
  }
  console.log(lines.join('\n'));
  return 0;
}

/** `prices check --db PATH [--prices FILE] [--config FILE]` */
async function runPricesCheck(args: string[]): Promise<number> {
  const { values } = parse(
    args,
    { db: { type: 'string', default: './genai-ledger.duckdb' }, prices: { type: 'string' }, config: { type: 'string' } },
    false,
  );
  const book = await priceBookFor(values.prices as string | undefined, values.config as string | undefined);
  printWarnings(book);
  const result = await runReadOnlyQuery(
    values.db as string,
    `SELECT provider, model, count(*) AS calls, count(*) FILTER (WHERE request_cost_usd IS NULL) AS stored_unpriced,
       coalesce(sum(input_tokens), 0) AS input_tokens, coalesce(sum(output_tokens), 0) AS output_tokens,
       epoch_ms(min("timestamp")) AS first_ms, epoch_ms(max("timestamp")) AS last_ms
     FROM genai_calls GROUP BY ALL ORDER BY calls DESC, provider, model`,
  );
  const unpriced: unknown[][] = [];
  let fixable = 0;
  for (const r of result.rows) {
    const [provider, model, calls, storedUnpriced, input, output, first, last] = r as [
      string | null,
      string | null,
      bigint,
      bigint,
      unknown,
      unknown,
      bigint,
      bigint,
    ];
    const pricedNow = model !== null && book.unitPrices(provider, model, last * 1_000_000n) !== null;
    if (!pricedNow) {
      unpriced.push([
        provider,
        model ?? '(no model)',
        calls,
        input,
        output,
        new Date(Number(first)).toISOString(),
        new Date(Number(last)).toISOString(),
      ]);
    } else if (storedUnpriced > 0n) {
      fixable += Number(storedUnpriced);
    }
  }
  console.log(`prices ${book.snapshot}`);
  if (unpriced.length === 0) {
    console.log('every (provider, model) in the ledger has a price.');
  } else {
    console.log(`${unpriced.length} (provider, model) without a price (their calls have request_cost_usd NULL):`);
    process.stdout.write(
      formatTable({
        columns: ['provider', 'model', 'calls', 'input_tokens', 'output_tokens', 'first_seen', 'last_seen'],
        rows: unpriced,
      }),
    );
    console.log('add them to a price overrides file (docs/pricing.md), then run `genai-ledger reprice`.');
  }
  if (fixable > 0) {
    console.log(`${fixable} call(s) stored without a cost are priced by these prices now: run \`genai-ledger reprice\` to restate them.`);
  }
  return unpriced.length === 0 ? 0 : UNPRICED_EXIT_CODE;
}
