import { request as httpRequest, Agent } from 'node:http';

/**
 * An OTLP/HTTP client that retries like the OpenTelemetry exporters do: 429, 502, 503 and 504 and
 * connection errors are retried with exponential backoff and jitter, and a `Retry-After` header (seconds)
 * replaces the computed delay. Any other status is final. Unlike the SDK exporters (5 attempts), it can be
 * told to keep trying for longer, so a test can drive every batch to an answer across server restarts.
 */
export interface RetryPolicy {
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  multiplier: number;
  /** Upper bound on an honoured Retry-After, so a test cannot be stalled by a long one. */
  maxRetryAfterMs: number;
}

/** The OTel JS exporter defaults (otlp-exporter-base retrying-transport), with a longer attempt budget. */
export const OTEL_LIKE_POLICY: RetryPolicy = {
  maxAttempts: 5,
  initialBackoffMs: 1000,
  maxBackoffMs: 5000,
  multiplier: 1.5,
  maxRetryAfterMs: 60_000,
};

export type SendOutcome =
  | { acknowledged: true; status: number; attempts: number; body: Buffer }
  | { acknowledged: false; status: number | 'connection-error'; attempts: number; body: Buffer | null };

export interface ClientCounters {
  attempts: number;
  retries: number;
  statuses: Map<number | 'connection-error', number>;
  retryAfterSeen: number;
}

const RETRYABLE = new Set([429, 502, 503, 504]);

export class RetryingOtlpClient {
  readonly counters: ClientCounters = { attempts: 0, retries: 0, statuses: new Map(), retryAfterSeen: 0 };
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });

  constructor(
    /** Returns the current base URL, e.g. `http://127.0.0.1:4318` (may change between attempts). */
    private readonly baseUrl: () => string,
    private readonly policy: RetryPolicy = OTEL_LIKE_POLICY,
    private readonly headers: Record<string, string> = {},
  ) {}

  async send(body: Uint8Array, contentType = 'application/x-protobuf'): Promise<SendOutcome> {
    let backoff = this.policy.initialBackoffMs;
    let last: { status: number | 'connection-error'; body: Buffer | null } = { status: 'connection-error', body: null };
    for (let attempt = 1; attempt <= this.policy.maxAttempts; attempt++) {
      this.counters.attempts++;
      if (attempt > 1) this.counters.retries++;
      let retryAfterMs: number | null = null;
      try {
        const res = await this.post(body, contentType);
        last = { status: res.status, body: res.body };
        this.bump(res.status);
        if (res.status >= 200 && res.status < 300) {
          return { acknowledged: true, status: res.status, attempts: attempt, body: res.body };
        }
        if (!RETRYABLE.has(res.status)) return { acknowledged: false, status: res.status, attempts: attempt, body: res.body };
        if (res.retryAfter !== null) {
          this.counters.retryAfterSeen++;
          retryAfterMs = Math.min(res.retryAfter * 1000, this.policy.maxRetryAfterMs);
        }
      } catch {
        last = { status: 'connection-error', body: null };
        this.bump('connection-error');
      }
      if (attempt === this.policy.maxAttempts) break;
      const jitter = 0.8 + Math.random() * 0.4;
      await sleep(retryAfterMs ?? backoff * jitter);
      backoff = Math.min(backoff * this.policy.multiplier, this.policy.maxBackoffMs);
    }
    return { acknowledged: false, status: last.status, attempts: this.policy.maxAttempts, body: last.body };
  }

  close(): void {
    this.agent.destroy();
  }

  private bump(key: number | 'connection-error'): void {
    this.counters.statuses.set(key, (this.counters.statuses.get(key) ?? 0) + 1);
  }

  private post(body: Uint8Array, contentType: string): Promise<{ status: number; retryAfter: number | null; body: Buffer }> {
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        `${this.baseUrl()}/v1/traces`,
        {
          method: 'POST',
          agent: this.agent,
          headers: { 'content-type': contentType, 'content-length': String(body.length), ...this.headers },
          timeout: 30_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const header = res.headers['retry-after'];
            const seconds = header === undefined ? NaN : Number(header);
            resolve({
              status: res.statusCode ?? 0,
              retryAfter: Number.isFinite(seconds) && seconds >= 0 ? seconds : null,
              body: Buffer.concat(chunks),
            });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end(body);
    });
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
