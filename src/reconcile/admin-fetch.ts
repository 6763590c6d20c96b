import { field, parseExactJson, text } from './exact-json.js';

/**
 * `genai-ledger reconcile fetch`: pulls a date range of costs and usage from the providers' admin APIs, page
 * by page, exactly as served (the pages are kept as text, so amounts are never re-serialized through a
 * float), ready for the same import as a file.
 *
 * - OpenAI (`OPENAI_ADMIN_KEY`, `Authorization: Bearer`): `GET /v1/organization/costs` grouped by project and
 *   line item, and `GET /v1/organization/usage/completions` grouped by project, model, service tier and batch;
 *   unix-second `start_time`/`end_time`, daily buckets.
 * - Anthropic (`ANTHROPIC_ADMIN_KEY`, `x-api-key` + `anthropic-version`): `GET /v1/organizations/cost_report`
 *   grouped by workspace and description, and `GET /v1/organizations/usage_report/messages` grouped by model,
 *   workspace, service tier and context window; RFC 3339 `starting_at`/`ending_at`, daily buckets.
 * Pagination follows `has_more` / `next_page` (sent back as `page`). 429 and 5xx answers and network errors
 * are retried with exponential backoff (1 s, 2 s, 4 s … up to 60 s, with jitter), waiting what `Retry-After`
 * asks when it is given; other errors stop the fetch with the API's message.
 */

export type AdminProvider = 'openai' | 'anthropic';

export interface AdminFetchOptions {
  provider: AdminProvider;
  apiKey: string;
  /** Inclusive start, `YYYY-MM-DD` (UTC). */
  fromDay: string;
  /** Exclusive end, `YYYY-MM-DD` (UTC). */
  toDay: string;
  /** Default https://api.openai.com or https://api.anthropic.com (a trailing `/v1` is accepted). */
  baseUrl?: string;
  /** Attempts per page before giving up (default 8). */
  maxAttempts?: number;
  /** First backoff delay, ms (default 1000). */
  backoffMs?: number;
  /** Told about each page and each retry. */
  onEvent?: (event: AdminFetchEvent) => void;
  /** For tests: a sleep that does not wait. */
  sleep?: (ms: number) => Promise<void>;
}

export type AdminFetchEvent =
  | { kind: 'page'; report: string; page: number; buckets: number }
  | { kind: 'retry'; report: string; status: number | null; waitMs: number; attempt: number };

export interface FetchedReport {
  /** `openai.costs`, `openai.usage.completions`, `anthropic.cost_report`, `anthropic.usage_report.messages`. */
  report: string;
  /** The request of the first page, without credentials (recorded as the import's source). */
  url: string;
  /** A JSON array of the pages, each exactly as served. */
  text: string;
  pages: number;
}

export class AdminApiError extends Error {
  override name = 'AdminApiError';
  constructor(
    message: string,
    readonly status: number | null,
  ) {
    super(message);
  }
}

interface ReportSpec {
  report: string;
  path: string;
  params: [string, string][];
}

const DAY_SECONDS = 86_400;
const unixOf = (day: string) => Date.parse(`${day}T00:00:00Z`) / 1000;

function specs(provider: AdminProvider, fromDay: string, toDay: string): ReportSpec[] {
  const days = Math.max(1, Math.round((unixOf(toDay) - unixOf(fromDay)) / DAY_SECONDS));
  const limit = String(Math.min(31, days));
  if (provider === 'openai') {
    const range: [string, string][] = [
      ['start_time', String(unixOf(fromDay))],
      ['end_time', String(unixOf(toDay))],
      ['bucket_width', '1d'],
      ['limit', limit],
    ];
    return [
      { report: 'openai.costs', path: '/v1/organization/costs', params: [...range, ['group_by', 'project_id'], ['group_by', 'line_item']] },
      {
        report: 'openai.usage.completions',
        path: '/v1/organization/usage/completions',
        params: [...range, ['group_by', 'project_id'], ['group_by', 'model'], ['group_by', 'service_tier'], ['group_by', 'batch']],
      },
    ];
  }
  const range: [string, string][] = [
    ['starting_at', `${fromDay}T00:00:00Z`],
    ['ending_at', `${toDay}T00:00:00Z`],
    ['bucket_width', '1d'],
    ['limit', limit],
  ];
  return [
    { report: 'anthropic.cost_report', path: '/v1/organizations/cost_report', params: [...range, ['group_by[]', 'workspace_id'], ['group_by[]', 'description']] },
    {
      report: 'anthropic.usage_report.messages',
      path: '/v1/organizations/usage_report/messages',
      params: [...range, ['group_by[]', 'model'], ['group_by[]', 'workspace_id'], ['group_by[]', 'service_tier'], ['group_by[]', 'context_window']],
    },
  ];
}

