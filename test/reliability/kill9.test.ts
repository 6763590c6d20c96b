/**
 * kill -9 under sustained load: the real CLI server is SIGKILLed at random moments while clients with the
 * OTel exporters' retry behaviour send known GenAI spans (6 over OTLP/HTTP, 2 over OTLP/gRPC), and
 * restarted on the same file. The ledger must hold every acknowledged span, nothing that was never sent, no duplicate, and no mangled row.
 *
 * Run once with the default single writer and once with two writer lanes (`exporters.duckdb.writers: 2`).
 * Default: 3 kills each. Long variant (docs/reliability.md): GENAI_LEDGER_LONG=1 (or `npm run test:long`) → 25
 * and 10 kills.
 * Set GENAI_LEDGER_RELIABILITY_LOG=1 to print the figures.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runKill9, type Kill9Report } from './kill9-harness.js';

const LONG = process.env.GENAI_LEDGER_LONG === '1';
const VERBOSE = process.env.GENAI_LEDGER_RELIABILITY_LOG === '1';

/** What every kill -9 run must show, whatever the server's configuration. */
function assertNothingLostOrDoubled(report: Kill9Report, label: string): void {
  if (VERBOSE) console.log(`kill9 report${label}`, JSON.stringify({ ...report, lostAcknowledged: report.lostAcknowledged.length, unknownRows: report.unknownRows.length, mangledRows: report.mangledRows.length }));
  assert.equal(report.refusedRequests, 0, 'every request eventually got a 200');
  assert.ok(report.acknowledgedByTransport.http > 0 && report.acknowledgedByTransport.grpc > 0, 'both transports were acknowledged');
  assert.ok(report.requestsResent > 0, 'some acknowledged batches were re-sent');
  assert.deepEqual(report.lostAcknowledged.slice(0, 5), [], `${report.lostAcknowledged.length} acknowledged spans lost`);
  assert.deepEqual(report.unknownRows.slice(0, 5), [], 'ledger holds only spans that were sent');
  assert.deepEqual(report.mangledRows.slice(0, 5), [], 'every row holds what was sent');
  assert.equal(report.rowsInLedger, report.distinctRowsInLedger, 'no duplicate (trace_id, span_id)');
  // Workers drained every batch to an answer before the final stop, so every sent span was acknowledged.
  assert.equal(report.spansAcknowledged, report.spansSent);
  assert.equal(report.rowsInLedger, report.spansSent);
  assert.equal(report.serverExitCode, 0, 'the last incarnation stopped cleanly');
}

const LOAD = { workers: 6, grpcWorkers: 2, spansPerRequest: 25, upMs: [50, 700] as [number, number], resendShare: 0.1 };
const log = VERBOSE ? (line: string) => console.log(`kill9: ${line}`) : undefined;

test(`kill -9 at random points under load, ${LONG ? 25 : 3} times: nothing acknowledged is lost, nothing doubled`, { timeout: LONG ? 600_000 : 120_000 }, async () => {
  assertNothingLostOrDoubled(await runKill9({ kills: LONG ? 25 : 3, ...LOAD, log }), '');
});

test(`the same with two writer lanes committing side by side (exporters.duckdb.writers: 2), ${LONG ? 10 : 3} kills`, { timeout: LONG ? 300_000 : 120_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-kill9-writers-'));
  try {
    const config = join(dir, 'two-writers.yaml');
    await writeFile(config, 'exporters:\n  duckdb:\n    writers: 2\n');
    assertNothingLostOrDoubled(await runKill9({ kills: LONG ? 10 : 3, ...LOAD, serverArgs: ['--config', config], log }), ' (2 writers)');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
