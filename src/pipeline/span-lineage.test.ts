/**
 * Counted once and ownership across the trace, through the real LedgerProcessor (no database: the effects
 * are applied to a small model of the two tables, test/../testing/ledger-model.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { LedgerProcessor } from './ledger-processor.js';
import { Attributor } from '../../processors/attribution/attributor.js';
import { PriceBook } from '../../processors/pricing/price-book.js';
import { LedgerModel } from './testing/ledger-model.js';
import { hexId, specRequest, type SpanSpec } from './testing/trace-spans.js';
import { TraceIndex } from './trace-index.js';
import { SpanLineage } from './span-lineage.js';

const TESTDATA = path.resolve(fileURLToPath(import.meta.url), '../../../../src/pipeline/testdata/lineage');
const UPDATE_GOLDEN = process.env['UPDATE_GOLDEN'] === '1';
const priceBook = await PriceBook.loadDefault();
const teams = new Map(
  [
    ['search', 'CC-1001'],
    ['support-bot', 'CC-1002'],
    ['growth', 'CC-1003'],
  ].map(([teamId, costCenter]) => [teamId!, { teamId: teamId!, costCenter: costCenter!, line: 1, extra: {} }]),
);
const newProcessor = (options: ConstructorParameters<typeof LedgerProcessor>[2] = {}) =>
  new LedgerProcessor(new Attributor({ teams, services: null } as never), priceBook, options);

const names = (rows: readonly { spanName: string }[]) => rows.map((r) => r.spanName).sort();

/** Runs the requests in order through one processor; returns per-request effects and the final ledger. */
function run(requests: readonly SpanSpec[][], now = 1_000_000) {
  const processor = newProcessor();
  const model = new LedgerModel();
  const steps = requests.map((specs, i) => {
    const result = processor.process(specRequest(specs), now + i);
    model.apply(result);
    return {
      billed: names(result.rows),
      duplicates: names(result.changes?.duplicates ?? []),
      moves: (result.changes?.moves ?? []).map((m) => `${nameOf(specs, requests, m.spanId)} → ${m.toDuplicate ? `duplicate (${m.duplicateReason})` : 'billed'}`),
      ownerUpdates: (result.changes?.ownerUpdates ?? []).map(
        (u) => `${nameOf(specs, requests, u.spanId)}: team ${u.teamId} (${u.attributionSource}), ${u.attributionStatus}`,
      ),
    };
  });
  return { steps, final: model.summary(), billed: model.billed(), model };
}

function nameOf(_specs: readonly SpanSpec[], requests: readonly SpanSpec[][], spanId: string): string {
  for (const specs of requests) for (const s of specs) if (hexId(s.id, 16) === spanId) return s.id;
  return spanId;
}

for (const name of readdirSync(TESTDATA).sort()) {
  test(`golden: ${name}`, () => {
    const dir = path.join(TESTDATA, name);
    const input = JSON.parse(readFileSync(path.join(dir, 'input.json'), 'utf8')) as { requests: SpanSpec[][] };
    const { steps, final } = run(input.requests);
    const actual = { steps, final };
    const expectedFile = path.join(dir, 'expected.json');
    if (UPDATE_GOLDEN || !existsSync(expectedFile)) writeFileSync(expectedFile, `${JSON.stringify(actual, null, 2)}\n`);
    assert.deepEqual(actual, JSON.parse(readFileSync(expectedFile, 'utf8')));
  });
}

const OWNER = { teamId: 'search', projectId: null, costCenter: null, environment: null, service: null, userId: null };

