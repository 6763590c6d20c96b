/**
 * The staging path stores repeated text once per "profile" (distinct combination of shared columns) and
 * joins it back in the INSERT. Property: whatever the text — empty, NULL, separators, digits and colons
 * that would fool a key built by concatenation, NUL bytes, non-ASCII — every row reads back with exactly
 * its own values, and rows that differ in one shared column never share a profile.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { join } from 'node:path';
import fc from 'fast-check';
import type { LedgerRow } from '../../core/ledger-row.js';
import { DuckDbExporter } from './duckdb-exporter.js';
import { queryFile, tempDir, writeLedgerRows } from './testing/ledger-test-utils.js';
import { sampleLedgerRow } from './testing/sample-rows.js';

let dir: string;
let cleanup: () => Promise<void>;
before(async () => ({ dir, cleanup } = await tempDir()));
after(() => cleanup());

// Few characters, so that generated values collide often and look like each other's key encodings.
const tricky = fc.option(fc.string({ unit: fc.constantFrom('a', '1', ':', '~', '\u0000', 'é', ''), maxLength: 6 }), { nil: null });

test('property: rows read back with exactly their own shared-column values', async () => {
  const path = join(dir, 'profiles.duckdb');
  const exporter = new DuckDbExporter({ path });
  await exporter.start();
  const written: LedgerRow[] = [];
  let spanNo = 0;
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ teamId: tricky, model: tricky, service: tricky, costCenter: tricky, spanName: fc.string({ maxLength: 4 }) }), {
          minLength: 1,
          maxLength: 40,
        }),
        async (variants) => {
          const rows = variants.map((v) =>
            sampleLedgerRow({ ...v, spanId: (++spanNo).toString(16).padStart(16, '0') }),
          );
          await exporter.write(rows);
          written.push(...rows);
        },
      ),
      { numRuns: 40 },
    );
  } finally {
    await exporter.shutdown();
  }
  const stored = await queryFile(path, 'SELECT span_id, team_id, model, service, cost_center, span_name FROM genai_calls ORDER BY span_id');
  assert.equal(stored.length, written.length);
  const expected = written
    .map((r) => [r.spanId, r.teamId, r.model, r.service, r.costCenter, r.spanName])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
  assert.deepEqual(stored, expected);
});

test('combinations that concatenate alike stay apart (NULL vs "~", shifted boundaries, fake length prefixes)', async () => {
  const path = join(dir, 'adversarial.duckdb');
  const cases: Partial<LedgerRow>[] = [
    { teamId: 'a', model: '' },
    { teamId: '', model: 'a' },
    { teamId: null, model: '~' },
    { teamId: '~', model: null },
    { teamId: '1:a', model: 'b' },
    { teamId: '1', model: ':ab' },
    { teamId: '3:1:a1:b', model: null },
    { teamId: 'NULL', model: null },
    { teamId: null, model: 'NULL' },
  ];
  const rows = cases.map((c, i) => sampleLedgerRow({ ...c, spanId: (i + 1).toString(16).padStart(16, '0') }));
  await writeLedgerRows(path, rows);
  const stored = await queryFile(path, 'SELECT team_id, model FROM genai_calls ORDER BY span_id');
  assert.deepEqual(
    stored,
    cases.map((c) => [c.teamId, c.model]),
  );
});
