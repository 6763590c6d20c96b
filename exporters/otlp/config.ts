import { readFile } from 'node:fs/promises';
import { z } from 'zod';

/**
 * Configuration of one OTLP forwarding destination (docs/forwarding.md documents every key).
 *
 * Header values come from an environment variable or a file, so a config holding a Datadog API key or a
 * bearer token can still be committed. A plain string is accepted only for headers whose name does not
 * look like a credential (`X-Scope-OrgID: tenant-a` is fine, `dd-api-key: abc` is refused at startup).
 */
export const HeaderValue = z.union([
  z.string(),
  z.object({ env: z.string().min(1) }).strict(),
  z.object({ file: z.string().min(1) }).strict(),
]);
export type HeaderValue = z.output<typeof HeaderValue>;

/** Header names that carry credentials: their value may not be written inline in the config. */
const SECRET_HEADER = /auth|key|token|secret|passw|cookie|credential|signature|session/i;
/** Headers the forwarder sets itself (and gRPC's own metadata): configuring them would corrupt requests. */
const RESERVED_HEADER = /^(content-type|content-encoding|content-length|transfer-encoding|connection|host|te|keep-alive|upgrade|grpc-.*|:.*)$/i;
/** An HTTP header name (RFC 9110 token); gRPC metadata keys are a subset once lowercased. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export const OtlpForwarderConfig = z
  .object({
    /**
     * `http(s)://host[:port][/path]` → OTLP/HTTP protobuf POST to the URL + `/v1/traces` (unless the path
     * already ends in `/v1/traces`); `grpc://host:port` / `grpcs://host:port` → OTLP/gRPC TraceService/Export.
     */
    endpoint: z.string().superRefine((url, ctx) => {
      try {
        parseForwardUrl(url);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
      }
    }),
    /** Extra request headers (gRPC: metadata), e.g. `dd-api-key: { env: DD_API_KEY }`. */
    headers: z
      .record(z.string(), HeaderValue)
      .default({})
      .superRefine((headers, ctx) => {
        for (const [name, value] of Object.entries(headers)) {
          if (!HEADER_NAME.test(name)) {
            ctx.addIssue({ code: 'custom', path: [name], message: 'not a valid header name' });
          } else if (/-bin$/i.test(name)) {
            ctx.addIssue({ code: 'custom', path: [name], message: 'binary (-bin) gRPC metadata is not supported' });
          } else if (RESERVED_HEADER.test(name)) {
            ctx.addIssue({ code: 'custom', path: [name], message: 'set by the forwarder itself; cannot be configured' });
          } else if (typeof value === 'string' && SECRET_HEADER.test(name)) {
            ctx.addIssue({
              code: 'custom',
              path: [name],
              message: 'looks like a credential: give it as { env: VARIABLE } or { file: /path } instead of inline',
            });
          } else if (typeof value === 'string' && /[\r\n\0]/.test(value)) {
            ctx.addIssue({ code: 'custom', path: [name], message: 'header values cannot contain line breaks' });
          }
        }
      }),
    /** Request body compression: gzip (OTLP/HTTP Content-Encoding, gRPC message compression) or none. */
    compression: z.enum(['gzip', 'none']).default('gzip'),
    /** TLS for https:// and grpcs:// (system CAs by default). */
    tls: z
      .object({
        /** PEM file of CA certificates to trust instead of the system ones (private CAs, self-signed). */
        caFile: z.string().min(1).optional(),
        /** Accept any server certificate. For tests only: it makes TLS worthless. Logged at start. */
        insecureSkipVerify: z.boolean().default(false),
      })
      .strict()
      .optional(),
    /** `all`: every span (GenAI ones enriched); `genai`: only the spans the ledger recognised as GenAI calls. */
    spans: z.enum(['all', 'genai']).default('all'),
    /** Per-request timeout; a request that takes longer is retried. */
    timeoutMs: z.number().int().positive().default(10_000),
    /**
     * Largest request sent, before compression: bigger incoming requests are split by span. Default stays
     * under the 4 MiB that gRPC servers (Collector, Tempo, Datadog Agent) accept by default.
     */
    maxRequestBytes: z.number().int().min(1024).default(4 * 1024 * 1024 - 64 * 1024),
    queue: z
      .object({
        /** Bytes of encoded requests waiting to be sent (and, with `directory`, on disk); beyond it new data is dropped. */
        maxBytes: z.number().int().positive().default(64 * 1024 * 1024),
        /** Keep the queue in this directory so that it survives restarts and crashes (docs/forwarding.md). */
        directory: z.string().min(1).optional(),
        /** With `directory`: how often queued data is fsynced (power-loss window; kill -9 loses nothing). */
        fsyncIntervalMs: z.number().int().min(0).default(200),
      })
      .strict()
      .prefault({}),
    retry: z
      .object({
        /** First backoff after a retryable failure; doubled each time (± 50 % jitter). */
        initialIntervalMs: z.number().int().positive().default(1_000),
        /** Largest backoff (a server's Retry-After may ask for longer and is honoured). */
        maxIntervalMs: z.number().int().positive().default(30_000),
        /**
         * How long a request may stay undelivered before it is given up (counted as failed). 0 = never give
         * up. Default: 300000 (5 minutes) for the in-memory queue, 0 with a persistent queue (`queue.directory`),
         * whose point is that nothing queued is lost while the destination is down.
         */
        maxElapsedMs: z.number().int().min(0).optional(),
      })
      .strict()
      .prefault({}),
    /** On shutdown, how long to keep trying to deliver what is queued before giving up (or leaving it on disk). */
    shutdownTimeoutMs: z.number().int().min(0).default(5_000),
  })
  .strict()
  .superRefine((config, ctx) => {
    if (config.tls === undefined) return;
    let target: ForwardTarget;
    try {
      target = parseForwardUrl(config.endpoint);
    } catch {
      return; // reported on `endpoint`
    }
    if (!target.secure) {
      ctx.addIssue({ code: 'custom', path: ['tls'], message: `tls is set but the endpoint ${config.endpoint} is not https:// or grpcs://` });
    }
  });
