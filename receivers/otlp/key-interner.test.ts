import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { internedKey } from './key-interner.js';

const bytes = (text: string) => new Uint8Array(Buffer.from(text, 'utf8'));

test('the same key bytes give the same (shared) string, wherever they sit in a buffer', () => {
  const a = bytes('xx gen_ai.usage.input_tokens yy');
  const b = bytes('gen_ai.usage.input_tokens');
  const first = internedKey(a, 3, 3 + 25);
  const second = internedKey(b, 0, b.length);
  assert.equal(first, 'gen_ai.usage.input_tokens');
  assert.equal(second, first);
});

test('long, empty and non-ASCII keys are left to the ordinary decoder', () => {
  const long = bytes('k'.repeat(65));
  assert.equal(internedKey(long, 0, long.length), undefined);
  assert.equal(internedKey(long, 0, 0), undefined);
  const accented = bytes('équipe');
  assert.equal(internedKey(accented, 0, accented.length), undefined);
});

test('property: an interned key always equals the bytes it was read from', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 0x7f }), { minLength: 1, maxLength: 80 }), (codes) => {
      const buf = Uint8Array.from(codes);
      const key = internedKey(buf, 0, buf.length);
      if (key !== undefined) assert.equal(key, String.fromCharCode(...codes));
    }),
    { numRuns: 2000 },
  );
});

test('bounded: once the table is full, new keys are not remembered but known keys still are', () => {
  const known = bytes('service.name');
  const sharedBefore = internedKey(known, 0, known.length);
  for (let i = 0; i < 10_000; i++) {
    const k = bytes(`random.key.${i}`);
    const got = internedKey(k, 0, k.length);
    if (got !== undefined) assert.equal(got, `random.key.${i}`);
  }
  const late = bytes('a.key.seen.after.the.table.filled');
  assert.equal(internedKey(late, 0, late.length), undefined);
  assert.equal(internedKey(known, 0, known.length), sharedBefore);
});
