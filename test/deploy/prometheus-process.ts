/** The real Prometheus binary as a child process on a free port, and its HTTP API, for the deploy tests. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Longest wait for anything Prometheus does in a test. */
const BOUND_MS = 60_000;

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export interface Prometheus {
  log(): string;
  exited(): boolean;
  stop(): Promise<void>;
}

export function startPrometheus(bin: string, args: string[]): Prometheus {
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => {
    exited = true;
    resolve();
  }));
  child.stdout?.on('data', (b: Buffer) => (log = (log + b.toString()).slice(-20_000)));
  child.stderr?.on('data', (b: Buffer) => (log = (log + b.toString()).slice(-20_000)));
  return {
    log: () => log,
    exited: () => exited,
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const killed = await Promise.race([exit.then(() => true), sleep(10_000, undefined, { ref: false }).then(() => false)]);
      if (!killed) {
        child.kill('SIGKILL');
        await exit;
      }
    },
  };
}

export interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

export class PromApi {
  constructor(readonly base: string, private readonly prom: Prometheus) {}

  /** Polls `check` every 250 ms until it holds; fails after BOUND_MS with Prometheus' log. */
  async waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + BOUND_MS;
    while (Date.now() < deadline) {
      if (this.prom.exited()) throw new Error(`prometheus exited while waiting for ${what}:\n${this.prom.log()}`);
      if (await check().catch(() => false)) return;
      await sleep(250);
    }
    throw new Error(`timed out waiting for ${what}:\n${this.prom.log()}`);
  }

  /** An instant query (vector or scalar result); a query error fails with `where`. */
  async query(expr: string, timeSeconds?: number, where = expr): Promise<VectorSample[]> {
    const body = new URLSearchParams({ query: expr });
    if (timeSeconds !== undefined) body.set('time', String(timeSeconds));
    const res = await fetch(`${this.base}/api/v1/query`, { method: 'POST', body });
    const json = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: unknown } };
    assert.equal(json.status, 'success', `${where}\n${expr}\n→ ${json.error ?? res.status}`);
    const { resultType, result } = json.data!;
    if (resultType === 'scalar') return [{ metric: {}, value: result as [number, string] }];
    assert.equal(resultType, 'vector', where);
    return result as VectorSample[];
  }

  async rules(): Promise<{ name: string; health: string; lastError?: string; lastEvaluation: string }[]> {
    const json = (await (await fetch(`${this.base}/api/v1/rules`)).json()) as {
      data: { groups: { rules: { name: string; health: string; lastError?: string; lastEvaluation: string }[] }[] };
    };
    return json.data.groups.flatMap((g) => g.rules);
  }
}