export type OtlpForwarderConfig = z.output<typeof OtlpForwarderConfig>;
export type OtlpForwarderConfigInput = z.input<typeof OtlpForwarderConfig>;

/** The default give-up time for a request when `retry.maxElapsedMs` is not set (see its doc). */
export function maxElapsedMs(config: OtlpForwarderConfig): number {
  return config.retry.maxElapsedMs ?? (config.queue.directory === undefined ? 300_000 : 0);
}

/** Where and how to send. */
export type ForwardTarget =
  | { protocol: 'http'; secure: boolean; url: URL }
  | { protocol: 'grpc'; secure: boolean; /** host:port as grpc-js wants it (IPv6 in brackets) */ address: string };

/**
 * Parses and checks a forwarding endpoint, with an error saying what is wrong and what is expected.
 *
 * - `http://` / `https://`: OTLP/HTTP. The path gets `/v1/traces` appended (as OTEL_EXPORTER_OTLP_ENDPOINT
 *   does) unless it already ends with it; the port defaults to the scheme's (80/443), like any URL.
 * - `grpc://` / `grpcs://`: OTLP/gRPC; needs an explicit port and no path.
 * - Credentials in the URL (`user:pass@`) are refused: secrets go in `headers` from env or file.
 */
export function parseForwardUrl(url: string): ForwardTarget {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    throw new Error(`endpoint "${url}" needs a scheme: http://, https:// (OTLP/HTTP) or grpc://, grpcs:// (OTLP/gRPC)`);
  }
  if (!['http', 'https', 'grpc', 'grpcs'].includes(scheme)) {
    throw new Error(`endpoint "${url}": unsupported scheme ${scheme}:// (expected http://, https://, grpc:// or grpcs://)`);
  }
  let parsed: URL;
  try {
    // Parse grpc(s) as http(s) so that the WHATWG parser treats it as a special (host-based) URL.
    parsed = new URL(scheme.startsWith('grpc') ? url.replace(/^grpcs?/i, 'http') : url);
  } catch {
    throw new Error(`endpoint "${url}" is not a valid URL`);
  }
  if (parsed.hostname === '') throw new Error(`endpoint "${url}" has no host`);
  if (parsed.username !== '' || parsed.password !== '') {
    throw new Error(`endpoint "${url}": credentials in the URL are not allowed; send them as a header from { env } or { file }`);
  }
  if (scheme === 'http' || scheme === 'https') {
    if (parsed.hash !== '') throw new Error(`endpoint "${url}": a URL fragment (#…) makes no sense here`);
    const path = parsed.pathname.replace(/\/+$/, '');
    parsed.pathname = path.endsWith('/v1/traces') ? path : `${path}/v1/traces`;
    return { protocol: 'http', secure: scheme === 'https', url: parsed };
  }
  // Read the port as written: the URL parser drops a port equal to http's default (80).
  const port = /^[a-z]+:\/\/(?:\[[^\]]*\]|[^/:?#]*):(\d+)/i.exec(url)?.[1];
  if (port === undefined) throw new Error(`endpoint "${url}" needs a port (OTLP/gRPC is usually 4317)`);
  if ((parsed.pathname !== '/' && parsed.pathname !== '') || parsed.search !== '' || parsed.hash !== '') {
    throw new Error(`endpoint "${url}": a gRPC endpoint is host:port only, without a path or query`);
  }
  return { protocol: 'grpc', secure: scheme === 'grpcs', address: `${parsed.hostname}:${Number(port)}` };
}

/**
 * Reads the header values from their environment variables and files (file content trimmed, so a trailing
 * newline does not end up in the header). All problems are reported at once, naming the key; the caller
 * refuses to start. Names are lowercased (HTTP/2 and gRPC metadata need lowercase).
 */
export async function resolveHeaders(
  headers: Record<string, HeaderValue>,
  keyPath: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const problems: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    const key = `${keyPath}.headers.${name}`;
    let text: string | undefined;
    if (typeof value === 'string') {
      text = value;
    } else if ('env' in value) {
      text = env[value.env]?.trim();
      if (text === undefined || text === '') problems.push(`${key}: environment variable ${value.env} is not set`);
    } else {
      try {
        text = (await readFile(value.file, 'utf8')).trim();
        if (text === '') problems.push(`${key}: ${value.file} is empty`);
      } catch (err) {
        problems.push(`${key}: cannot read ${value.file}: ${(err as Error).message}`);
      }
    }
    if (text === undefined || text === '') continue;
    if (/[\r\n\0]/.test(text)) {
      problems.push(`${key}: the value contains a line break`);
      continue;
    }
    out[name.toLowerCase()] = text;
  }
  if (problems.length > 0) throw new Error(`OTLP forwarding headers are misconfigured:\n  ${problems.join('\n  ')}`);
  return out;
}
