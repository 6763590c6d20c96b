import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { z } from 'zod';
import type { LedgerRow } from '../../core/ledger-row.js';
import type { PipelineErrorKind } from '../../core/pipeline-errors.js';
import { BoundedSeries, OVERFLOW_LABEL_VALUE } from './bounded-series.js';
import { picoUsdToNumber, usdToNumber } from './usd.js';
import { checkReadiness, type ReadinessProbe } from './readiness.js';

/**
 * Every Prometheus metric genai-ledger exposes, in its own registry (never prom-client's global one, so
 * two instances in one process — tests — never collide). The names and labels are a contract that
 * dashboards and alert rules depend on: docs/metrics.md lists them; add, never rename.
 *
 * Ledger counters (cost, tokens, calls) are fed by `recordRows` with the rows a commit made durable.
 * Month-to-date spend, budgets, open exceptions and the file size are read from the ledger at scrape
 * time through `ledgerGauges`, so they are right after a restart. Everything else mirrors callbacks or
 * is fed by the pipeline's calls.
 */

/** The ownership and model labels of the ledger counters; a NULL column is the empty label value. */
export const LEDGER_LABELS = ['team_id', 'cost_center', 'project_id', 'service', 'environment', 'provider', 'model'] as const;
type LedgerLabel = (typeof LEDGER_LABELS)[number];

/**
 * Token classes of `genai_ledger_tokens_total`. They partition a call's tokens (unlike the ledger's
 * columns, where `input_tokens` includes cache reads and writes and `output_tokens` includes reasoning),
 * so a sum over token_class is the call's total tokens:
 * input = input_tokens − cached_input_tokens − cache_write_tokens, output = output_tokens − reasoning_tokens.
 */
export const TOKEN_CLASSES = ['input', 'cached_input', 'cache_write', 'output', 'reasoning'] as const;
export type TokenClass = (typeof TOKEN_CLASSES)[number];

export type Transport = 'http' | 'grpc';
/** Why spans were refused: the pipeline error kinds, and `unauthenticated` (bad or missing bearer token). */
export type RefusalReason = PipelineErrorKind | 'unauthenticated';
export const REFUSAL_REASONS: readonly RefusalReason[] = ['invalid', 'too_large', 'overloaded', 'unavailable', 'unauthenticated'];

/** Metrics whose series count is limited (their labels come from span data). */
export const LIMITED_METRICS = [
  'genai_ledger_cost_usd_total',
  'genai_ledger_tokens_total',
  'genai_ledger_calls_total',
  'genai_ledger_month_to_date_cost_usd',
  'genai_ledger_monthly_budget_usd',
] as const;
export type LimitedMetric = (typeof LIMITED_METRICS)[number];

export const DEFAULT_MAX_SERIES_PER_METRIC = 2000;

export const LedgerMetricsConfig = z
  .object({
    /** Most series each label-heavy metric keeps; later label sets go to the `__overflow__` series. */
    maxSeriesPerMetric: z.number().int().min(1).max(1_000_000).default(DEFAULT_MAX_SERIES_PER_METRIC),
    /** Per-metric overrides of maxSeriesPerMetric, by metric name. */
    maxSeries: z.partialRecord(z.enum(LIMITED_METRICS), z.number().int().min(1).max(1_000_000)).default({}),
    /** Also expose the Node.js process metrics (process_*, nodejs_*): CPU, memory, event-loop lag, GC. */
    processMetrics: z.boolean().default(true),
    /** How long a scrape waits for the ledger gauges before serving the last values read. */
    ledgerGaugesTimeoutMs: z.number().int().min(1).default(5000),
  })
  .strict();
export type LedgerMetricsConfig = z.input<typeof LedgerMetricsConfig>;

/** What `ledgerGauges` returns: read from the ledger (and the mapping tables) at scrape time. */
export interface LedgerGauges {
  /**
   * Spend of the current UTC calendar month per owner, including the unattributed groups (teamId and/or
   * costCenter null): the unattributed-share alert divides by the total of these rows.
   */
  monthToDate: readonly { teamId: string | null; costCenter: string | null; costUsd: number | string }[];
  /** `monthly_budget_usd` of each team in teams.csv that has one. */
  budgets: readonly { teamId: string; costCenter: string | null; budgetUsd: number | string }[];
  /** Rows of the exceptions queue (`genai_exceptions`) in the current UTC month: what must be fixed before the month is closed. */
  openExceptions: number;
  /** Size of the ledger file plus its write-ahead log, bytes. */
  ledgerFileBytes: number;
}

