import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FanOut, worstError } from './fan-out.js';
import { PipelineError } from '../../core/pipeline-errors.js';
import type { ProcessedBatch, TraceExporter } from '../../core/exporter.js';

const batch: ProcessedBatch = { request: { resourceSpans: [] }, raw: null, rows: [], changes: null, decisionOf: () => undefined };

/** An exporter whose export settles when the test says so. */
function exporter(name: string, acknowledges: boolean) {
  const calls: ((err?: Error) => void)[] = [];
  const e: TraceExporter & { settle: (err?: Error) => void; calls: number } = {
    name,
    acknowledges,
    start: async () => undefined,
    shutdown: async () => undefined,
    export: () =>
      new Promise<void>((resolve, reject) => {
        calls.push((err) => (err ? reject(err) : resolve()));
      }),
    settle: (err) => calls.shift()?.(err),
    get calls() {
      return calls.length;
    },
  };
  return e;
}

test('the answer waits for every acknowledging exporter, and for no other', async () => {
  const ledger = exporter('duckdb', true);
  const audit = exporter('audit', true);
  const forward = exporter('otlp/tempo', false);
  const fan = new FanOut([ledger, audit, forward]);
  let done = false;
  const p = fan.export(batch).then(() => (done = true));
  assert.equal(forward.calls, 0, 'not forwarded before the ledger has it');
  ledger.settle();
  await new Promise((r) => setImmediate(r));
  assert.equal(done, false, 'still waiting for the second acknowledging exporter');
  audit.settle();
  await p;
  assert.equal(done, true);
  assert.equal(forward.calls, 1, 'forwarded before the client was answered');
  forward.settle(new Error('destination down')); // never reaches the client
});

test('a batch the ledger refused is not forwarded (the retry brings it back)', async () => {
  const ledger = exporter('duckdb', true);
  const forward = exporter('otlp/tempo', false);
  const p = new FanOut([ledger, forward]).export(batch);
  ledger.settle(new PipelineError('unavailable', 'disk full', 1));
  await assert.rejects(p);
  assert.equal(forward.calls, 0);
});

test('a failing exporter that does not acknowledge never fails the request', async () => {
  const ledger = exporter('duckdb', true);
  const throwing: TraceExporter = {
    name: 'broken',
    acknowledges: false,
    start: async () => undefined,
    shutdown: async () => undefined,
    export: () => {
      throw new Error('bug');
    },
  };
  const p = new FanOut([throwing, ledger]).export(batch);
  ledger.settle();
  await p;
});

test('the worst status wins: retryable over permanent, then the longest Retry-After', async () => {
  const invalid = new PipelineError('invalid', 'bad row');
  const busy = new PipelineError('overloaded', 'busy', 1);
  const down = new PipelineError('unavailable', 'disk', 5);
  const later = new PipelineError('unavailable', 'disk', 30);
  assert.equal(worstError([invalid, busy]), busy);
  assert.equal(worstError([busy, down, invalid]), down);
  assert.equal(worstError([down, later]), later);
  const a = exporter('a', true);
  const b = exporter('b', true);
  const p = new FanOut([a, b]).export(batch);
  a.settle(invalid);
  b.settle(down);
  await assert.rejects(p, (err) => err === down);
});
