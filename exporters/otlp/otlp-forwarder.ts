import { readFile } from 'node:fs/promises';
import type { Component } from '../../core/component.js';
import { countSpans, type Span, type TraceRequest } from '../../core/otlp.js';
import { retryDelayMs } from './backoff.js';
import { BatchQueue, type QueuedBatch } from './batch-queue.js';
import { maxElapsedMs, parseForwardUrl, resolveHeaders, type OtlpForwarderConfig } from './config.js';
import { DiskQueue, type DiskRecord } from './disk-queue.js';
import { encodeTraceRequest, type EncodedRequest } from './encode-trace-request.js';
import { enrichmentAttributes, type SpanEnrichment } from './enrichment.js';
import { EpisodeLog } from './episode-log.js';
import { GrpcSender } from './grpc-sender.js';
import { HttpSender } from './http-sender.js';
import type { SendResult, Sender } from './send-result.js';

export type { SpanEnrichment } from './enrichment.js';

export interface OtlpForwarderOptions {
  /** Where log lines go (default: stderr). */
  log?: (line: string) => void;
  /** Clock in ms, for request age (retry.maxElapsedMs) and Retry-After dates. */
  now?: () => number;
  /** Random in [0, 1) for backoff jitter. */
  random?: () => number;
  /** Told about each retry as it is scheduled (for tests and metrics). */
  onRetry?: (retry: { attempt: number; delayMs: number; error: string; serverDelayMs: number | null }) => void;
  /** Config key path named in startup errors (default `exporters.otlp.<name>`). */
  configKey?: string;
  /** Environment for `{ env: NAME }` header values (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface OtlpForwarderStats {
  /** Encoded bytes waiting to be delivered (memory; also on disk with a persistent queue). */
  queuedBytes: number;
  queuedBatches: number;
  queuedSpans: number;
  /** Spans the destination accepted. */
  sentSpans: number;
  /** Spans the destination refused (non-retryable answer, partial success) or that were given up on. */
  failedSpans: number;
  /** Spans never queued or abandoned here: queue full, not running, unencodable, undelivered at shutdown. */
  droppedSpans: number;
  /** Retries scheduled. */
  retries: number;
  /** The error of the latest failed attempt; null once a request has gone through since. */
  lastError: string | null;
}

const USER_AGENT = 'genai-ledger-otlp-forwarder';

/**
 * Forwards every span the ledger receives (or only the GenAI ones) to another OTLP destination — Grafana
 * Tempo, a Datadog Agent, any OpenTelemetry Collector — with the ledger's decision added to GenAI spans
 * (docs/forwarding.md).
 *
 * It never slows ingestion: `forward()` encodes and queues synchronously and returns; one loop sends the
 * queue oldest-first, one request at a time, retrying per the OTLP rules. The queue is bounded in bytes:
 * when it is full, new requests are dropped and counted, never buffered beyond it. With
 * `queue.directory` the queue is also written to disk inside `forward()`, so what was accepted survives a
 * restart or a crash and is delivered afterwards (at least once).
 */
export class OtlpForwarder implements Component {
  private state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  private starting: Promise<void> | null = null;
  private stopping: Promise<void> | null = null;
  private readonly queue: BatchQueue<DiskRecord>;
  private disk: DiskQueue | null = null;
  private sender: Sender | null = null;
  private loop: Promise<void> | null = null;
  /** Set when shutdown's flush time is over: the loop stops after the current attempt. */
  private halted = false;
  private wakeSleep: (() => void) | null = null;
  private readonly episodes: EpisodeLog;
  private readonly log: (line: string) => void;
  private readonly now: () => number;
  private readonly giveUpAfterMs: number;
  private readonly counters = { sentSpans: 0, failedSpans: 0, droppedSpans: 0, retries: 0 };
  private lastError: string | null = null;

  constructor(
    readonly name: string,
    private readonly config: OtlpForwarderConfig,
    private readonly options: OtlpForwarderOptions = {},
  ) {
    const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    this.log = (line) => log(`otlp forwarder ${name}: ${line}`);
    this.now = options.now ?? Date.now;
    this.episodes = new EpisodeLog(this.log);
    this.queue = new BatchQueue(config.queue.maxBytes);
    this.giveUpAfterMs = maxElapsedMs(config);
  }

