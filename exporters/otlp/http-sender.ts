import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { decodeExportResponseProtobuf, decodeStatusProtobuf } from '../../receivers/otlp/encode-response.js';
import type { SendResult, Sender } from './send-result.js';

const gzipAsync = promisify(gzip);

/** Most of a response body read (OTLP answers are tiny; an HTML error page is cut here). */
const MAX_RESPONSE_BYTES = 64 * 1024;
/** HTTP statuses the OTLP spec says to retry; every other non-2xx answer is final. */
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);

export interface HttpSenderOptions {
  headers: Record<string, string>;
  compression: 'gzip' | 'none';
  timeoutMs: number;
  /** PEM CA certificates to trust instead of the system ones (https only). */
  ca?: Buffer;
  insecureSkipVerify?: boolean;
  userAgent: string;
  now?: () => number;
}

/**
 * OTLP/HTTP protobuf: `POST <url>` with `Content-Type: application/x-protobuf`, gzip (compressed on
 * libuv's thread pool, off the event loop, once per request however often it is retried), over one
 * keep-alive connection.
 */
export class HttpSender implements Sender {
  readonly description: string;
  private readonly agent: HttpAgent;
  private readonly isHttps: boolean;
  private inFlight: ClientRequest | null = null;
  private aborted = false;
  private compressed: { body: Uint8Array; gz: Buffer } | null = null;
  private readonly now: () => number;

  constructor(
    private readonly url: URL,
    private readonly options: HttpSenderOptions,
  ) {
    this.isHttps = url.protocol === 'https:';
    this.now = options.now ?? Date.now;
    this.description = `OTLP/HTTP ${url.origin}${url.pathname}`;
    const agentOptions = { keepAlive: true, maxSockets: 1, maxFreeSockets: 1 };
    this.agent = this.isHttps
      ? new HttpsAgent({ ...agentOptions, ...(options.ca ? { ca: options.ca } : {}), rejectUnauthorized: options.insecureSkipVerify !== true })
      : new HttpAgent(agentOptions);
  }

  async send(body: Uint8Array): Promise<SendResult> {
    let payload: Uint8Array = body;
    if (this.options.compression === 'gzip') {
      // Level 1: on OTLP spans it keeps most of the saving of the default level (6) at a fraction of the CPU,
      // which the forwarder shares with ingestion (zlib runs on libuv's pool, beside DuckDB).
      if (this.compressed?.body !== body) this.compressed = { body, gz: await gzipAsync(body, { level: 1, chunkSize: 64 * 1024 }) };
      payload = this.compressed.gz;
    }
    const headers: Record<string, string> = {
      ...this.options.headers,
      'content-type': 'application/x-protobuf',
      'content-length': String(payload.length),
      'user-agent': this.options.userAgent,
    };
    if (this.options.compression === 'gzip') headers['content-encoding'] = 'gzip';
    const result = await this.post(payload, headers);
    if (result.outcome === 'sent' && this.compressed?.body === body) this.compressed = null;
    return result;
  }

