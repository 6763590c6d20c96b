/**
 * `npm run bench`: end-to-end throughput of genai-ledger, printed as a table.
 *
 * W1  512-span OTLP/HTTP protobuf requests, every span a GenAI call.
 * W2  the same, with 95% ordinary HTTP/DB spans (5% GenAI).
 * W2 + forward all spans: W2 with `--forward` to a local destination that takes everything (issue 12).
 * W2 + forward, destination down: W2 forwarding to a dead port, for the server's peak memory.
 * W1 on a 1M-row ledger, alone and with one SQL client looping the monthly chargeback query through the
 * server's SQL port (issue 13: ingestion keeps >= 70%); the query's p50/p99 are printed under the table.
 * For each: spans/s acknowledged by a real `genai-ledger serve` child process (rows committed to a real
 * DuckDB file before each 200), and in the same run the decode-only and decode+process ceilings
 * measured in this process on the same payloads. Server peak RSS is read from /proc.
 *
 * Each workload runs BENCH_RUNS times (default 3), every run on a fresh server and ledger file; the table
 * shows the median run and the range of end-to-end rates. The load generator (bench/http-load.ts) runs in
 * this process and its CPU time is printed, since it shares the machine with the server.
 *
 * Environment: BENCH_SECONDS (default 8), BENCH_CONCURRENCY (default 4), BENCH_RUNS (default 3),
 * BENCH_WORKLOADS (comma-separated name prefixes, e.g. `W1,W2 5%`; default all).
 */
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startServeProcess } from '../test/helpers/cli-process.js';
import { syntheticRequest } from '../test/helpers/synthetic-requests.js';
import { encodeTraceRequestProtobuf } from '../receivers/otlp/testing/encode-protobuf.js';
import { decodeTraceRequestProtobuf } from '../receivers/otlp/decode-protobuf.js';
import { LedgerProcessor } from '../src/pipeline/ledger-processor.js';
import { Attributor } from '../processors/attribution/attributor.js';
import { loadMappingTables } from '../processors/attribution/mapping-tables.js';
import { PriceBook } from '../processors/pricing/price-book.js';
import { runHttpLoad } from './http-load.js';
import { runSqlQueryLoad } from './sql-endpoint-bench.js';
import { createSyntheticLedger } from '../exporters/duckdb/testing/synthetic-ledger.js';

/** Lines printed under the table (what the companions measured). */
const notes: string[] = [];

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 4);
/** Runs per workload: shared machines vary from minute to minute, so the median and the range are printed. */
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
const SPANS_PER_REQUEST = 512;

interface Companion {
  /** serve flags it needs. */
  args: string[];
  stop: () => Promise<void>;
  /** Runs beside the ingest load (a SQL client), told the server's SQL port; returns a figure for the table. */
  during?: (server: { sqlPort: number | null }, durationMs: number) => Promise<string>;
}

interface Workload {
  name: string;
  genAiShare: number;
  /** What runs beside the server for this workload, set up in the run's temp dir (before the server starts). */
  companion?: (dir: string) => Promise<Companion>;
  /** A ledger file to start from instead of an empty one. */
  ledger?: () => Promise<string>;
}