  get stats(): OtlpForwarderStats {
    return {
      queuedBytes: this.queue.bytes,
      queuedBatches: this.queue.length,
      queuedSpans: this.queue.spans,
      ...this.counters,
      lastError: this.lastError,
    };
  }

  /**
   * Reads header secrets and the CA file, opens the persistent queue (taking back what a previous run
   * left there, to be sent first) and starts the sender loop. Throws, naming the config key, when
   * something cannot be used; nothing keeps running then.
   */
  start(): Promise<void> {
    if (this.state !== 'new') return this.starting ?? Promise.resolve();
    this.state = 'starting';
    this.starting = this.doStart().catch(async (err: unknown) => {
      this.state = 'stopped';
      this.sender?.close();
      await this.disk?.close();
      throw err;
    });
    return this.starting;
  }

  private async doStart(): Promise<void> {
    const key = this.options.configKey ?? `exporters.otlp.${this.name}`;
    const target = parseForwardUrl(this.config.endpoint);
    const headers = await resolveHeaders(this.config.headers, key, this.options.env);
    const tls = this.config.tls;
    let ca: Buffer | undefined;
    if (tls?.caFile !== undefined) {
      try {
        ca = await readFile(tls.caFile);
      } catch (err) {
        throw new Error(`${key}.tls.caFile: cannot read ${tls.caFile}: ${(err as Error).message}`);
      }
      if (!/-----BEGIN CERTIFICATE-----/.test(ca.toString('latin1'))) throw new Error(`${key}.tls.caFile: ${tls.caFile} is not a PEM certificate file`);
    }
    const insecureSkipVerify = tls?.insecureSkipVerify === true;
    const common = { headers, compression: this.config.compression, timeoutMs: this.config.timeoutMs, ca, insecureSkipVerify, userAgent: USER_AGENT };
    this.sender =
      target.protocol === 'http'
        ? new HttpSender(target.url, { ...common, now: this.now })
        : new GrpcSender(target.address, { ...common, secure: target.secure, maxReconnectBackoffMs: this.config.retry.maxIntervalMs });

    const directory = this.config.queue.directory;
    if (directory !== undefined) {
      let opened: Awaited<ReturnType<typeof DiskQueue.open>>;
      try {
        opened = await DiskQueue.open(directory, {
          segmentBytes: Math.min(8 << 20, Math.max(64 << 10, Math.floor(this.config.queue.maxBytes / 16))),
          fsyncIntervalMs: this.config.queue.fsyncIntervalMs,
          log: (line) => this.log(`persistent queue: ${line}`),
        });
      } catch (err) {
        throw new Error(`${key}.queue.directory: cannot use ${directory}: ${(err as Error).message}`);
      }
      this.disk = opened.queue;
      for (const r of opened.recovered) this.queue.push({ bytes: r.bytes, spans: r.spans, queuedAt: this.now(), attempts: 0, ref: r.ref }, true);
      if (opened.recovered.length > 0) {
        this.log(`${this.queue.spans} spans in ${opened.recovered.length} requests left by a previous run found in ${directory}; sending them first`);
      }
    }
    if (insecureSkipVerify) this.log('WARNING: tls.insecureSkipVerify is on: the destination’s certificate is not checked');
    this.state = 'running';
    this.loop = this.run().catch((err: unknown) => {
      // Not expected (every outcome is a SendResult); logged so that a bug does not silently stop forwarding.
      this.log(`sender loop stopped by an internal error: ${errorText(err)}`);
    });
    const queueText = directory === undefined ? 'in memory' : `persistent in ${directory}`;
    this.log(`forwarding ${this.config.spans === 'genai' ? 'GenAI spans' : 'all spans'} to ${this.sender.description} (${this.config.compression}, queue up to ${mib(this.config.queue.maxBytes)} ${queueText})`);
  }

