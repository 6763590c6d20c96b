import type { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { findAnomalies, type AnomalyFinding } from '../reports/anomalies-report.js';
import { budgetStatus, type BudgetLine } from '../reports/budget-status.js';
import { prepareReportConnection, queryRows } from '../reports/ledger-reader.js';
import { DAY_MS, dayStart, rangePeriod } from '../reports/report-period.js';
import { anomalyPayload, budgetPayload, webhookBody, type AlertPayload } from './alert-payload.js';
import {
  dueDeliveries,
  ensureAlertTables,
  existingAlertIds,
  insertAlerts,
  nextDueAt,
  recordAttempt,
  type DueDelivery,
} from './alert-store.js';
import { AlertsConfig, resolveWebhooks, type AlertsConfigInput, type ResolvedWebhook } from './alerts-config.js';
import { createBudgetsHandler, type BudgetsHandler } from './budgets-handler.js';

/** Where the evaluator gets its own connection: the exporter's instance, or a function that opens one. */
export type LedgerConnectionSource = DuckDBInstance | (() => Promise<DuckDBConnection>);

export type AlertLogLevel = 'info' | 'warn' | 'error';

export interface AlertsServiceOptions {
  /** Where log lines go (the CLI prints them; components never print). */
  log?: (level: AlertLogLevel, message: string) => void;
  /** The clock (tests). */
  now?: () => number;
  /** Environment for `urlEnv` (tests). */
  env?: NodeJS.ProcessEnv;
  /** Evaluate on start and every interval (default true); false: only {@link AlertsService.evaluateNow} evaluates (tests). */
  autoEvaluate?: boolean;
}

export interface WebhookStats {
  id: string;
  format: 'slack' | 'generic';
  /** false after a failed attempt, until the next success. */
  healthy: boolean;
  delivered: number;
  failedAttempts: number;
  /** Deliveries given up after the configured attempts. */
  givenUp: number;
  consecutiveFailures: number;
  lastError: string | null;
  lastSuccessAt: string | null;
  lastFailureAt: string | null;
}

/** For /metrics: evaluation and delivery health. */
export interface AlertsStats {
  evaluations: number;
  evaluationErrors: number;
  lastEvaluationAt: string | null;
  lastEvaluationError: string | null;
  /** Alerts created by this process (an alert found in the ledger from before a restart is not created again). */
  alertsCreated: number;
  /** Deliveries waiting for a first attempt or a retry, as of the last delivery pass. */
  pendingDeliveries: number;
  webhooks: WebhookStats[];
}

export interface EvaluationResult {
  /** Alert ids created by this evaluation (already existing ones are not). */
  created: string[];
  budgetLines: number;
  anomalies: number;
}

/** Complete days before today checked for anomalies on each evaluation (a day missed while the server was down too). */
const ANOMALY_LOOKBACK_DAYS = 2;

/**
 * Alerts while serving (docs/reports.md): every `evaluateIntervalSeconds` the budget status of each team and cost
 * center with a budget is computed on a connection of its own to the ledger; a threshold crossed, a month-end
 * forecast over budget and (optionally) anomaly findings of the last complete days become alerts in
 * `genai_alerts` — once each, whatever restarts happen, because an alert is keyed by what it is about — and are
 * POSTed to every webhook, retried with exponential backoff until delivered or given up. Nothing here is on the
 * ingest path: DuckDB work runs on this component's connection and webhooks are plain async requests.
 *
 * Delivery is at least once: a crash between a webhook's 2xx and the ledger recording it sends that alert again
 * on restart; a restart never re-sends a delivered alert.
 */
export class AlertsService {
  readonly config: AlertsConfig;
  private readonly log: (level: AlertLogLevel, message: string) => void;
  private readonly now: () => number;
  private readonly env: NodeJS.ProcessEnv;
  private readonly autoEvaluate: boolean;
  private connection: DuckDBConnection | null = null;
  private webhooks: ResolvedWebhook[] = [];
  private readonly webhookStats = new Map<string, WebhookStats>();
  private chain: Promise<unknown> = Promise.resolve();
  private evaluateTimer: NodeJS.Timeout | null = null;
  private deliverTimer: NodeJS.Timeout | null = null;
  private evaluating: Promise<unknown> | null = null;
  private delivering: Promise<void> | null = null;
  private deliverAgain = false;
  private readonly aborter = new AbortController();
  private starting: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  private stopped = false;
  private statsValue: AlertsStats = {
    evaluations: 0,
    evaluationErrors: 0,
    lastEvaluationAt: null,
    lastEvaluationError: null,
    alertsCreated: 0,
    pendingDeliveries: 0,
    webhooks: [],
  };
  /** `GET /v1/budgets` and `GET /v1/budgets/{team_id}` on this component's connection. */
  readonly budgetsHandler: BudgetsHandler;

  constructor(
    config: AlertsConfigInput | AlertsConfig,
    private readonly source: LedgerConnectionSource,
    options: AlertsServiceOptions = {},
  ) {
    this.config = AlertsConfig.parse(config);
    this.log = options.log ?? (() => undefined);
    this.now = options.now ?? Date.now;
    this.env = options.env ?? process.env;
    this.autoEvaluate = options.autoEvaluate ?? true;
    this.budgetsHandler = createBudgetsHandler((fn) => this.withConnection(fn), this.now);
  }

  /**
   * Resolves the webhook URLs (a missing urlFile / urlEnv refuses to start), opens the connection, creates the
   * alert tables when missing, then evaluates at once and every interval, and resumes deliveries left pending by
   * a previous run.
   */
  start(): Promise<void> {
    this.starting ??= this.open();
    return this.starting;
  }

  private async open(): Promise<void> {
    this.webhooks = await resolveWebhooks(this.config.webhooks, this.env);
    for (const w of this.webhooks) {
      this.webhookStats.set(w.id, {
        id: w.id,
        format: w.format,
        healthy: true,
        delivered: 0,
        failedAttempts: 0,
        givenUp: 0,
        consecutiveFailures: 0,
        lastError: null,
        lastSuccessAt: null,
        lastFailureAt: null,
      });
    }
    const connection = typeof this.source === 'function' ? await this.source() : await this.source.connect();
    this.connection = connection;
    await this.withConnection(async (c) => {
      await ensureAlertTables(c);
      await prepareReportConnection(c);
    });
    if (this.stopped) return;
    if (this.autoEvaluate) this.scheduleEvaluation(0);
    this.kickDeliveries();
  }

  /** Stops the timers, lets an evaluation or webhook request in flight finish (a request is aborted), closes the connection. Safe twice and without start. */
  shutdown(): Promise<void> {
    this.stopping ??= this.close();
    return this.stopping;
  }

  private async close(): Promise<void> {
    this.stopped = true;
    if (this.evaluateTimer !== null) clearTimeout(this.evaluateTimer);
    if (this.deliverTimer !== null) clearTimeout(this.deliverTimer);
    this.aborter.abort();
    await this.starting?.catch(() => undefined);
    await this.evaluating?.catch(() => undefined);
    await this.delivering?.catch(() => undefined);
    await this.chain.catch(() => undefined);
    this.connection?.closeSync();
    this.connection = null;
  }

  /** A copy of the current stats. */
  get stats(): AlertsStats {
    return { ...this.statsValue, webhooks: [...this.webhookStats.values()].map((w) => ({ ...w })) };
  }

  /** Runs `fn` on the connection, after anything already using it (one query at a time per connection). */
  private withConnection<T>(fn: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const run = this.chain.then(() => {
      const c = this.connection;
      if (c === null) throw new Error('alerts: the ledger connection is not open');
      return fn(c);
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  // ---- evaluation ------------------------------------------------------------------------------

  private scheduleEvaluation(delayMs: number): void {
    if (this.stopped) return;
    this.evaluateTimer = setTimeout(() => {
      this.evaluateTimer = null;
      void this.evaluateNow()
        .catch(() => undefined)
        .finally(() => this.scheduleEvaluation(this.config.evaluateIntervalSeconds * 1000));
    }, delayMs);
    this.evaluateTimer.unref();
  }

  /** Evaluates budgets (and anomalies) now; new alerts are recorded and their delivery started. */
  evaluateNow(): Promise<EvaluationResult> {
    const run = (this.evaluating ?? Promise.resolve()).catch(() => undefined).then(() => this.evaluate());
    this.evaluating = run;
    return run;
  }

  private async evaluate(): Promise<EvaluationResult> {
    const nowMs = this.now();
    try {
      const { alerts, budgetLines, anomalies } = await this.withConnection(async (c) => {
        const lines = await budgetStatus(c, { asOfMs: nowMs });
        const candidates: AlertPayload[] = this.budgetAlerts(lines, new Date(nowMs));
        let findings: AnomalyFinding[] = [];
        if (this.config.anomalies) {
          const today = dayStart(nowMs);
          findings = await findAnomalies(c, { period: rangePeriod(today - ANOMALY_LOOKBACK_DAYS * DAY_MS, today) });
          candidates.push(...(await this.anomalyAlerts(c, findings, new Date(nowMs))));
        }
        const existing = await existingAlertIds(c, candidates.map((a) => a.alert_id));
        const fresh = candidates.filter((a) => !existing.has(a.alert_id));
        await insertAlerts(c, fresh.map((payload) => ({ payload })), this.webhooks.map((w) => w.id), nowMs);
        return { alerts: fresh, budgetLines: lines.length, anomalies: findings.length };
      });
      this.statsValue.evaluations++;
      this.statsValue.lastEvaluationAt = new Date(nowMs).toISOString();
      this.statsValue.lastEvaluationError = null;
      this.statsValue.alertsCreated += alerts.length;
      for (const a of alerts) this.log('info', `alerts: ${a.alert_id}: ${a.message}`);
      if (alerts.length > 0) this.kickDeliveries();
      return { created: alerts.map((a) => a.alert_id), budgetLines, anomalies };
    } catch (err) {
      this.statsValue.evaluations++;
      this.statsValue.evaluationErrors++;
      this.statsValue.lastEvaluationError = (err as Error).message;
      if (!this.stopped) this.log('error', `alerts: evaluation failed: ${(err as Error).message}`);
      throw err;
    }
  }

  private budgetAlerts(lines: readonly BudgetLine[], at: Date): AlertPayload[] {
    const out: AlertPayload[] = [];
    const thresholds = [...new Set(this.config.budgetThresholdsPercent)].sort((a, b) => a - b);
    for (const line of lines) {
      const budget = line.budgetPicoUsd;
      if (budget === null || budget <= 0n) continue;
      const key = line.scope === 'team' ? line.teamId : line.costCenter;
      if (key === null) continue;
      for (const t of thresholds) {
        // Exact: month to date × 10,000 ≥ threshold in basis points × budget.
        const basisPoints = BigInt(Math.round(t * 100));
        if (line.monthToDatePicoUsd * 10_000n >= basisPoints * budget) {
          const id = `budget_threshold/${line.scope}/${key}/${line.month}/${t}`;
          out.push(budgetPayload('budget_threshold', id, line, t, at));
        }
      }
      if (this.config.forecast && line.forecastPicoUsd !== null && line.forecastPicoUsd > budget && line.monthToDatePicoUsd < budget) {
        out.push(budgetPayload('budget_forecast', `budget_forecast/${line.scope}/${key}/${line.month}`, line, null, at));
      }
    }
    return out;
  }

  private async anomalyAlerts(connection: DuckDBConnection, findings: readonly AnomalyFinding[], at: Date): Promise<AlertPayload[]> {
    if (findings.length === 0) return [];
    // Owners of teams (and of services, through the services table) as the current mapping tables say.
    const teams = new Map(
      (await queryRows(connection, `SELECT team_id, cost_center, "owner" FROM genai_teams WHERE valid_to IS NULL`)).map((r) => [
        String(r['team_id']),
        { costCenter: r['cost_center'] === null ? null : String(r['cost_center']), owner: r['owner'] === null ? null : String(r['owner']) },
      ]),
    );
    const services = new Map<string, string>();
    const hasServices = await queryRows(connection, `SELECT count(*) AS n FROM duckdb_tables() WHERE table_name = 'genai_services'`);
    if (Number(hasServices[0]?.['n'] ?? 0) > 0) {
      for (const r of await queryRows(connection, `SELECT service, team_id FROM genai_services WHERE valid_to IS NULL`)) {
        services.set(String(r['service']), String(r['team_id']));
      }
    }
    return findings.map((f) => {
      const teamId = f.dimension === 'team_id' ? f.entity : f.dimension === 'service' ? (services.get(f.entity) ?? null) : null;
      const team = teamId === null ? undefined : teams.get(teamId);
      const kind = f.finding === 'new_model' ? 'new_model' : f.metric;
      const id = `anomaly/${f.day}/${f.dimension}/${f.entity}/${kind}`;
      return anomalyPayload(id, f, { teamId, costCenter: team?.costCenter ?? null, owner: team?.owner ?? null }, at);
    });
  }

  // ---- delivery --------------------------------------------------------------------------------

  /** Starts a delivery pass now (or right after the one running). */
  private kickDeliveries(): void {
    if (this.stopped || this.webhooks.length === 0) return;
    if (this.delivering !== null) {
      this.deliverAgain = true;
      return;
    }
    if (this.deliverTimer !== null) {
      clearTimeout(this.deliverTimer);
      this.deliverTimer = null;
    }
    this.delivering = this.deliverDue()
      .catch((err: unknown) => {
        if (!this.stopped) this.log('error', `alerts: delivery pass failed: ${(err as Error).message}`);
      })
      .finally(() => {
        this.delivering = null;
        if (this.deliverAgain) {
          this.deliverAgain = false;
          this.kickDeliveries();
        } else {
          void this.scheduleNextDelivery();
        }
      });
  }

  private async scheduleNextDelivery(): Promise<void> {
    if (this.stopped) return;
    const ids = this.webhooks.map((w) => w.id);
    let due: number | null;
    try {
      due = await this.withConnection((c) => nextDueAt(c, ids));
    } catch {
      due = this.now() + 5000; // the ledger was busy or failing: look again soon
    }
    if (due === null || this.stopped || this.delivering !== null) return;
    if (this.deliverTimer !== null) clearTimeout(this.deliverTimer);
    this.deliverTimer = setTimeout(() => {
      this.deliverTimer = null;
      this.kickDeliveries();
    }, Math.max(0, due - this.now()));
    this.deliverTimer.unref();
  }

  /** Sends every due delivery: webhooks side by side, each webhook's alerts in order. */
  private async deliverDue(): Promise<void> {
    const ids = this.webhooks.map((w) => w.id);
    for (;;) {
      if (this.stopped) return;
      const due = await this.withConnection((c) => dueDeliveries(c, ids, this.now()));
      this.statsValue.pendingDeliveries = due.length;
      if (due.length === 0) return;
      await Promise.all(
        this.webhooks.map(async (w) => {
          for (const d of due.filter((x) => x.webhook === w.id)) {
            if (this.stopped) return;
            await this.attempt(w, d);
          }
        }),
      );
    }
  }

  private async attempt(webhook: ResolvedWebhook, d: DueDelivery): Promise<void> {
    const stats = this.webhookStats.get(webhook.id)!;
    const error = await this.post(webhook, d.payload);
    if (this.stopped && error !== null) return; // aborted by shutdown: left pending, retried after a restart
    const nowMs = this.now();
    const { maxAttempts, initialBackoffSeconds, maxBackoffSeconds } = this.config.delivery;
    const attempts = d.attempts + 1;
    if (error === null) {
      await this.withConnection((c) => recordAttempt(c, d, { ok: true }, nowMs));
      stats.delivered++;
      stats.lastSuccessAt = new Date(nowMs).toISOString();
      if (!stats.healthy) this.log('info', `alerts: webhook ${webhook.id} delivers again (after ${stats.consecutiveFailures} failed attempt(s))`);
      stats.healthy = true;
      stats.consecutiveFailures = 0;
      return;
    }
    const backoffMs = Math.min(maxBackoffSeconds, initialBackoffSeconds * 2 ** (attempts - 1)) * 1000;
    const retryAtMs = attempts >= maxAttempts ? null : nowMs + backoffMs;
    await this.withConnection((c) => recordAttempt(c, d, { ok: false, error, retryAtMs }, nowMs));
    stats.failedAttempts++;
    stats.consecutiveFailures++;
    stats.lastError = error;
    stats.lastFailureAt = new Date(nowMs).toISOString();
    if (stats.healthy) this.log('warn', `alerts: webhook ${webhook.id} is failing: ${error}; retrying with backoff`);
    stats.healthy = false;
    if (retryAtMs === null) {
      stats.givenUp++;
      this.log('error', `alerts: gave up delivering ${d.alertId} to webhook ${webhook.id} after ${attempts} attempt(s): ${error}`);
    }
  }

  /** POSTs one alert; null on a 2xx answer, else what went wrong. */
  private async post(webhook: ResolvedWebhook, payload: AlertPayload): Promise<string | null> {
    const signal = AbortSignal.any([this.aborter.signal, AbortSignal.timeout(this.config.delivery.timeoutSeconds * 1000)]);
    try {
      const res = await fetch(webhook.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'genai-ledger-alerts', ...webhook.headers },
        body: webhookBody(payload, webhook.format),
        signal,
      });
      // Drain the body so the connection can be reused.
      await res.arrayBuffer().catch(() => undefined);
      return res.ok ? null : `HTTP ${res.status}`;
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      return e.name === 'TimeoutError' ? 'timed out' : (e.cause?.code ?? e.cause?.message ?? e.message);
    }
  }
}