/** Cumulative counts of one forwarding destination (the OTLP forwarder's own counters). */
export interface ForwarderStats {
  queuedBytes: number;
  sentSpans: number;
  failedSpans: number;
  droppedSpans: number;
}

/** Cumulative counts of one alert webhook (the alerts service's own counters). */
export interface WebhookDeliveryStats {
  webhook: string;
  healthy: boolean;
  delivered: number;
  failedAttempts: number;
  givenUp: number;
}

/** Callbacks read at scrape time; any may be set later with `setSources`. */
export interface LedgerMetricsSources {
  ledgerGauges: () => Promise<LedgerGauges>;
  /** Request bytes held right now across all requests (the in-flight limiter). */
  inFlightBytes: () => number;
  /** The same probe /readyz uses; `genai_ledger_ready` is 1 when it passes. */
  readiness: ReadinessProbe;
}

const COMMIT_SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const ROWS_PER_COMMIT_BUCKETS = [1, 5, 10, 50, 100, 500, 1000, 5000, 10_000, 50_000];

/** The ledger gauges converted to numbers, with their overflow folded. */
interface GaugeRow {
  teamId: string | null;
  costCenter: string | null;
  usd: number;
}
interface GaugeSnapshot {
  monthToDate: GaugeRow[];
  budgets: GaugeRow[];
  openExceptions: number;
  ledgerFileBytes: number;
}

interface CostEntry {
  labels: Record<LedgerLabel, string>;
  pico: bigint;
}
interface TokenEntry {
  labels: Record<LedgerLabel, string>;
  /** In TOKEN_CLASSES order. Integers below 2^53 are exact in a float64. */
  tokens: [number, number, number, number, number];
}
interface CallEntry {
  labels: Record<LedgerLabel | 'attribution_status', string>;
  calls: number;
}

const KEY_SEPARATOR = '\u0000';
const OVERFLOW_LABELS: Record<LedgerLabel, string> = Object.fromEntries(
  LEDGER_LABELS.map((l) => [l, OVERFLOW_LABEL_VALUE]),
) as Record<LedgerLabel, string>;

export class LedgerMetrics {
  readonly registry = new Registry();
  private sources: Partial<LedgerMetricsSources> = {};
  private readonly config: z.output<typeof LedgerMetricsConfig>;

  private readonly cost: BoundedSeries<CostEntry>;
  private readonly tokens: BoundedSeries<TokenEntry>;
  private readonly calls: BoundedSeries<CallEntry>;
  private readonly overflowTotal: Counter<'metric'>;

  private readonly received: Counter<'transport'>;
  private readonly refused: Counter<'transport' | 'reason'>;
  private readonly commitSeconds: Histogram;
  private readonly rowsPerCommit: Histogram;
  private readonly commitFailures: Counter;
  private readonly gaugeFailures: Counter;
  private readonly configInfo = new Map<string, string>();
  private readonly forwarders = new Map<string, () => ForwarderStats>();
  private webhookStats: () => readonly WebhookDeliveryStats[] = () => [];
  private lastOverloadedAt = Number.NEGATIVE_INFINITY;

  private gaugeRead: Promise<GaugeSnapshot | null> | null = null;
  private lastGauges: GaugeSnapshot | null = null;