/** A 1M-row ledger (a year of calls), made once per bench run and copied for each server run. */
let millionRowLedger: Promise<string> | null = null;
function millionRows(): Promise<string> {
  millionRowLedger ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-bench-1m-'));
    return createSyntheticLedger(dir, { count: 1_000_000, startMs: Date.now() - 365 * 86_400_000, stepMs: (365 * 86_400_000) / 1_000_000 });
  })();
  return millionRowLedger;
}
const WORKLOADS: Workload[] = [
  { name: 'W1 GenAI only', genAiShare: 1 },
  { name: 'W2 5% GenAI', genAiShare: 0.05 },
  {
    // Issue 12: forwarding every span to a destination must keep >= 70% of W2.
    name: 'W2 + forward all spans',
    genAiShare: 0.05,
    companion: async () => {
      const sink = await startNullSink();
      return { args: ['--forward', sink.url], stop: sink.stop };
    },
  },
  {
    // The same without gzip (`compression: none`, for a destination on the same host or network): the
    // compression's share of the forwarding cost.
    name: 'W2 + forward all spans, no gzip',
    genAiShare: 0.05,
    companion: async (dir) => {
      const sink = await startNullSink();
      const config = join(dir, 'forward.yaml');
      await writeFile(config, `exporters:\n  otlp:\n    sink:\n      endpoint: ${sink.url}\n      compression: none\n`);
      return { args: ['--config', config], stop: sink.stop };
    },
  },
  {
    // Issue 13's baseline: W1 into a ledger that already holds 1M rows.
    name: 'W1 on a 1M-row ledger',
    genAiShare: 1,
    ledger: millionRows,
  },
  {
    // ... with a SQL client looping the monthly chargeback over those rows: ingestion must keep >= 70%.
    name: 'W1 on a 1M-row ledger + SQL',
    genAiShare: 1,
    ledger: millionRows,
    companion: async () => ({
      args: [],
      stop: async () => undefined,
      during: async ({ sqlPort }, durationMs) => {
        if (sqlPort === null) throw new Error('the server has no SQL port');
        const q = await runSqlQueryLoad({ port: sqlPort, durationMs, clients: 1 });
        return `chargeback query ×${q.queries}: p50 ${q.p50Ms.toFixed(0)} ms, p99 ${q.p99Ms.toFixed(0)} ms${q.errors > 0 ? `, ${q.errors} errors` : ''}`;
      },
    }),
  },
  {
    // The destination is down for the whole run: the forwarder's queue fills to queue.maxBytes (64 MiB) and
    // then drops, so the server's memory stays bounded while ingestion goes on.
    name: 'W2 + forward, destination down',
    genAiShare: 0.05,
    companion: async () => ({ args: ['--forward', `http://127.0.0.1:${await deadPort()}`], stop: async () => undefined }),
  },
];

/**
 * A few encoded requests, and the byte offsets of every trace id in them. Each send copies one and stamps
 * a fresh counter into its trace ids, so every request is new to the server (a re-send would be
 * de-duplicated, which is cheaper) while the load generator stays small and leaves the CPU to the server.
 */
class PayloadPool {
  private readonly payloads: { bytes: Buffer; traceIdOffsets: number[] }[];
  private sent = 0;

  constructor(workload: Workload, distinct: number) {
    this.payloads = Array.from({ length: distinct }, () => {
      const request = syntheticRequest({ spans: SPANS_PER_REQUEST, genAiShare: workload.genAiShare });
      const bytes = Buffer.from(encodeTraceRequestProtobuf(request));
      const traceIdOffsets: number[] = [];
      for (const rs of request.resourceSpans) {
        for (const ss of rs.scopeSpans) {
          for (const span of ss.spans) traceIdOffsets.push(bytes.indexOf(Buffer.from(span.traceId, 'hex')));
        }
      }
      if (traceIdOffsets.some((o) => o < 0)) throw new Error('trace id not found in the encoded payload');
      return { bytes, traceIdOffsets };
    });
  }

  sample(count: number): Uint8Array[] {
    return this.payloads.slice(0, count).map((p) => p.bytes);
  }

  next(): Buffer {
    const { bytes, traceIdOffsets } = this.payloads[this.sent % this.payloads.length]!;
    const copy = Buffer.from(bytes);
    const stamp = ++this.sent;
    for (const offset of traceIdOffsets) copy.writeUInt32BE(stamp, offset);
    return copy;
  }
}

