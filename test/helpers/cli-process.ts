import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The compiled CLI entry point (tests run from dist/). */
export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/**
 * The Node flags `genai-ledger` runs with in production (the bin's shebang, `npm start`, the Dockerfile), so
 * tests and benchmarks measure the same process. See "Node flags" in docs/configuration.md.
 */
export const SERVE_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64'];

export interface ServeProcess {
  child: ChildProcessWithoutNullStreams;
  httpUrl: string;
  grpcAddress: string;
  /** The SQL endpoint's port and the /metrics URL, when they are on. */
  sqlPort: number | null;
  metricsUrl: string | null;
  output: () => string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

/** Starts `genai-ledger serve` on port 0 and waits for its listener lines. */
export async function startServeProcess(args: string[]): Promise<ServeProcess> {
  const child = spawn(process.execPath, [...SERVE_NODE_FLAGS, CLI, 'serve', '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0', '--sql-port', '0', ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const deadline = Date.now() + 20_000;
  for (;;) {
    const http = /otlp\/http listening on (http:\/\/\S+)/.exec(out);
    const grpc = /otlp\/grpc listening on (\S+)/.exec(out);
    // The ledger line comes after every listener line.
    if (http && grpc && /genai-ledger: ledger /.test(out)) {
      const sql = /sql listening on postgresql:\/\/\S+:(\d+)/.exec(out);
      const metrics = /metrics listening on (http:\/\/\S+)/.exec(out);
      return {
        child,
        httpUrl: http[1]!,
        grpcAddress: grpc[1]!,
        sqlPort: sql ? Number(sql[1]) : null,
        metricsUrl: metrics ? metrics[1]! : null,
        output: () => out,
        exited,
      };
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`serve did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs a CLI command to completion. */
export function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