export const DEFAULT_BASE_URLS: Record<AdminProvider, string> = {
  openai: 'https://api.openai.com',
  anthropic: 'https://api.anthropic.com',
};

export async function fetchAdminReports(options: AdminFetchOptions): Promise<FetchedReport[]> {
  const base = (options.baseUrl ?? DEFAULT_BASE_URLS[options.provider]).replace(/\/+$/, '').replace(/\/v1$/, '');
  const headers: Record<string, string> =
    options.provider === 'openai'
      ? { authorization: `Bearer ${options.apiKey}`, accept: 'application/json' }
      : { 'x-api-key': options.apiKey, 'anthropic-version': '2023-06-01', accept: 'application/json' };
  const out: FetchedReport[] = [];
  for (const spec of specs(options.provider, options.fromDay, options.toDay)) {
    const pages: string[] = [];
    let page: string | null = null;
    let firstUrl = '';
    for (;;) {
      const url = new URL(base + spec.path);
      for (const [k, v] of spec.params) url.searchParams.append(k, v);
      if (page !== null) url.searchParams.set('page', page);
      if (firstUrl === '') firstUrl = url.toString();
      const body = await getWithRetry(url, headers, spec.report, options);
      let doc;
      try {
        doc = parseExactJson(body);
      } catch (err) {
        throw new AdminApiError(`${spec.report}: the API answered with something that is not JSON: ${(err as Error).message}`, 200);
      }
      const data = field(doc, 'data');
      if (!Array.isArray(data)) throw new AdminApiError(`${spec.report}: the API page has no "data" array`, 200);
      pages.push(body.trim());
      options.onEvent?.({ kind: 'page', report: spec.report, page: pages.length, buckets: data.length });
      const hasMore = field(doc, 'has_more') === true;
      const next = text(field(doc, 'next_page'));
      if (!hasMore || next === null || next === '') break;
      if (next === page) throw new AdminApiError(`${spec.report}: the API returned the same next_page twice (${next}); stopping`, 200);
      page = next;
    }
    out.push({ report: spec.report, url: firstUrl, text: `[\n${pages.join(',\n')}\n]\n`, pages: pages.length });
  }
  return out;
}

const MAX_WAIT_MS = 60_000;

async function getWithRetry(url: URL, headers: Record<string, string>, report: string, options: AdminFetchOptions): Promise<string> {
  const maxAttempts = options.maxAttempts ?? 8;
  const backoff = options.backoffMs ?? 1000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let attempt = 1; ; attempt++) {
    let status: number | null = null;
    let retryAfter: string | null = null;
    let failure: string;
    try {
      const response = await fetch(url, { headers, signal: AbortSignal.timeout(120_000) });
      const body = await response.text();
      if (response.ok) return body;
      status = response.status;
      retryAfter = response.headers.get('retry-after');
      failure = `${report}: HTTP ${response.status}: ${apiMessage(body)}`;
      if (status !== 429 && status < 500) throw new AdminApiError(failure, status);
    } catch (err) {
      if (err instanceof AdminApiError) throw err;
      failure = `${report}: ${(err as Error).message}`;
    }
    if (attempt >= maxAttempts) throw new AdminApiError(`${failure} (gave up after ${attempt} attempts)`, status);
    const asked = retryAfterMs(retryAfter);
    const exp = Math.min(MAX_WAIT_MS, backoff * 2 ** (attempt - 1));
    const waitMs = asked ?? Math.round(exp / 2 + Math.random() * (exp / 2));
    options.onEvent?.({ kind: 'retry', report, status, waitMs, attempt });
    await sleep(Math.min(waitMs, 10 * MAX_WAIT_MS));
  }
}

/** `Retry-After` as seconds or an HTTP date → ms to wait; null when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | null {
  if (value === null) return null;
  const t = value.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  const at = Date.parse(t);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** The error message of an admin API error body (`{"error": {"message": …}}`), or the body's start. */
function apiMessage(body: string): string {
  try {
    const doc = JSON.parse(body) as { error?: { message?: unknown } | string };
    const e = doc.error;
    if (typeof e === 'string') return e;
    if (e && typeof e.message === 'string') return e.message;
  } catch {
    // not JSON
  }
  return body.slice(0, 300);
}
