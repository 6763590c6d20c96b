import { findAttribute, type Span } from '../../../core/otlp.js';
import { OtlpForwarderConfig, type OtlpForwarderConfigInput } from '../config.js';
import { OtlpForwarder, type OtlpForwarderOptions, type SpanEnrichment } from '../otlp-forwarder.js';
import { OtlpSink } from './otlp-sink.js';

/** The ledger's stand-in: spans with gen_ai.operation.name are GenAI calls costing $0.25 owned by team-a. */
export const enrich = (span: Span): SpanEnrichment | null =>
  findAttribute(span.attributes, 'gen_ai.operation.name') === undefined
    ? null
    : { costUsd: 0.25, teamId: 'team-a', costCenter: null, projectId: null, attributionStatus: 'missing_cost_center', billed: true, priceSnapshot: 'p1' };

/** Cleanups registered by the helpers below; run them in afterEach. */
export class Cleanups {
  private readonly list: (() => Promise<void>)[] = [];

  add(fn: () => Promise<void>): void {
    this.list.push(fn);
  }

  async run(): Promise<void> {
    while (this.list.length > 0) await this.list.pop()!();
  }
}

export async function startSink(cleanups: Cleanups, protocol: 'http' | 'grpc', options: Parameters<typeof OtlpSink.start>[1] = {}): Promise<OtlpSink> {
  const s = await OtlpSink.start(protocol, options);
  cleanups.add(() => s.stop());
  return s;
}

/** A forwarder with fast retries, started, shut down by `cleanups`; its log lines and retries are kept. */
export async function startForwarder(
  cleanups: Cleanups,
  endpoint: string,
  config: Partial<OtlpForwarderConfigInput> = {},
  options: OtlpForwarderOptions = {},
) {
  const lines: string[] = [];
  const retries: { delayMs: number; serverDelayMs: number | null; error: string }[] = [];
  const f = new OtlpForwarder(
    'test',
    OtlpForwarderConfig.parse({ endpoint, retry: { initialIntervalMs: 10, maxIntervalMs: 40 }, shutdownTimeoutMs: 200, ...config }),
    { log: (l) => lines.push(l), onRetry: (r) => retries.push(r), ...options },
  );
  await f.start();
  cleanups.add(() => f.shutdown());
  const logged = (pattern: RegExp) => lines.filter((l) => pattern.test(l)).length;
  return { f, lines, retries, logged };
}

/** A port nothing listens on (a sink started and stopped): connections are refused. */
export async function deadPort(protocol: 'http' | 'grpc' = 'http'): Promise<number> {
  const s = await OtlpSink.start(protocol);
  const port = s.port;
  await s.stop();
  return port;
}