test('trace index: a trace not seen within the window is forgotten; a trace seen again is kept', () => {
  const lineage = new SpanLineage({ windowMs: 1000, maxSpans: 100 });
  assert.ok(lineage.index instanceof TraceIndex);
  lineage.begin(0);
  // A span with ownership and a parent (which it waits for) is indexed at once.
  lineage.observe(hexId('a', 32), hexId('a1', 16), hexId('a0', 16), OWNER, null, 0, null);
  lineage.observe(hexId('b', 32), hexId('b1', 16), hexId('b0', 16), OWNER, null, 0, null);
  lineage.end();
  assert.equal(lineage.index.traceCount, 2);
  lineage.begin(900);
  lineage.observe(hexId('b', 32), hexId('b2', 16), hexId('b0', 16), OWNER, null, 0, null);
  lineage.end();
  lineage.begin(1500);
  lineage.end();
  assert.equal(lineage.index.traceCount, 1, 'trace a (last seen at 0) is gone, b (seen at 900) stays');
  assert.equal(lineage.index.peek(hexId('a', 32)), undefined);
  assert.equal(lineage.index.waitingSpans, 1, 'the evicted trace no longer counts as waiting');
  lineage.begin(2000);
  lineage.end();
  assert.equal(lineage.index.traceCount, 0);
  assert.equal(lineage.index.spans, 0);
  assert.equal(lineage.index.waitingSpans, 0);
});

test('trace index: beyond maxSpans the oldest traces are evicted first, whole', () => {
  const lineage = new SpanLineage({ windowMs: 60_000, maxSpans: 5 });
  for (let t = 0; t < 4; t++) {
    lineage.begin(t * 10);
    // Two spans per trace, each waiting on a parent: indexed, not held in the ring.
    lineage.observe(hexId(`t${t}`, 32), hexId(`t${t}a`, 16), hexId(`t${t}p`, 16), OWNER, null, 0, null);
    lineage.observe(hexId(`t${t}`, 32), hexId(`t${t}b`, 16), hexId(`t${t}p`, 16), OWNER, null, 0, null);
    lineage.end();
  }
  assert.ok(lineage.index.spans <= 5);
  assert.equal(lineage.index.peek(hexId('t0', 32)), undefined, 'oldest trace evicted');
  assert.equal(lineage.index.peek(hexId('t1', 32)), undefined);
  assert.notEqual(lineage.index.peek(hexId('t3', 32)), undefined, 'newest trace kept');
  assert.equal(lineage.index.peek(hexId('t3', 32))!.size, 2, 'a trace is kept whole');
});

test('trace index: root spans wait in the ring without any map entry, and are indexed when a child needs them', () => {
  const lineage = new SpanLineage({ windowMs: 60_000, maxSpans: 1000 });
  lineage.begin(0);
  for (let i = 0; i < 100; i++) assert.equal(lineage.observe(hexId(`r${i}`, 32), hexId(`s${i}`, 16), '', null, null, 0, null), null);
  // A plain span without ownership and with a parent goes to the ring too.
  assert.equal(lineage.observe(hexId('r0', 32), hexId('mid', 16), hexId('s0', 16), null, null, 0, null), null);
  assert.equal(lineage.index.traceCount, 0);
  assert.equal(lineage.index.roots.size, 101);
  const child = lineage.observe(hexId('r0', 32), hexId('leaf', 16), hexId('mid', 16), OWNER, null, 0, null);
  assert.notEqual(child, null);
  assert.equal(lineage.index.roots.size, 0);
  assert.equal(child!.parent?.spanId, hexId('mid', 16));
  assert.equal(child!.parent?.parent?.spanId, hexId('s0', 16), 'the chain is rebuilt from the ring');
  lineage.end();
});

test('trace index: the ring forgets its oldest roots when full and roots older than the window', () => {
  const lineage = new SpanLineage({ windowMs: 1000, maxSpans: 10 });
  lineage.begin(0);
  for (let i = 0; i < 15; i++) lineage.observe(hexId(`r${i}`, 32), hexId(`s${i}`, 16), '', null, null, 0, null);
  assert.equal(lineage.index.roots.size, 10);
  lineage.begin(500);
  lineage.observe(hexId('late', 32), hexId('late', 16), '', null, null, 0, null);
  lineage.begin(1200);
  // Materializing now keeps only what arrived within the window (the root at 500).
  lineage.observe(hexId('x', 32), hexId('x1', 16), hexId('x0', 16), OWNER, null, 0, null);
  assert.equal(lineage.index.peek(hexId('r14', 32)), undefined);
  assert.notEqual(lineage.index.peek(hexId('late', 32)), undefined);
});