/** Decode-only and decode+process rates on the same payloads, single-threaded in this process. */
function ceilings(payloads: Uint8Array[], processor: LedgerProcessor): { decode: number; process: number } {
  const time = (fn: (p: Uint8Array) => void) => {
    let spans = 0;
    const start = process.hrtime.bigint();
    let i = 0;
    while (process.hrtime.bigint() - start < 2_000_000_000n) {
      fn(payloads[i++ % payloads.length]!);
      spans += SPANS_PER_REQUEST;
    }
    return spans / (Number(process.hrtime.bigint() - start) / 1e9);
  };
  return {
    decode: time((p) => decodeTraceRequestProtobuf(p)),
    process: time((p) => processor.process(decodeTraceRequestProtobuf(p))),
  };
}

async function endToEnd(url: string, pool: PayloadPool): Promise<{ spans: number; spansPerSec: number; requests: number; errors: number; p50: number; p99: number }> {
  const target = new URL(url);
  let acknowledged = 0;
  let errors = 0;
  const latencies: number[] = [];
  const started = Date.now();
  await runHttpLoad({
    host: target.hostname,
    port: Number(target.port),
    path: '/v1/traces',
    contentType: 'application/x-protobuf',
    connections: CONCURRENCY,
    deadline: started + SECONDS * 1000,
    nextBody: () => pool.next(),
    onResponse: (status, latencyMs) => {
      latencies.push(latencyMs);
      if (status === 200) acknowledged += SPANS_PER_REQUEST;
      else errors++;
    },
  });
  const elapsed = (Date.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    spans: acknowledged,
    spansPerSec: acknowledged / elapsed,
    requests: latencies.length,
    errors,
    p50: latencies[Math.floor(latencies.length * 0.5)] ?? 0,
    p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0,
  };
}

/**
 * CPU seconds the server process has used (user + system, from /proc): in all its threads, and in the main
 * thread alone, which runs the event loop. The event loop is one thread, so its CPU per span bounds
 * throughput on any number of cores; the rest (DuckDB on libuv's pool, V8's helpers) can spread out.
 */
async function cpuSeconds(pid: number): Promise<{ total: number; eventLoop: number }> {
  const [total, eventLoop] = await Promise.all([
    readFile(`/proc/${pid}/stat`, 'utf8'),
    readFile(`/proc/${pid}/task/${pid}/stat`, 'utf8'),
  ]);
  return { total: statCpuSeconds(total), eventLoop: statCpuSeconds(eventLoop) };
}

function statCpuSeconds(stat: string): number {
  // Fields after the parenthesised command name; utime and stime are the 14th and 15th fields overall.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / CLOCK_TICKS_PER_SECOND;
}
/** USER_HZ is 100 on every Linux this runs on (getconf CLK_TCK). */
const CLOCK_TICKS_PER_SECOND = 100;

async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
  return kb === undefined ? NaN : Number(kb) / 1024;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const microsPerSpan = (cpuSeconds: number, spans: number) => ((cpuSeconds * 1e6) / spans).toFixed(1);

interface RunResult {
  spans: number;
  spansPerSec: number;
  serverCpuSeconds: number;
  eventLoopCpuSeconds: number;
  loadGeneratorCpuSeconds: number;
  p50: number;
  p99: number;
  errors: number;
  peakRssMiB: number;
}