  /**
   * One POST. A keep-alive connection the server closed while it sat idle fails as soon as it is reused
   * (ECONNRESET/EPIPE before any answer); that is not the destination being down, so it is tried once
   * more on a fresh connection before it counts as a failure.
   */
  private post(payload: Uint8Array, headers: Record<string, string>, mayRetryStale = true): Promise<SendResult> {
    return new Promise<SendResult>((resolve) => {
      let settled = false;
      const finish = (result: SendResult | Promise<SendResult>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (this.inFlight === req) this.inFlight = null;
        resolve(result);
      };
      const req = (this.isHttps ? httpsRequest : httpRequest)(this.url, { method: 'POST', agent: this.agent, headers });
      this.inFlight = req;
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${this.options.timeoutMs} ms`)), this.options.timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (mayRetryStale && req.reusedSocket && !this.aborted && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
          finish(this.post(payload, headers, false));
        } else {
          finish({ outcome: 'retryable', error: networkError(err), retryAfterMs: null });
        }
      });
      req.on('response', (res) => {
        readBody(res).then(
          (text) => finish(this.classify(res, text)),
          (err: Error) => finish({ outcome: 'retryable', error: `reading the answer: ${err.message}`, retryAfterMs: null }),
        );
      });
      req.end(payload);
    });
  }

  abort(): void {
    this.aborted = true;
    this.inFlight?.destroy(new Error('aborted at shutdown'));
  }

  close(): void {
    this.abort();
    this.agent.destroy();
  }

  private classify(res: IncomingMessage, body: Buffer): SendResult {
    const status = res.statusCode ?? 0;
    const contentType = String(res.headers['content-type'] ?? '');
    if (status >= 200 && status < 300) {
      const partial = readPartialSuccess(contentType, body);
      return { outcome: 'sent', rejectedSpans: partial.rejectedSpans, message: partial.errorMessage };
    }
    const error = `HTTP ${status}${describeErrorBody(contentType, body)}`;
    if (RETRYABLE_STATUS.has(status)) {
      return { outcome: 'retryable', error, retryAfterMs: parseRetryAfter(res.headers['retry-after'], this.now()) };
    }
    if (status >= 300 && status < 400) {
      return { outcome: 'rejected', error: `${error} (redirects are not followed: set the endpoint to the final URL ${res.headers.location ?? ''})` };
    }
    return { outcome: 'rejected', error };
  }
}

/**
 * A Retry-After header in milliseconds from now: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
 * null when absent or unreadable; a date in the past is 0.
 */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | null {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (text === undefined || text === '') return null;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Only an HTTP date (e.g. `Wed, 21 Oct 2026 07:28:00 GMT`): Date.parse alone takes '-3' or '5' for years.
  if (!/[A-Za-z]{3}/.test(text) || !/\d{1,2}:\d{2}:\d{2}/.test(text)) return null;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - nowMs);
}

function readBody(res: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      // Keep reading past the limit (so the connection can be reused), but keep no more of it.
      if (size < MAX_RESPONSE_BYTES) chunks.push(chunk.subarray(0, MAX_RESPONSE_BYTES - size));
      size += chunk.length;
    });
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', reject);
    res.on('aborted', () => reject(new Error('the connection closed during the answer')));
  });
}

/** partial_success of a 2xx answer (protobuf, or JSON from servers that answer JSON); none when unreadable. */
function readPartialSuccess(contentType: string, body: Buffer): { rejectedSpans: number; errorMessage: string } {
  if (body.length === 0) return { rejectedSpans: 0, errorMessage: '' };
  try {
    if (/json/i.test(contentType)) {
      const parsed = JSON.parse(body.toString('utf8')) as { partialSuccess?: { rejectedSpans?: string | number; errorMessage?: string } };
      const p = parsed.partialSuccess ?? {};
      return { rejectedSpans: Number(p.rejectedSpans ?? 0) || 0, errorMessage: String(p.errorMessage ?? '') };
    }
    return decodeExportResponseProtobuf(body);
  } catch {
    return { rejectedSpans: 0, errorMessage: '' };
  }
}

/** `: message` from a google.rpc.Status body (protobuf or JSON), else the start of a text body. */
function describeErrorBody(contentType: string, body: Buffer): string {
  if (body.length === 0) return '';
  let message = '';
  try {
    if (/protobuf/i.test(contentType)) message = decodeStatusProtobuf(body).message;
    else if (/json/i.test(contentType)) message = String((JSON.parse(body.toString('utf8')) as { message?: unknown }).message ?? body.toString('utf8'));
    else message = body.toString('utf8');
  } catch {
    message = '';
  }
  message = message.replace(/\s+/g, ' ').trim();
  return message === '' ? '' : `: ${message.length > 300 ? `${message.slice(0, 300)}…` : message}`;
}

function networkError(err: NodeJS.ErrnoException): string {
  return err.code !== undefined && !err.message.includes(err.code) ? `${err.code}: ${err.message}` : err.message;
}
