/**
 * kill -9 under sustained load: the real CLI server is SIGKILLed at random moments while clients with the
 * OTel exporters' retry behaviour send known GenAI spans (6 over OTLP/HTTP, 2 over OTLP/gRPC), and
 * restarted on the same file. The ledger must hold every acknowledged span, nothing that was never sent, no duplicate, and no mangled row.
 *
 * Default: 3 kills. Long variant (docs/reliability.md): GENAI_LEDGER_LONG=1 (or `npm run test:long`) → 25 kills.
 * Set GENAI_LEDGER_RELIABILITY_LOG=1 to print the figures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runKill9 } from './kill9-harness.js';

const LONG = process.env.GENAI_LEDGER_LONG === '1';
const VERBOSE = process.env.GENAI_LEDGER_RELIABILITY_LOG === '1';

test(`kill -9 at random points under load, ${LONG ? 25 : 3} times: nothing acknowledged is lost, nothing doubled`, { timeout: LONG ? 600_000 : 120_000 }, async () => {
  const report = await runKill9({
    kills: LONG ? 25 : 3,
    workers: 6,
    grpcWorkers: 2,
    spansPerRequest: 25,
    upMs: [50, 700],
    resendShare: 0.1,
    log: VERBOSE ? (line) => console.log(`kill9: ${line}`) : undefined,
  });
  if (VERBOSE) console.log('kill9 report', JSON.stringify({ ...report, lostAcknowledged: report.lostAcknowledged.length, unknownRows: report.unknownRows.length, mangledRows: report.mangledRows.length }));
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
});