  /**
   * Never blocks ingestion, never throws: encodes the request now (with enrichment attributes on GenAI
   * spans) and enqueues it, or drops it with a count when the queue is full. `enrich(span)` returns the
   * ledger's decision for a GenAI span or null for non-GenAI spans; with spans:'genai' only spans with an
   * enrichment are forwarded (resources/scopes left empty are omitted).
   */
  forward(request: TraceRequest, enrich: (span: Span) => SpanEnrichment | null): void {
    if (this.state !== 'running') {
      this.drop(countSpans(request), 'not-running', `spans arrived while the forwarder was ${this.state}; they are dropped`);
      return;
    }
    let parts: EncodedRequest[];
    try {
      parts = encodeTraceRequest(request, {
        extraAttributes: (span) => {
          const enrichment = enrich(span);
          return enrichment === null ? null : enrichmentAttributes(enrichment);
        },
        onlyExtended: this.config.spans === 'genai',
        maxRequestBytes: this.config.maxRequestBytes,
      });
    } catch (err) {
      this.drop(countSpans(request), 'encode', `a request could not be prepared for forwarding (${errorText(err)}); its spans are dropped`);
      return;
    }
    for (const part of parts) this.enqueue(part);
  }

  /**
   * Forwards a request that is already an encoded ExportTraceServiceRequest (`spans` spans in it), as
   * `forward` does once it has encoded one: queued (and persisted) synchronously, or dropped and counted.
   * Requests larger than `maxRequestBytes` should go through `forward`, which splits them.
   */
  forwardEncoded(bytes: Uint8Array, spans: number): void {
    if (this.state !== 'running') {
      this.drop(spans, 'not-running', `spans arrived while the forwarder was ${this.state}; they are dropped`);
      return;
    }
    this.enqueue({ bytes, spans });
  }

  get settings(): OtlpForwarderConfig {
    return this.config;
  }

  private enqueue(part: EncodedRequest): void {
    if (!this.queue.fits(part.bytes.length)) {
      this.drop(
        part.spans,
        'queue-full',
        `queue full (${mib(this.queue.maxBytes)}, ${this.queue.length} requests; ${this.lastError ?? 'the destination is slow'}): new spans are dropped until it drains`,
      );
      return;
    }
    this.episodes.resolved('queue-full', (n) => `queue has room again; ${n} spans were dropped while it was full`);
    let ref: DiskRecord | null = null;
    if (this.disk !== null) {
      try {
        ref = this.disk.append(part.bytes, part.spans);
        this.episodes.resolved('persist', () => 'writing the persistent queue works again');
      } catch (err) {
        this.episodes.problem('persist', `cannot write the persistent queue (${errorText(err)}); requests are kept in memory only until it works again`);
      }
    }
    this.queue.push({ bytes: part.bytes, spans: part.spans, queuedAt: this.now(), attempts: 0, ref });
  }

  private drop(spans: number, kind: string, message: string): void {
    if (spans === 0) return;
    this.counters.droppedSpans += spans;
    this.episodes.problem(kind, message, spans);
  }

  /** The single sender loop: oldest request first, one at a time. */
  private async run(): Promise<void> {
    const sender = this.sender!;
    while (!this.halted) {
      const batch = this.queue.peek();
      if (batch === undefined) {
        if (this.state !== 'running') return; // shutting down and drained
        await this.queue.waitForBatch();
        continue;
      }
      let result: SendResult;
      try {
        result = await sender.send(batch.bytes);
      } catch (err) {
        result = { outcome: 'retryable', error: errorText(err), retryAfterMs: null };
      }
      if (this.halted) return; // aborted at shutdown: the request stays queued
      const delay = this.settle(batch, result);
      if (delay !== null) await this.sleep(delay);
    }
  }

