/**
 * `npm run bench:overload`: what overload does to a real `genai-ledger serve` child process.
 *
 * For two in-flight limit settings (the defaults, and a tight 4 MiB / 2000 spans), three phases of
 * BENCH_SECONDS each (default 5): a sustainable load (4 HTTP clients), an overload of 64 HTTP + 16 gRPC
 * clients that never wait (each resends as soon as it is answered, >10x the sustainable offered load),
 * then the sustainable load again. Prints acknowledged spans/s, answers by status, and the server's
 * resident memory (VmRSS now, VmHWM peak since start) from /proc.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KnownSpanSource } from '../test/reliability/known-spans.js';
import { runPhase, type PhaseResult } from '../test/reliability/overload-driver.js';
import { residentMemoryKiB, startServer } from '../test/reliability/server-process.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const SPANS_PER_REQUEST = 400;

const SETTINGS = [
  { name: 'default limits (256 MiB, 1M spans)', yaml: '' },
  {
    name: 'tight limits (4 MiB, 2000 spans, DuckDB 256MB)',
    yaml: 'pipeline:\n  maxInFlightBytes: 4194304\n  maxInFlightSpans: 2000\nexporters:\n  duckdb:\n    memoryLimit: 256MB\n',
  },
];
const PHASES = [
  { name: 'sustainable', httpClients: 4, grpcClients: 0 },
  { name: 'overload', httpClients: 64, grpcClients: 16 },
  { name: 'recovered', httpClients: 4, grpcClients: 0 },
];

const mib = (kib: number | null | undefined) => (kib === null || kib === undefined ? 'n/a' : (kib / 1024).toFixed(0));
const answers = (r: PhaseResult) =>
  [...[...r.http].map(([k, v]) => `${k}:${v}`), ...[...r.grpc].map(([k, v]) => `${k}:${v}`)].join(' ');

async function main(): Promise<void> {
  const rows: string[][] = [['limits', 'phase', 'clients', 'acked spans/s', 'answers', 'RSS MiB', 'peak RSS MiB']];
  for (const setting of SETTINGS) {
    const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-bench-overload-'));
    const config = join(dir, 'genai-ledger.yaml');
    await writeFile(config, setting.yaml);
    const server = await startServer({ db: join(dir, 'ledger.duckdb'), args: ['--config', config] });
    try {
      const idle = await residentMemoryKiB(server.pid);
      rows.push([setting.name, 'idle', '0', '', '', mib(idle?.current), mib(idle?.peak)]);
      const source = new KnownSpanSource();
      for (const phase of PHASES) {
        const r = await runPhase(server, source, {
          httpClients: phase.httpClients,
          grpcClients: phase.grpcClients,
          requestsPerClient: Infinity,
          durationMs: SECONDS * 1000,
          spansPerRequest: SPANS_PER_REQUEST,
        });
        const rss = await residentMemoryKiB(server.pid);
        rows.push([
          setting.name,
          phase.name,
          String(phase.httpClients + phase.grpcClients),
          String(Math.round((r.acknowledgedSpans.size / r.elapsedMs) * 1000)),
          answers(r),
          mib(rss?.current),
          mib(r.peakRssKiB),
        ]);
      }
      server.child.kill('SIGTERM');
      await server.exited;
    } finally {
      if (server.child.exitCode === null) server.child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const [i, row] of rows.entries()) {
    console.log(row.map((cell, c) => cell.padEnd(widths[c]!)).join('  '));
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
  console.log(`\n${SPANS_PER_REQUEST} GenAI spans per request, ${SECONDS}s per phase, no client retries (every answer counted).`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
