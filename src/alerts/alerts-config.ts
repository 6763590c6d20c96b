import { readFile } from 'node:fs/promises';
import { z } from 'zod';

/**
 * Where an alert is sent. Exactly one of `url`, `urlFile` (a file holding the URL: Slack webhook URLs are
 * secrets) or `urlEnv` (an environment variable holding it).
 */
export const WebhookConfig = z
  .object({
    /** Shown in logs and stats instead of the URL (which may be a secret). Default: `webhooks[<index>]`. */
    name: z.string().min(1).optional(),
    url: z.string().url().optional(),
    urlFile: z.string().min(1).optional(),
    urlEnv: z.string().min(1).optional(),
    /** `generic`: the alert as JSON (docs/reports.md, Alerts); `slack`: `{"text": …}` for an incoming webhook. */
    format: z.enum(['slack', 'generic']).default('generic'),
    /** Extra request headers (e.g. an Authorization header for a generic receiver). */
    headers: z.record(z.string(), z.string()).default({}),
  })
  .strict()
  .refine((w) => [w.url, w.urlFile, w.urlEnv].filter((v) => v !== undefined).length === 1, {
    message: 'give exactly one of url, urlFile, urlEnv',
  });
export type WebhookConfig = z.output<typeof WebhookConfig>;

export const AlertDeliveryConfig = z
  .object({
    /** Attempts per alert and webhook before it is given up (status `failed`). */
    maxAttempts: z.number().int().min(1).max(100).default(12),
    /** Wait before the first retry; doubles on each failure up to `maxBackoffSeconds`. */
    initialBackoffSeconds: z.number().positive().max(3600).default(2),
    maxBackoffSeconds: z.number().positive().max(86_400).default(600),
    /** Timeout of one webhook request. */
    timeoutSeconds: z.number().positive().max(300).default(10),
  })
  .strict();

/** `alerts` (docs/reports.md, Alerts while serving). */
export const AlertsConfig = z
  .object({
    /** Evaluate alerts while serving (offline `ingest` never does). */
    enabled: z.boolean().default(true),
    /** How often budgets (and anomalies) are evaluated. */
    evaluateIntervalSeconds: z.number().positive().max(86_400).default(60),
    /** Percent of a monthly budget at which an alert fires, once per team (and cost center with a budget) and month. */
    budgetThresholdsPercent: z.array(z.number().positive().max(10_000)).default([75, 90, 100]),
    /** Alert once a month when the month-end forecast exceeds the budget before the spend does. */
    forecast: z.boolean().default(true),
    /** Alert on anomaly findings of the last complete days (report anomalies). */
    anomalies: z.boolean().default(true),
    webhooks: z.array(WebhookConfig).default([]),
    delivery: AlertDeliveryConfig.default(AlertDeliveryConfig.parse({})),
  })
  .strict();
export type AlertsConfig = z.output<typeof AlertsConfig>;
export type AlertsConfigInput = z.input<typeof AlertsConfig>;

/** A webhook with its URL read (from the config, the file or the environment). */
export interface ResolvedWebhook {
  /** Stable id stored with each delivery: the name, or `webhooks[i]`. */
  id: string;
  url: string;
  format: 'slack' | 'generic';
  headers: Record<string, string>;
}

/** Reads every webhook's URL; throws naming the config key when a file or variable is missing or empty. */
export async function resolveWebhooks(webhooks: readonly WebhookConfig[], env: NodeJS.ProcessEnv = process.env): Promise<ResolvedWebhook[]> {
  const out: ResolvedWebhook[] = [];
  for (const [i, w] of webhooks.entries()) {
    const key = `alerts.webhooks[${i}]`;
    let url: string;
    if (w.url !== undefined) url = w.url;
    else if (w.urlFile !== undefined) {
      try {
        url = (await readFile(w.urlFile, 'utf8')).trim();
      } catch (err) {
        throw new Error(`${key}.urlFile: cannot read ${w.urlFile}: ${(err as Error).message}`, { cause: err });
      }
    } else {
      url = (env[w.urlEnv!] ?? '').trim();
      if (url === '') throw new Error(`${key}.urlEnv: environment variable ${w.urlEnv} is not set or empty`);
    }
    try {
      const parsed = new URL(url);
      if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new Error('not http(s)');
    } catch {
      throw new Error(`${key}: the webhook URL is not an http(s) URL`);
    }
    out.push({ id: w.name ?? `webhooks[${i}]`, url, format: w.format, headers: w.headers });
  }
  const ids = new Set(out.map((w) => w.id));
  if (ids.size !== out.length) throw new Error('alerts.webhooks: two webhooks have the same name');
  return out;
}