/** One end-to-end run against a fresh server on a fresh ledger file. */
async function measureOnce(pool: PayloadPool, workload: Workload): Promise<RunResult> {
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-bench-'));
  const db = join(dir, 'bench.duckdb');
  if (workload.ledger !== undefined) await copyFile(await workload.ledger(), db);
  const companion = workload.companion === undefined ? null : await workload.companion(dir);
  const server = await startServeProcess(['--db', db, ...(companion?.args ?? [])]);
  try {
    const cpuBefore = await cpuSeconds(server.child.pid!);
    const clientBefore = process.cpuUsage();
    const [result, note] = await Promise.all([
      endToEnd(server.httpUrl, pool),
      companion?.during?.(server, SECONDS * 1000) ?? Promise.resolve(''),
    ]);
    if (note !== '') notes.push(`${workload.name}: ${note}`);
    const clientUsage = process.cpuUsage(clientBefore);
    const cpuAfter = await cpuSeconds(server.child.pid!);
    return {
      ...result,
      serverCpuSeconds: cpuAfter.total - cpuBefore.total,
      eventLoopCpuSeconds: cpuAfter.eventLoop - cpuBefore.eventLoop,
      loadGeneratorCpuSeconds: (clientUsage.user + clientUsage.system) / 1e6,
      peakRssMiB: await peakRss(server.child.pid!),
    };
  } finally {
    server.child.kill('SIGTERM');
    await server.exited;
    await companion?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * A forwarding destination that costs next to nothing: it reads each OTLP/HTTP body and answers 200 with an
 * empty ExportTraceServiceResponse, without decoding, so the figure is the server's forwarding cost.
 */
async function startNullSink(): Promise<{ url: string; bytes: number; stop: () => Promise<void> }> {
  const state = { bytes: 0 };
  const server = createHttpServer((req, res) => {
    req.on('data', (chunk: Buffer) => (state.bytes += chunk.length));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': '0' });
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get bytes() {
      return state.bytes;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const server = createHttpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function main(): Promise<void> {
  const processor = new LedgerProcessor(new Attributor(await loadMappingTables({})), await PriceBook.loadDefault());
  const rows: string[][] = [];
  const only = process.env.BENCH_WORKLOADS?.split(',').map((w) => w.trim());
  for (const workload of WORKLOADS.filter((w) => only === undefined || only.some((o) => w.name.startsWith(o)))) {
    const pool = new PayloadPool(workload, 64);
    const ceiling = ceilings(pool.sample(64), processor);
    const runs: RunResult[] = [];
    for (let i = 0; i < RUNS; i++) runs.push(await measureOnce(pool, workload));
    // The median run by throughput; its other figures are printed with it, so a row is one real run.
    const sorted = [...runs].sort((a, b) => a.spansPerSec - b.spansPerSec);
    const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
    const range = runs.length > 1 ? ` (${fmt(sorted[0]!.spansPerSec)}–${fmt(sorted.at(-1)!.spansPerSec)})` : '';
    rows.push([
      workload.name,
      `${fmt(median.spansPerSec)}${range}`,
      fmt(median.spansPerSec * workload.genAiShare),
      microsPerSpan(median.eventLoopCpuSeconds, median.spans),
      microsPerSpan(median.serverCpuSeconds - median.eventLoopCpuSeconds, median.spans),
      fmt(median.spans / median.eventLoopCpuSeconds),
      fmt(ceiling.decode),
      fmt(ceiling.process),
      `${median.p50.toFixed(1)} / ${median.p99.toFixed(1)}`,
      median.loadGeneratorCpuSeconds.toFixed(2),
      String(runs.reduce((n, r) => n + r.errors, 0)),
      Math.max(...runs.map((r) => r.peakRssMiB)).toFixed(0),
    ]);
  }
  const header = [
    'workload',
    'spans/s e2e, median (range)',
    'GenAI rows/s',
    'event-loop CPU µs/span',
    'other threads CPU µs/span',
    'event-loop bound spans/s',
    'decode-only spans/s',
    'decode+process spans/s',
    'latency p50/p99 ms',
    'load generator CPU-s',
    'errors',
    'server peak RSS MiB',
  ];
  printTable(header, rows);
  for (const note of notes) console.log(note);
  if (millionRowLedger !== null) await rm(dirname(await millionRowLedger), { recursive: true, force: true });
  console.log(
    `\n${SPANS_PER_REQUEST} spans/request, ${CONCURRENCY} keep-alive connections (one request in flight each), ` +
      `${RUNS} runs of ${SECONDS} s per workload, each on a fresh server and ledger, node ${process.version}`,
  );
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padStart(widths[i]!)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
}

await main();
