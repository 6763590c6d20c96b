/**
 * `npm run bench:soak`: does a long-running `genai-ledger serve` keep its memory flat under steady load?
 *
 * Starts the real serve command (bench/soak-server.ts: the CLI's serve plus memory reports over IPC) on a
 * fresh DuckDB file, sends a steady SOAK_RATE GenAI spans/s (default 2000) over OTLP/HTTP protobuf for
 * SOAK_SECONDS (default 120), and every SOAK_SAMPLE_SECONDS (default 10) prints the interval's acknowledged
 * spans/s and the server's RSS, V8 heap used and external memory. Ends with start / peak / end RSS and heap.
 * SOAK_CONFIG, when set, is YAML written to the server's config file (e.g. a DuckDB memoryLimit).
 * Not part of `npm test`: it is a measurement, not a pass/fail check.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeTraceRequestProtobuf } from '../receivers/otlp/testing/encode-protobuf.js';
import { knownSpanRequest, KnownSpanSource } from '../test/reliability/known-spans.js';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 120);
const RATE = Number(process.env.SOAK_RATE ?? 2000);
const SAMPLE_SECONDS = Number(process.env.SOAK_SAMPLE_SECONDS ?? 10);
/** Each client sends one request per tick: batches of a few hundred spans, as an SDK's batch processor does. */
const TICK_MS = 500;
const CLIENTS = 4;

interface MemorySample {
  at: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  /** Spans acknowledged to the load clients when the sample arrived. */
  acked: number;
}

/** Spans acknowledged so far (read when a memory sample arrives). */
const counter = { acked: 0 };

const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

async function startSoakServer(db: string, config: string): Promise<{ child: ChildProcess; url: string; samples: MemorySample[]; output: () => string }> {
  const script = fileURLToPath(new URL('./soak-server.js', import.meta.url));
  const child = spawn(process.execPath, [script, '--config', config, '--db', db, '--http-port', '0', '--grpc-port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, SOAK_SAMPLE_MS: String(SAMPLE_SECONDS * 1000) },
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const samples: MemorySample[] = [];
  child.on('message', (m) => samples.push({ ...(m as Omit<MemorySample, 'acked'>), acked: counter.acked }));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const url = /otlp\/http listening on (http:\/\/\S+)/.exec(out)?.[1];
    if (url !== undefined) return { child, url, samples, output: () => out };
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`serve did not start:\n${out}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-soak-'));
  const db = join(dir, 'ledger.duckdb');
  const config = join(dir, 'genai-ledger.yaml');
  await writeFile(config, process.env.SOAK_CONFIG ?? '');
  const server = await startSoakServer(db, config);
  const source = new KnownSpanSource();
  let refused = 0;
  let failed = 0;
  const spansPerTick = Math.max(1, Math.round((RATE * TICK_MS) / 1000 / CLIENTS));
  const start = Date.now();
  const end = start + SECONDS * 1000;
  // CLIENTS senders, each sending one request per tick; a late answer delays the next request (no pile-up).
  const client = async () => {
    for (let next = Date.now(); Date.now() < end; next += TICK_MS) {
      const wait = next - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      try {
        const res = await fetch(`${server.url}/v1/traces`, {
          method: 'POST',
          body: encodeTraceRequestProtobuf(knownSpanRequest(source.take(spansPerTick), 'soak-svc')),
          headers: { 'content-type': 'application/x-protobuf' },
        });
        await res.arrayBuffer();
        if (res.status === 200) counter.acked += spansPerTick;
        else refused++;
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, client));
  await new Promise((r) => setTimeout(r, 200));
  server.child.kill('SIGTERM');
  await new Promise((r) => server.child.once('exit', r));
  const dbBytes = await stat(db).then((s) => s.size, () => 0);
  await rm(dir, { recursive: true, force: true });

  const samples = server.samples;
  const rows: string[][] = [['t (s)', 'acked spans/s', 'RSS MiB', 'heap used MiB', 'heap total MiB', 'external MiB']];
  for (const [i, s] of samples.entries()) {
    // Spans/s acknowledged since the previous sample (the first sample is the idle server before any load).
    const prev = samples[i - 1];
    const rate = prev === undefined ? '' : String(Math.round(((s.acked - prev.acked) * 1000) / (s.at - prev.at)));
    rows.push([String(Math.max(0, Math.round((s.at - start) / 1000))), rate, mib(s.rss), mib(s.heapUsed), mib(s.heapTotal), mib(s.external)]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const [i, row] of rows.entries()) {
    console.log(row.map((cell, c) => cell.padStart(widths[c]!)).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  const loaded = samples.slice(1);
  const peak = (f: (s: MemorySample) => number) => Math.max(...samples.map(f));
  const first = samples[0];
  const last = samples.at(-1);
  console.log('');
  console.log(`           start (idle)   peak    end`);
  if (first && last) {
    console.log(`RSS MiB    ${mib(first.rss).padStart(12)}  ${mib(peak((s) => s.rss)).padStart(5)}  ${mib(last.rss).padStart(5)}`);
    console.log(`heap MiB   ${mib(first.heapUsed).padStart(12)}  ${mib(peak((s) => s.heapUsed)).padStart(5)}  ${mib(last.heapUsed).padStart(5)}`);
  }
  console.log(
    `\n${SECONDS}s at ${RATE} spans/s offered (${CLIENTS} HTTP clients, ${spansPerTick} spans per request every ${TICK_MS} ms); ` +
      `${counter.acked} spans acknowledged (${Math.round((counter.acked * 1000) / (Date.now() - start))}/s overall), ${refused} requests refused, ${failed} failed; ` +
      `${loaded.length} samples; ledger file ${mib(dbBytes)} MiB at the end; config: ${JSON.stringify(process.env.SOAK_CONFIG ?? "defaults")}.`,
  );
}

await main();
