/**
 * "The FinOps month" seed (docs/reports.md): April → May 2026 for the teams and services in
 * examples/finops-month/, at OpenAI list prices (@pydantic/genai-prices 0.1.8):
 *
 *   gpt-4o       $2.50 / M input, $10.00 / M output
 *     200,000 in +  50,000 out = $0.50 + $0.50 = $1.00 a call
 *     400,000 in + 100,000 out = $1.00 + $1.00 = $2.00 a call
 *   gpt-4o-mini  $0.15 / M input, $0.60 / M output
 *     200,000 in +  50,000 out = $0.03 + $0.03 = $0.06 a call
 *
 *   line                         April                      May
 *   support-ops                  1,900 × $1.00 = $1,900     2,735 × $2.00 = $5,470
 *   growth                       2,300 × $1.00 = $2,300     2,500 × $1.00 + 3,500 × $0.06 = $2,710
 *   data-platform                1,900 × $2.00 = $3,800     1,900 × $2.00 = $3,800
 *   incident-response (shared)                      $0     1,000 × $2.00 = $2,000
 *   unattributed (legacy-batch)    200 × $1.00 =   $200       620 × $1.00 =   $620
 *   total                                       $8,200                     $14,600
 *
 * (The four lines named in the brief add up to $12,600 in May; the other $2,000 is approved shared usage — a May
 * incident — which the reports keep as its own line.)
 */
export interface SeedGroup {
  /** YYYY-MM; the calls are spread evenly over the month (UTC). */
  month: string;
  /** Resource `service.name`; the team comes from examples/finops-month/services.csv (none for legacy-batch). */
  service: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  calls: number;
  /** The call's parent is a SERVER span with this `http.route` (none: the call is the trace's root). */
  route?: string;
  /** LiteLLM `metadata.user_api_key_alias` on the call. */
  apiKeyAlias?: string;
}

export const FINOPS_MONTH_SEED: readonly SeedGroup[] = [
  { month: '2026-04', service: 'support-assistant', model: 'gpt-4o', inputTokens: 200_000, outputTokens: 50_000, calls: 1_900, route: 'POST /v1/tickets/{id}/reply' },
  { month: '2026-04', service: 'growth-copilot', model: 'gpt-4o', inputTokens: 200_000, outputTokens: 50_000, calls: 2_300 },
  { month: '2026-04', service: 'warehouse-summarizer', model: 'gpt-4o', inputTokens: 400_000, outputTokens: 100_000, calls: 1_900 },
  { month: '2026-04', service: 'legacy-batch', model: 'gpt-4o', inputTokens: 200_000, outputTokens: 50_000, calls: 200, route: 'POST /batch/classify', apiKeyAlias: 'batch-classifier-key' },
  { month: '2026-05', service: 'support-assistant', model: 'gpt-4o', inputTokens: 400_000, outputTokens: 100_000, calls: 2_735, route: 'POST /v1/tickets/{id}/reply' },
  { month: '2026-05', service: 'growth-copilot', model: 'gpt-4o', inputTokens: 200_000, outputTokens: 50_000, calls: 2_500 },
  { month: '2026-05', service: 'growth-copilot', model: 'gpt-4o-mini', inputTokens: 200_000, outputTokens: 50_000, calls: 3_500 },
  { month: '2026-05', service: 'warehouse-summarizer', model: 'gpt-4o', inputTokens: 400_000, outputTokens: 100_000, calls: 1_900 },
  { month: '2026-05', service: 'incident-bot', model: 'gpt-4o', inputTokens: 400_000, outputTokens: 100_000, calls: 1_000, route: 'POST /v1/incidents/{id}/summary' },
  { month: '2026-05', service: 'legacy-batch', model: 'gpt-4o', inputTokens: 200_000, outputTokens: 50_000, calls: 620, route: 'POST /batch/classify', apiKeyAlias: 'batch-classifier-key' },
];

/** The start time (unix ms, UTC) of call `i` of `n` spread evenly over `month` (YYYY-MM). */
export function seedCallTime(month: string, i: number, n: number): number {
  const [y, m] = month.split('-').map(Number) as [number, number];
  const from = Date.UTC(y, m - 1, 1);
  const to = Date.UTC(y, m, 1);
  // Whole seconds, never the month's last second: a call never straddles the month boundary.
  return from + Math.floor(((to - from - 60_000) * i) / n / 1000) * 1000;
}
