import type { DuckDBConnection } from '@duckdb/node-api';
import { CREATE_GENAI_ALERT_DELIVERIES, CREATE_GENAI_ALERTS } from '../../exporters/duckdb/schema.js';
import { queryRows } from '../reports/ledger-reader.js';
import { textLiteral, timestampLiteral } from '../reports/report-sql.js';
import type { AlertPayload } from './alert-payload.js';

/**
 * The durable side of alerts: `genai_alerts` (one row per alert, keyed by what it is about, so it is created once
 * whatever restarts happen) and `genai_alert_deliveries` (one row per alert and webhook: its delivery state).
 *
 * Delivery states: `pending` (not tried yet), `retrying` (failed, `next_attempt_at` says when again), `delivered`,
 * `failed` (given up after the configured attempts). An alert's `delivery_status` sums its deliveries up:
 * `delivered` when all are, `failed` when one was given up, `no_webhook` when there is none, else `pending`.
 */
export type DeliveryState = 'pending' | 'retrying' | 'delivered' | 'failed';

export interface NewAlert {
  payload: AlertPayload;
}

export interface DueDelivery {
  alertId: string;
  webhook: string;
  attempts: number;
  payload: AlertPayload;
}

const lit = (v: string | null): string => (v === null ? 'NULL' : textLiteral(v));

export async function ensureAlertTables(connection: DuckDBConnection): Promise<void> {
  await connection.run(`${CREATE_GENAI_ALERTS};\n${CREATE_GENAI_ALERT_DELIVERIES}`);
}

/** Which of `ids` already exist. */
export async function existingAlertIds(connection: DuckDBConnection, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await queryRows(connection, `SELECT alert_id FROM genai_alerts WHERE alert_id IN (${ids.map(textLiteral).join(', ')})`);
  return new Set(rows.map((r) => String(r['alert_id'])));
}

async function inTransaction(connection: DuckDBConnection, statements: readonly string[]): Promise<void> {
  await connection.run('BEGIN TRANSACTION');
  try {
    for (const s of statements) await connection.run(s);
    await connection.run('COMMIT');
  } catch (err) {
    await connection.run('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** Records new alerts and a pending delivery per webhook, in one transaction. Alerts that exist are skipped. */
export async function insertAlerts(connection: DuckDBConnection, alerts: readonly NewAlert[], webhooks: readonly string[], nowMs: number): Promise<void> {
  if (alerts.length === 0) return;
  const now = timestampLiteral(nowMs);
  const statements: string[] = [];
  for (const { payload: p } of alerts) {
    const month = p.month === null ? 'NULL' : `DATE '${p.month}-01'`;
    statements.push(
      `INSERT INTO genai_alerts VALUES (${lit(p.alert_id)}, ${lit(p.kind)}, ${lit(p.team_id)}, ${lit(p.cost_center)}, ${month}, ${
        p.threshold_percent === null ? 'NULL' : Math.round(p.threshold_percent)
      }, ${now}, ${lit(JSON.stringify(p))}, ${lit(webhooks.length === 0 ? 'no_webhook' : 'pending')}) ON CONFLICT DO NOTHING`,
    );
    for (const w of webhooks) {
      statements.push(
        `INSERT INTO genai_alert_deliveries VALUES (${lit(p.alert_id)}, ${lit(w)}, 'pending', 0, ${now}, NULL, NULL, NULL) ON CONFLICT DO NOTHING`,
      );
    }
  }
  await inTransaction(connection, statements);
}

/** Deliveries to the given webhooks that are due at `nowMs`, oldest first. */
export async function dueDeliveries(connection: DuckDBConnection, webhooks: readonly string[], nowMs: number, limit = 100): Promise<DueDelivery[]> {
  if (webhooks.length === 0) return [];
  const rows = await queryRows(
    connection,
    `SELECT d.alert_id, d.webhook, d.attempts, a.payload
FROM genai_alert_deliveries d JOIN genai_alerts a USING (alert_id)
WHERE d.status IN ('pending', 'retrying') AND d.webhook IN (${webhooks.map(textLiteral).join(', ')})
  AND coalesce(d.next_attempt_at, a.created_at) <= ${timestampLiteral(nowMs)}
ORDER BY coalesce(d.next_attempt_at, a.created_at), d.alert_id
LIMIT ${limit}`,
  );
  return rows.map((r) => ({
    alertId: String(r['alert_id']),
    webhook: String(r['webhook']),
    attempts: Number(r['attempts']),
    payload: JSON.parse(String(r['payload'])) as AlertPayload,
  }));
}

/** When the next pending or retrying delivery to these webhooks is due (unix ms), or null when none is. */
export async function nextDueAt(connection: DuckDBConnection, webhooks: readonly string[]): Promise<number | null> {
  if (webhooks.length === 0) return null;
  const [row] = await queryRows(
    connection,
    `SELECT min(coalesce(d.next_attempt_at, a.created_at)) AS due
FROM genai_alert_deliveries d JOIN genai_alerts a USING (alert_id)
WHERE d.status IN ('pending', 'retrying') AND d.webhook IN (${webhooks.map(textLiteral).join(', ')})`,
  );
  const due = row?.['due'];
  return due === null || due === undefined ? null : Date.parse(String(due));
}

export type AttemptOutcome =
  | { ok: true }
  | { ok: false; error: string; retryAtMs: number | null };

/** Records one delivery attempt and brings the alert's summary status up to date. */
export async function recordAttempt(connection: DuckDBConnection, d: DueDelivery, outcome: AttemptOutcome, nowMs: number): Promise<DeliveryState> {
  const now = timestampLiteral(nowMs);
  const where = `alert_id = ${lit(d.alertId)} AND webhook = ${lit(d.webhook)}`;
  const state: DeliveryState = outcome.ok ? 'delivered' : outcome.retryAtMs === null ? 'failed' : 'retrying';
  const update = outcome.ok
    ? `UPDATE genai_alert_deliveries SET status = 'delivered', attempts = attempts + 1, last_attempt_at = ${now}, delivered_at = ${now}, next_attempt_at = NULL WHERE ${where}`
    : `UPDATE genai_alert_deliveries SET status = ${lit(state)}, attempts = attempts + 1, last_attempt_at = ${now}, last_error = ${lit(
        outcome.error.slice(0, 1000),
      )}, next_attempt_at = ${outcome.retryAtMs === null ? 'NULL' : timestampLiteral(outcome.retryAtMs)} WHERE ${where}`;
  const summary = `UPDATE genai_alerts SET delivery_status = (
  SELECT CASE WHEN count(*) = 0 THEN 'no_webhook'
              WHEN bool_and(status = 'delivered') THEN 'delivered'
              WHEN bool_or(status = 'failed') THEN 'failed'
              ELSE 'pending' END
  FROM genai_alert_deliveries WHERE alert_id = ${lit(d.alertId)})
WHERE alert_id = ${lit(d.alertId)}`;
  await inTransaction(connection, [update, summary]);
  return state;
}

/** Counts of deliveries by state (for stats after a restart). */
export async function deliveryCounts(connection: DuckDBConnection): Promise<Record<DeliveryState, number>> {
  const rows = await queryRows(connection, `SELECT status, count(*) AS n FROM genai_alert_deliveries GROUP BY status`);
  const counts: Record<DeliveryState, number> = { pending: 0, retrying: 0, delivered: 0, failed: 0 };
  for (const r of rows) if (String(r['status']) in counts) counts[String(r['status']) as DeliveryState] = Number(r['n']);
  return counts;
}
