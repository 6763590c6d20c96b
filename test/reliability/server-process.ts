import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { TraceRequest } from '../../core/otlp.js';
import { encodeTraceRequestProtobuf } from '../../receivers/otlp/testing/encode-protobuf.js';
import { CLI, SERVE_NODE_FLAGS } from '../helpers/cli-process.js';

/**
 * The real `genai-ledger serve` in a child process, for the reliability tests: fixed ports (so a client
 * retries against the same URL across restarts, as a real exporter does), extra CLI flags, and a way to
 * read the child's peak resident memory.
 */
export interface ServerProcess {
  child: ChildProcessWithoutNullStreams;
  pid: number;
  httpUrl: string;
  grpcAddress: string;
  output: () => string;
  /** Resolves with the exit code, or the signal name when killed by one. */
  exited: Promise<number | string>;
}

export interface ServerOptions {
  db: string;
  httpPort?: number;
  grpcPort?: number;
  args?: string[];
  env?: Record<string, string>;
  /**
   * Run under a soft RLIMIT_FSIZE of this many 512-byte blocks (`sh -c "trap '' XFSZ; ulimit -S -f N; exec node …"`):
   * writing a file past it fails with EFBIG instead of killing the process — a full disk for one process,
   * unprivileged. The limit is soft, so `prlimit` can lift it from outside while the server runs.
   */
  fileSizeLimitBlocks?: number;
}

export async function startServer(options: ServerOptions): Promise<ServerProcess> {
  const args = [
    ...SERVE_NODE_FLAGS,
    CLI,
    'serve',
    '--db',
    options.db,
    '--http-port',
    String(options.httpPort ?? 0),
    '--grpc-port',
    String(options.grpcPort ?? 0),
    '--metrics-port',
    '0',
    '--sql-port',
    '0',
    ...(options.args ?? []),
  ];
  const spawnOptions = { stdio: ['pipe', 'pipe', 'pipe'] as ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...options.env } };
  const limit = options.fileSizeLimitBlocks;
  const child =
    limit === undefined
      ? spawn(process.execPath, args, spawnOptions)
      : spawn('sh', ['-c', `trap '' XFSZ; ulimit -S -f ${Math.floor(limit)}; exec "$0" "$@"`, process.execPath, ...args], spawnOptions);
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const http = /otlp\/http listening on (https?:\/\/\S+)/.exec(out);
    const grpc = /otlp\/grpc listening on (\S+)/.exec(out);
    if (http && grpc) {
      return { child, pid: child.pid!, httpUrl: http[1]!, grpcAddress: grpc[1]!, output: () => out, exited };
    }
    if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`serve did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A port that was free a moment ago (the kernel picks it; we release it for the child to bind). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Peak and current resident set size of a process, in KiB (Linux /proc; null elsewhere). */
export async function residentMemoryKiB(pid: number): Promise<{ peak: number; current: number } | null> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { peak: field('VmHWM'), current: field('VmRSS') };
  } catch {
    return null;
  }
}

/** POSTs `request` as OTLP/HTTP protobuf to a server at `httpUrl`; the answer's status, Retry-After and body (latin1). */
export async function postTraces(httpUrl: string, request: TraceRequest): Promise<{ status: number; retryAfter: string | null; body: string }> {
  const res = await fetch(`${httpUrl}/v1/traces`, {
    method: 'POST',
    body: encodeTraceRequestProtobuf(request),
    headers: { 'content-type': 'application/x-protobuf' },
  });
  const body = Buffer.from(await res.arrayBuffer()).toString('latin1');
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body };
}