  /** Books the outcome of an attempt; returns how long to wait before retrying `batch`, or null. */
  private settle(batch: QueuedBatch<DiskRecord>, result: SendResult): number | null {
    const description = this.sender!.description;
    if (result.outcome === 'sent') {
      this.remove(batch);
      const rejected = Math.min(batch.spans, Math.max(0, result.rejectedSpans));
      this.counters.sentSpans += batch.spans - rejected;
      this.counters.failedSpans += rejected;
      this.lastError = null;
      this.episodes.resolved('unavailable', (n) => `${description} is reachable again (after ${n} failed attempts)`);
      this.episodes.resolved('rejected', (n) => `${description} accepts requests again (${n} spans were refused)`);
      this.episodes.resolved('gave-up', (n) => `delivering again (${n} spans were given up on)`);
      if (rejected > 0 || result.message !== '') {
        this.episodes.problem('partial', `${description} accepted a request only in part: ${rejected} spans rejected (${result.message || 'no message'})`, rejected);
      } else {
        this.episodes.resolved('partial', (n) => `${description} accepts whole requests again (${n} spans were rejected)`);
      }
      return null;
    }
    this.lastError = result.error;
    if (result.outcome === 'rejected') {
      this.remove(batch);
      this.counters.failedSpans += batch.spans;
      this.episodes.problem('rejected', `${description} refused a request (${result.error}); its ${batch.spans} spans are dropped, not retried`, batch.spans);
      return null;
    }
    this.episodes.problem('unavailable', `${description} is unavailable (${result.error}); retrying with backoff, queueing up to ${mib(this.queue.maxBytes)}`);
    const delayMs = retryDelayMs(batch.attempts, this.config.retry, result.retryAfterMs, this.options.random);
    if (this.giveUpAfterMs > 0 && this.now() + delayMs - batch.queuedAt > this.giveUpAfterMs) {
      this.remove(batch);
      this.counters.failedSpans += batch.spans;
      this.episodes.problem(
        'gave-up',
        `gave up on a request not delivered within retry.maxElapsedMs=${this.giveUpAfterMs} (${result.error}); its ${batch.spans} spans are counted as failed`,
        batch.spans,
      );
      return null;
    }
    batch.attempts++;
    this.counters.retries++;
    this.options.onRetry?.({ attempt: batch.attempts, delayMs, error: result.error, serverDelayMs: result.retryAfterMs });
    return delayMs;
  }

  private remove(batch: QueuedBatch<DiskRecord>): void {
    this.queue.shift(); // always `batch`: the loop only ever settles the head of the queue
    if (batch.ref !== null) this.disk?.release(batch.ref);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeSleep = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeSleep = done;
    });
  }

  /**
   * Stops accepting, keeps delivering for up to `shutdownTimeoutMs`, then cancels the request in
   * progress. What is still queued stays on disk for the next start (persistent queue) or is counted as
   * dropped. Safe without start and more than once; never hangs.
   */
  shutdown(): Promise<void> {
    if (this.stopping !== null) return this.stopping;
    this.stopping = this.doShutdown();
    return this.stopping;
  }

  private async doShutdown(): Promise<void> {
    if (this.state === 'starting') await this.starting?.catch(() => undefined);
    if (this.state !== 'running') {
      this.state = 'stopped';
      return;
    }
    this.state = 'stopping';
    this.queue.wake();
    let timer: NodeJS.Timeout | undefined;
    const flushTime = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.config.shutdownTimeoutMs);
    });
    await Promise.race([this.loop, flushTime]);
    clearTimeout(timer);
    this.halted = true;
    this.sender?.abort();
    this.wakeSleep?.();
    this.queue.wake();
    await this.loop;

    let kept = 0;
    let lost = 0;
    for (let b = this.queue.shift(); b !== undefined; b = this.queue.shift()) {
      if (b.ref !== null) kept += b.spans;
      else lost += b.spans;
    }
    if (kept > 0) this.log(`${kept} spans not delivered yet stay in ${this.config.queue.directory} and are sent at the next start`);
    if (lost > 0) {
      this.counters.droppedSpans += lost;
      this.log(`${lost} spans could not be delivered to ${this.sender?.description} within shutdownTimeoutMs=${this.config.shutdownTimeoutMs} and are dropped`);
    }
    this.sender?.close();
    await this.disk?.close();
    this.state = 'stopped';
  }
}

function mib(bytes: number): string {
  return bytes >= 1 << 20 ? `${+(bytes / (1 << 20)).toFixed(1)} MiB` : `${+(bytes / 1024).toFixed(1)} KiB`;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
