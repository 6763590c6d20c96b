/**
 * When to try a failed request again: exponential backoff with ±50 % jitter (so that many forwarders
 * recovering together do not all knock at once), or the server's own delay (HTTP Retry-After, gRPC
 * RetryInfo) when it gave one and asked for longer.
 */
export interface BackoffConfig {
  initialIntervalMs: number;
  maxIntervalMs: number;
}

/** A server asking for more than this is taken to mean "a long time", not literally (a day, a year). */
export const MAX_SERVER_DELAY_MS = 10 * 60 * 1000;

/** Backoff before retry number `attempt + 1` (attempt 0 = after the first failure), jittered, capped. */
export function backoffDelayMs(attempt: number, config: BackoffConfig, random: () => number = Math.random): number {
  const base = Math.min(config.maxIntervalMs, config.initialIntervalMs * 2 ** Math.min(attempt, 40));
  return Math.min(config.maxIntervalMs, Math.round(base * (0.5 + random())));
}

/** The wait before the next attempt: at least what the server asked for (capped), else the backoff. */
export function retryDelayMs(
  attempt: number,
  config: BackoffConfig,
  serverDelayMs: number | null,
  random: () => number = Math.random,
): number {
  const backoff = backoffDelayMs(attempt, config, random);
  if (serverDelayMs === null) return backoff;
  return Math.max(backoff, Math.min(Math.max(0, serverDelayMs), MAX_SERVER_DELAY_MS));
}