  /** `config` may be a whole PrometheusExporterConfig: only this class's keys are read. */
  constructor(config: LedgerMetricsConfig = {}, sources: Partial<LedgerMetricsSources> = {}) {
    const { maxSeriesPerMetric, maxSeries, processMetrics, ledgerGaugesTimeoutMs } = config;
    this.config = LedgerMetricsConfig.parse({ maxSeriesPerMetric, maxSeries, processMetrics, ledgerGaugesTimeoutMs });
    this.sources = { ...sources };
    const registers = [this.registry];
    const limit = (metric: LimitedMetric) => this.limit(metric);

    this.overflowTotal = new Counter({
      name: 'genai_ledger_metric_series_overflow_total',
      help: 'Recordings folded into a metric\'s __overflow__ series because the metric reached its series limit.',
      labelNames: ['metric'],
      registers,
      // the ledger gauges fold their overflow while reading: wait for this scrape's read
      collect: async () => {
        await this.readLedgerGauges();
      },
    });
    for (const metric of LIMITED_METRICS) this.overflowTotal.inc({ metric }, 0);
    const overflowed = (metric: LimitedMetric) => this.overflowed(metric);

    this.cost = new BoundedSeries(limit('genai_ledger_cost_usd_total'), overflowed('genai_ledger_cost_usd_total'));
    this.tokens = new BoundedSeries(limit('genai_ledger_tokens_total'), overflowed('genai_ledger_tokens_total'));
    this.calls = new BoundedSeries(limit('genai_ledger_calls_total'), overflowed('genai_ledger_calls_total'));

    const costCounter: Counter<LedgerLabel> = new Counter({
      name: 'genai_ledger_cost_usd_total',
      help: 'Cost of the calls written to the ledger, USD (summed exactly in pico-USD, converted once per scrape). Unpriced calls add 0.',
      labelNames: LEDGER_LABELS,
      registers,
      collect: () => {
        costCounter.reset();
        for (const e of this.cost.entries()) costCounter.inc(e.labels, picoUsdToNumber(e.pico));
      },
    });
    const tokenCounter: Counter<LedgerLabel | 'token_class'> = new Counter({
      name: 'genai_ledger_tokens_total',
      help: 'Tokens of the calls written to the ledger, by disjoint token class (input = uncached input, output = non-reasoning output).',
      labelNames: [...LEDGER_LABELS, 'token_class'],
      registers,
      collect: () => {
        tokenCounter.reset();
        for (const e of this.tokens.entries()) {
          TOKEN_CLASSES.forEach((token_class, i) => tokenCounter.inc({ ...e.labels, token_class }, e.tokens[i]));
        }
      },
    });
    const callCounter: Counter<LedgerLabel | 'attribution_status'> = new Counter({
      name: 'genai_ledger_calls_total',
      help: 'Calls written to the ledger (billed rows), by attribution_status.',
      labelNames: [...LEDGER_LABELS, 'attribution_status'],
      registers,
      collect: () => {
        callCounter.reset();
        for (const e of this.calls.entries()) callCounter.inc(e.labels, e.calls);
      },
    });

    const mtd: Gauge<'team_id' | 'cost_center'> = new Gauge({
      name: 'genai_ledger_month_to_date_cost_usd',
      help: 'Spend of the current UTC calendar month per team and cost center, read from the ledger at scrape time (empty labels = unattributed).',
      labelNames: ['team_id', 'cost_center'],
      registers,
      collect: async () => {
        const g = await this.readLedgerGauges();
        if (g === null) return;
        mtd.reset();
        for (const r of g.monthToDate) mtd.set({ team_id: r.teamId ?? '', cost_center: r.costCenter ?? '' }, r.usd);
      },
    });
    const budget: Gauge<'team_id' | 'cost_center'> = new Gauge({
      name: 'genai_ledger_monthly_budget_usd',
      help: 'monthly_budget_usd of each team in the teams mapping table, read at scrape time.',
      labelNames: ['team_id', 'cost_center'],
      registers,
      collect: async () => {
        const g = await this.readLedgerGauges();
        if (g === null) return;
        budget.reset();
        for (const r of g.budgets) budget.set({ team_id: r.teamId ?? '', cost_center: r.costCenter ?? '' }, r.usd);
      },
    });
    const openExceptions: Gauge = new Gauge({
      name: 'genai_ledger_open_exceptions',
      help: 'Rows in the exceptions queue (calls whose attribution_status is not attributed) in the current UTC month, read from the ledger at scrape time.',
      registers,
      collect: async () => {
        const g = await this.readLedgerGauges();
        if (g !== null) openExceptions.set(g.openExceptions);
      },
    });
    const fileBytes: Gauge = new Gauge({
      name: 'genai_ledger_ledger_file_bytes',
      help: 'Size of the ledger file and its write-ahead log, bytes.',
      registers,
      collect: async () => {
        const g = await this.readLedgerGauges();
        if (g !== null) fileBytes.set(g.ledgerFileBytes);
      },
    });
    this.gaugeFailures = new Counter({
      name: 'genai_ledger_ledger_gauges_failures_total',
      help: 'Scrapes whose ledger gauges could not be read (failed or timed out); the last values read were served.',
      registers,
      // counted by the read this scrape shares: wait for it, so the scrape that failed reports it
      collect: async () => {
        await this.readLedgerGauges();
      },
    });

    this.received = new Counter({
      name: 'genai_ledger_spans_received_total',
      help: 'Spans received in decoded export requests, by transport.',
      labelNames: ['transport'],
      registers,
    });
    this.refused = new Counter({
      name: 'genai_ledger_spans_refused_total',
      help: 'Spans (or requests, when refused before decoding) refused, by transport and reason.',
      labelNames: ['transport', 'reason'],
      registers,
    });
    for (const transport of ['http', 'grpc'] as const) {
      this.received.inc({ transport }, 0);
      for (const reason of REFUSAL_REASONS) this.refused.inc({ transport, reason }, 0);
    }
    this.commitSeconds = new Histogram({
      name: 'genai_ledger_commit_duration_seconds',
      help: 'Duration of successful ledger commits (one DuckDB transaction), seconds.',
      buckets: COMMIT_SECONDS_BUCKETS,
      registers,
    });
    this.rowsPerCommit = new Histogram({
      name: 'genai_ledger_rows_per_commit',
      help: 'Ledger rows written per successful commit.',
      buckets: ROWS_PER_COMMIT_BUCKETS,
      registers,
    });
    this.commitFailures = new Counter({
      name: 'genai_ledger_commit_failures_total',
      help: 'Ledger commits that failed (their requests were answered 503 / UNAVAILABLE).',
      registers,
    });
    const inFlight: Gauge = new Gauge({
      name: 'genai_ledger_in_flight_bytes',
      help: 'Request bytes held right now across all export requests (bounded by pipeline.maxInFlightBytes).',
      registers,
      collect: () => {
        const read = this.sources.inFlightBytes;
        inFlight.set(read === undefined ? 0 : read());
      },
    });
    const queueBytes: Gauge<'destination'> = new Gauge({
      name: 'genai_ledger_forward_queue_bytes',
      help: 'Bytes queued for a forwarding destination.',
      labelNames: ['destination'],
      registers,
      collect: () => {
        queueBytes.reset();
        for (const [destination, stats] of this.forwarderStats()) queueBytes.set({ destination }, stats.queuedBytes);
      },
    });
    const forwarded: Counter<'destination' | 'outcome'> = new Counter({
      name: 'genai_ledger_forward_spans_total',
      help: 'Spans handed to a forwarding destination, by outcome: sent (acknowledged), failed (attempt failed), dropped (given up).',
      labelNames: ['destination', 'outcome'],
      registers,
      collect: () => {
        forwarded.reset();
        for (const [destination, s] of this.forwarderStats()) {
          forwarded.inc({ destination, outcome: 'sent' }, s.sentSpans);
          forwarded.inc({ destination, outcome: 'failed' }, s.failedSpans);
          forwarded.inc({ destination, outcome: 'dropped' }, s.droppedSpans);
        }
      },
    });
    const webhookHealthy: Gauge<'webhook'> = new Gauge({
      name: 'genai_ledger_alert_webhook_healthy',
      help: 'Alert webhook health: 0 after a failed delivery attempt, 1 again after a success.',
      labelNames: ['webhook'],
      registers,
      collect: () => {
        webhookHealthy.reset();
        for (const w of this.webhookStats()) webhookHealthy.set({ webhook: w.webhook }, w.healthy ? 1 : 0);
      },
    });
    const webhookDeliveries: Counter<'webhook' | 'outcome'> = new Counter({
      name: 'genai_ledger_alert_deliveries_total',
      help: 'Alert webhook delivery attempts by outcome: delivered, failed (an attempt failed; retried), given_up.',
      labelNames: ['webhook', 'outcome'],
      registers,
      collect: () => {
        webhookDeliveries.reset();
        for (const w of this.webhookStats()) {
          webhookDeliveries.inc({ webhook: w.webhook, outcome: 'delivered' }, w.delivered);
          webhookDeliveries.inc({ webhook: w.webhook, outcome: 'failed' }, w.failedAttempts);
          webhookDeliveries.inc({ webhook: w.webhook, outcome: 'given_up' }, w.givenUp);
        }
      },
    });
    const configInfo: Gauge<'kind' | 'version'> = new Gauge({
      name: 'genai_ledger_config_info',
      help: 'Always 1: the version of each loaded configuration input (price data version, mapping and override file hashes).',
      labelNames: ['kind', 'version'],
      registers,
      collect: () => {
        configInfo.reset();
        for (const [kind, version] of this.configInfo) configInfo.set({ kind, version }, 1);
      },
    });
    const ready: Gauge = new Gauge({
      name: 'genai_ledger_ready',
      help: '1 when this instance is ready (the /readyz checks pass), else 0.',
      registers,
      collect: async () => {
        ready.set((await checkReadiness(this.sources.readiness)).ready ? 1 : 0);
      },
    });

    if (this.config.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** Sets (or replaces) scrape-time callbacks, e.g. once the server that owns them exists. */
  setSources(sources: Partial<LedgerMetricsSources>): void {
    this.sources = { ...this.sources, ...sources };
  }

  /** The readiness probe given to `setSources` (MetricsServer uses the same one for /readyz). */
  get readiness(): ReadinessProbe | undefined {
    return this.sources.readiness;
  }

  /** Counts rows a commit made durable: cost (exact, pico-USD), tokens by class, calls by status. */
  recordRows(rows: readonly LedgerRow[]): void {
    for (const row of rows) {
      const values = [row.teamId, row.costCenter, row.projectId, row.service, row.environment, row.provider, row.model];
      const key = values.map((v) => v ?? '').join(KEY_SEPARATOR);
      const labels = () => labelsOf(values);

      const cost = this.cost.entry(key, 1, () => ({ labels: labels(), pico: 0n }), '', () => ({ labels: OVERFLOW_LABELS, pico: 0n }));
      cost.pico += row.requestCostPicoUsd ?? 0n;

      const t = this.tokens.entry(
        key,
        TOKEN_CLASSES.length,
        () => ({ labels: labels(), tokens: [0, 0, 0, 0, 0] }),
        '',
        () => ({ labels: OVERFLOW_LABELS, tokens: [0, 0, 0, 0, 0] }),
      );
      const input = row.inputTokens ?? 0;
      const cached = row.cachedInputTokens ?? 0;
      const cacheWrite = row.cacheWriteTokens ?? 0;
      const output = row.outputTokens ?? 0;
      const reasoning = row.reasoningTokens ?? 0;
      t.tokens[0] += Math.max(0, input - cached - cacheWrite);
      t.tokens[1] += cached;
      t.tokens[2] += cacheWrite;
      t.tokens[3] += Math.max(0, output - reasoning);
      t.tokens[4] += reasoning;

      const status = row.attributionStatus;
      const call = this.calls.entry(
        `${key}${KEY_SEPARATOR}${status}`,
        1,
        () => ({ labels: { ...labels(), attribution_status: status }, calls: 0 }),
        status,
        () => ({ labels: { ...OVERFLOW_LABELS, attribution_status: status }, calls: 0 }),
      );
      call.calls++;
    }
  }

  /** Spans decoded from an export request on `transport`. */
  spansReceived(transport: Transport, spans: number): void {
    if (spans > 0) this.received.inc({ transport }, spans);
  }

  /**
   * Spans refused on `transport` (pass 1 for a request refused before it was decoded). `overloaded`
   * refusals also feed `refusedLoadWithin`, for readiness.
   */
  spansRefused(transport: Transport, reason: RefusalReason, spans: number): void {
    if (reason === 'overloaded') this.lastOverloadedAt = Date.now();
    if (spans > 0) this.refused.inc({ transport, reason }, spans);
  }

  /** True when an `overloaded` refusal happened within the last `ms` milliseconds. */
  refusedLoadWithin(ms: number): boolean {
    return Date.now() - this.lastOverloadedAt <= ms;
  }

  /** A ledger commit succeeded: its duration and the rows it wrote. */
  commitSucceeded(durationSeconds: number, rows: number): void {
    this.commitSeconds.observe(durationSeconds);
    this.rowsPerCommit.observe(rows);
  }

  /** A ledger commit failed. */
  commitFailed(): void {
    this.commitFailures.inc();
  }

  /**
   * Mirrors a forwarding destination's cumulative counters (read at scrape time). Returns a function
   * that stops exposing it.
   */
  addForwarder(destination: string, stats: () => ForwarderStats): () => void {
    this.forwarders.set(destination, stats);
    return () => {
      if (this.forwarders.get(destination) === stats) this.forwarders.delete(destination);
    };
  }

  /** Where the alert webhooks' delivery counts are read at scrape time. */
  setWebhookStats(stats: () => readonly WebhookDeliveryStats[]): void {
    this.webhookStats = stats;
  }

  /**
   * Records the version of a loaded configuration input, e.g. `('prices', dataVersion)`,
   * `('price_overrides', sha256)`, `('teams', sha256)`, `('services', sha256)`; a later call for the same
   * kind replaces it (reloads).
   */
  setConfigInfo(kind: string, version: string): void {
    this.configInfo.set(kind, version);
  }

  /** The exposition text, as /metrics serves it. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private *forwarderStats(): IterableIterator<[string, ForwarderStats]> {
    for (const [destination, read] of this.forwarders) {
      let stats: ForwarderStats;
      try {
        stats = read();
      } catch {
        continue; // one broken callback must not break the scrape
      }
      yield [destination, stats];
    }
  }

  /**
   * One ledger read per scrape, shared by the four gauges that need it (the registry collects them in the
   * same tick). A failed or slow read serves the last values read and is counted.
   */
  private readLedgerGauges(): Promise<GaugeSnapshot | null> {
    const source = this.sources.ledgerGauges;
    if (source === undefined) return Promise.resolve(null);
    if (this.gaugeRead !== null) return this.gaugeRead;
    const read = this.fetchLedgerGauges(source);
    this.gaugeRead = read;
    void read.finally(() => {
      if (this.gaugeRead === read) this.gaugeRead = null;
    });
    return read;
  }

  private async fetchLedgerGauges(source: () => Promise<LedgerGauges>): Promise<GaugeSnapshot | null> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeoutMs = this.config.ledgerGaugesTimeoutMs;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`ledger gauges took more than ${timeoutMs} ms`)), timeoutMs);
      });
      const g = await Promise.race([Promise.resolve().then(source), timeout]);
      // converted whole before anything is folded or counted: one bad value refuses the read
      const monthToDate = g.monthToDate.map((r) => ({ teamId: r.teamId, costCenter: r.costCenter, usd: usdToNumber(r.costUsd) }));
      const budgets = g.budgets.map((r) => ({ teamId: r.teamId, costCenter: r.costCenter, usd: usdToNumber(r.budgetUsd) }));
      const snapshot: GaugeSnapshot = {
        monthToDate: foldOverflow(monthToDate, this.limit('genai_ledger_month_to_date_cost_usd'), this.overflowed('genai_ledger_month_to_date_cost_usd')),
        budgets: foldOverflow(budgets, this.limit('genai_ledger_monthly_budget_usd'), this.overflowed('genai_ledger_monthly_budget_usd')),
        openExceptions: g.openExceptions,
        ledgerFileBytes: g.ledgerFileBytes,
      };
      this.lastGauges = snapshot;
      return snapshot;
    } catch {
      this.gaugeFailures.inc();
      return this.lastGauges;
    } finally {
      clearTimeout(timer);
    }
  }

  private limit(metric: LimitedMetric): number {
    return this.config.maxSeries[metric] ?? this.config.maxSeriesPerMetric;
  }

  private overflowed(metric: LimitedMetric): () => void {
    return () => this.overflowTotal.inc({ metric });
  }
}

function labelsOf(values: readonly (string | null)[]): Record<LedgerLabel, string> {
  const labels = {} as Record<LedgerLabel, string>;
  LEDGER_LABELS.forEach((name, i) => {
    labels[name] = values[i] ?? '';
  });
  return labels;
}

/**
 * Keeps the `limit` largest rows and sums the rest into one `__overflow__` row (counted once per row
 * folded, per scrape), so the total of the gauge stays right.
 */
function foldOverflow(rows: readonly GaugeRow[], limit: number, onFolded: () => void): GaugeRow[] {
  if (rows.length <= limit) return [...rows];
  const sorted = [...rows].sort((a, b) => b.usd - a.usd);
  const kept = sorted.slice(0, limit);
  let folded = 0;
  for (const r of sorted.slice(limit)) {
    folded += r.usd;
    onFolded();
  }
  kept.push({ teamId: OVERFLOW_LABEL_VALUE, costCenter: OVERFLOW_LABEL_VALUE, usd: folded });
  return kept;
}