test('either order: parent and child split over two requests give the same billed row, owner and one duplicate', () => {
  const parent: SpanSpec = { id: 'wrapper', model: 'gpt-4o', input: 100, output: 10, attrs: { team_id: 'search' } };
  const child: SpanSpec = { id: 'call', parent: 'wrapper', model: 'gpt-4o', input: 100, output: 10 };
  const a = run([[parent], [child]]);
  const b = run([[child], [parent]]);
  const c = run([[child, parent]]);
  for (const r of [a, b, c]) {
    assert.deepEqual(r.billed, ['call']);
    assert.deepEqual(r.final, { call: ['calls', 'search', 'ancestor'], wrapper: ['duplicates', 'search', 'span'] });
  }
});

// ---- property: any split and order of a trace's spans into requests bills the same calls, same owners --------

/** A random trace: a tree of plain and GenAI spans, some with teams, some twins by response id. */
const traceArb = fc
  .array(
    fc.record({
      parent: fc.nat(),
      kind: fc.constantFrom('plain', 'plain', 'call', 'call-no-usage', 'owner'),
      team: fc.constantFrom(null, null, 'search', 'growth'),
      response: fc.constantFrom(null, null, 'r1', 'r2'),
      cached: fc.boolean(),
    }),
    { minLength: 1, maxLength: 10 },
  )
  .map((nodes) =>
    nodes.map((n, i): SpanSpec => {
      const spec: SpanSpec = { id: `s${i}`, parent: i === 0 ? '' : `s${n.parent % i}` };
      if (n.kind === 'owner' || (n.team !== null && n.kind !== 'plain')) spec.attrs = { team_id: n.team ?? 'support-bot' };
      if (n.kind === 'call' || n.kind === 'call-no-usage') {
        spec.model = 'gpt-4o-mini';
        if (n.kind === 'call') {
          spec.input = 100;
          spec.output = 10;
          if (n.cached) spec.cached = 20;
        }
        if (n.response !== null) spec.responseId = n.response;
      }
      return spec;
    }),
  );

test('property: any permutation and split of a trace into requests yields the same billed rows and owners', () => {
  fc.assert(
    fc.property(
      traceArb,
      fc.array(fc.nat(), { minLength: 10, maxLength: 10 }),
      fc.array(fc.boolean(), { minLength: 10, maxLength: 10 }),
      (specs, order, cuts) => {
        const inOrder = run([specs]);
        // Permute with the drawn keys, then cut into requests where drawn.
        const permuted = specs.map((s, i) => ({ s, k: order[i] ?? 0, i })).sort((a, b) => a.k - b.k || a.i - b.i).map((x) => x.s);
        const requests: SpanSpec[][] = [[]];
        permuted.forEach((s, i) => {
          if (i > 0 && cuts[i]) requests.push([]);
          requests[requests.length - 1]!.push(s);
        });
        const split = run(requests);
        assert.deepEqual(split.billed, inOrder.billed);
        assert.deepEqual(split.final, inOrder.final);
        // Counted once: no billed call has a billed GenAI call with usage below it.
        const billed = new Set(split.billed);
        const byId = new Map(specs.map((s) => [s.id, s]));
        for (const s of specs) {
          if (!billed.has(s.id) || s.input === undefined) continue;
          for (let p = byId.get(s.parent ?? ''); p !== undefined; p = byId.get(p.parent ?? '')) {
            assert.ok(!billed.has(p.id) || p.model === undefined, `${p.id} billed above ${s.id}`);
          }
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('property: re-sending any request changes nothing', () => {
  fc.assert(
    fc.property(traceArb, fc.nat(), (specs, pick) => {
      const requests = specs.map((s) => [s]);
      const once = run(requests);
      const again = run([...requests, requests[pick % requests.length]!]);
      assert.deepEqual(again.final, once.final);
    }),
    { numRuns: 200 },
  );
});
