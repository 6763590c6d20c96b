import { status as GrpcStatus } from '@grpc/grpc-js';
import { RawGrpcClient } from './grpc-raw-client.js';
import { sleep } from './retrying-client.js';

/**
 * An OTLP/gRPC client that retries like the OpenTelemetry gRPC exporter: CANCELLED, DEADLINE_EXCEEDED,
 * RESOURCE_EXHAUSTED, ABORTED, OUT_OF_RANGE, UNAVAILABLE and DATA_LOSS are retried with exponential
 * backoff and jitter, and `retry-after` metadata (seconds) replaces the computed delay. It keeps trying until
 * an answer is final, so a test can drive every batch to an answer across server restarts.
 */
const RETRYABLE = new Set<number>([
  GrpcStatus.CANCELLED,
  GrpcStatus.DEADLINE_EXCEEDED,
  GrpcStatus.RESOURCE_EXHAUSTED,
  GrpcStatus.ABORTED,
  GrpcStatus.OUT_OF_RANGE,
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.DATA_LOSS,
]);

export interface GrpcRetryPolicy {
  initialBackoffMs: number;
  maxBackoffMs: number;
  maxRetryAfterMs: number;
  maxAttempts?: number;
}

export class RetryingGrpcClient {
  retries = 0;
  private readonly client: RawGrpcClient;

  constructor(address: string, private readonly policy: GrpcRetryPolicy) {
    this.client = new RawGrpcClient(address, {
      channelOptions: { 'grpc.initial_reconnect_backoff_ms': 20, 'grpc.max_reconnect_backoff_ms': 300, 'grpc.min_reconnect_backoff_ms': 20 },
    });
  }

  async send(body: Uint8Array): Promise<{ acknowledged: boolean; status: string }> {
    let backoff = this.policy.initialBackoffMs;
    const maxAttempts = this.policy.maxAttempts ?? 10_000;
    let last = 'none';
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      if (attempt > 1) this.retries++;
      const { error } = await this.client.export(body);
      if (error === null) return { acknowledged: true, status: 'OK' };
      last = GrpcStatus[error.code] ?? String(error.code);
      if (!RETRYABLE.has(error.code)) return { acknowledged: false, status: `${last}: ${error.details}` };
      const retryAfter = Number(error.metadata?.get('retry-after')[0]);
      const delay = Number.isFinite(retryAfter) && retryAfter >= 0
        ? Math.min(retryAfter * 1000, this.policy.maxRetryAfterMs)
        : backoff * (0.8 + Math.random() * 0.4);
      await sleep(delay);
      backoff = Math.min(backoff * 1.5, this.policy.maxBackoffMs);
    }
    return { acknowledged: false, status: last };
  }

  close(): void {
    this.client.close();
  }
}
