import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import type { Component } from '../../core/component.js';
import type { BearerTokenVerifier } from '../../src/security/bearer-auth.js';
import { checkReadiness, type ReadinessProbe } from './readiness.js';

/**
 * The operations port: `/metrics` (Prometheus text format), `/healthz` (the process is alive) and
 * `/readyz` (send traffic here now?), plus routes other components add (`addRoute`, e.g. `/v1/budgets`).
 * It is separate from the OTLP ports so that scraping and probing never compete with ingest for the
 * in-flight budget, and so it can be firewalled on its own.
 */
export const MetricsServerConfig = z
  .object({
    /** Serve the operations port at all. */
    enabled: z.boolean().default(true),
    /** Listening address; like the receivers, loopback unless told otherwise. */
    host: z.string().min(1).default('127.0.0.1'),
    /** 9464 is the port the OpenTelemetry Prometheus exporters use; 0 picks a free port. */
    port: z.number().int().min(0).max(65_535).default(9464),
  })
  .strict();
export type MetricsServerConfig = z.input<typeof MetricsServerConfig>;

export interface MetricsServerOptions {
  /** What /metrics serves. */
  registry: Registry;
  /** What /readyz asks (ready when absent). */
  readiness?: ReadinessProbe;
  /**
   * When set, /metrics and added routes need `Authorization: Bearer <token>` (401 otherwise).
   * /healthz and /readyz never do: container and Kubernetes probes carry no credentials, and they
   * reveal nothing but the readiness reasons.
   */
  verifier?: BearerTokenVerifier | null;
}

/** Answers a request under an added route's prefix; `url` is parsed, `res` is the caller's to end. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => void | Promise<void>;

export interface RouteOptions {
  /** Serve without the bearer token even when one is configured (default false). */
  public?: boolean;
}

interface Route {
  prefix: string;
  handler: RouteHandler;
  public: boolean;
}

export class MetricsServer implements Component {
  private readonly config: z.output<typeof MetricsServerConfig>;
  private server: Server | null = null;
  private readonly routes: Route[] = [];
  private listening: { host: string; port: number } | null = null;

  /** `config` may be a whole PrometheusExporterConfig: only this class's keys are read. */
  constructor(
    config: MetricsServerConfig,
    private readonly options: MetricsServerOptions,
  ) {
    const { enabled, host, port } = config;
    this.config = MetricsServerConfig.parse({ enabled, host, port });
  }

  /**
   * Serves `handler` for every path equal to `prefix` or below it (`/v1/budgets` also gets
   * `/v1/budgets/search`); the longest matching prefix wins. The built-in paths cannot be replaced.
   */
  addRoute(prefix: string, handler: RouteHandler, options: RouteOptions = {}): void {
    if (!prefix.startsWith('/') || prefix.length < 2) throw new Error(`route prefix must start with "/" and name a path: "${prefix}"`);
    const normalized = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
    if (BUILT_IN.has(normalized)) throw new Error(`${normalized} is served by the metrics server itself`);
    if (this.routes.some((r) => r.prefix === normalized)) throw new Error(`a route for ${normalized} is already registered`);
    this.routes.push({ prefix: normalized, handler, public: options.public ?? false });
    this.routes.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /** Where it listens once started (the real port when configured with 0); null when not listening. */
  get address(): { host: string; port: number } | null {
    return this.listening;
  }

  async start(): Promise<void> {
    if (!this.config.enabled || this.server !== null) return;
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', `internal error: ${(err as Error).message}\n`);
        else res.destroy();
      });
    });
    server.requestTimeout = 30_000;
    server.headersTimeout = 10_000;
    server.keepAliveTimeout = 5_000;
    const { host, port } = this.config;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        reject(new Error(`metrics server: cannot listen on ${formatHost(host)}:${port}: ${err.code ?? ''} ${err.message}`.trim(), { cause: err }));
      };
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    this.server = server;
    this.listening = { host, port: (server.address() as AddressInfo).port };
  }

  /** Stops listening and closes open connections; safe without `start` and more than once. */
  async shutdown(): Promise<void> {
    const server = this.server;
    if (server === null) return;
    this.server = null;
    this.listening = null;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://metrics.invalid');
    const path = url.pathname;
    if (path === '/healthz' || path === '/readyz' || path === '/metrics') {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('Allow', 'GET, HEAD');
        send(res, 405, 'text/plain; charset=utf-8', `${req.method ?? ''} is not allowed on ${path}\n`);
        return;
      }
      if (path === '/healthz') {
        send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
        return;
      }
      if (path === '/readyz') {
        const report = await checkReadiness(this.options.readiness);
        const body = report.ready
          ? { status: 'ready', checks: report.checks }
          : { status: 'not ready', reasons: report.reasons, checks: report.checks };
        send(res, report.ready ? 200 : 503, 'application/json; charset=utf-8', `${JSON.stringify(body)}\n`);
        return;
      }
      if (!this.authorized(req, res)) return;
      const registry = this.options.registry;
      send(res, 200, registry.contentType, await registry.metrics());
      return;
    }
    const route = this.routes.find((r) => path === r.prefix || path.startsWith(`${r.prefix}/`));
    if (route === undefined) {
      send(res, 404, 'text/plain; charset=utf-8', `not found: ${path} (served here: /metrics, /healthz, /readyz)\n`);
      return;
    }
    if (!route.public && !this.authorized(req, res)) return;
    await route.handler(req, res, url);
  }

  private authorized(req: IncomingMessage, res: ServerResponse): boolean {
    const verifier = this.options.verifier;
    if (verifier === undefined || verifier === null || verifier.verify(req.headers.authorization)) return true;
    res.setHeader('WWW-Authenticate', 'Bearer');
    send(res, 401, 'text/plain; charset=utf-8', 'unauthorized: send Authorization: Bearer <token>\n');
    return false;
  }
}

const BUILT_IN = new Set(['/metrics', '/healthz', '/readyz']);

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

const formatHost = (host: string) => (host.includes(':') ? `[${host}]` : host);
