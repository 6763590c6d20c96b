import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { it } from 'node:test';
import { progress } from './progress.js';

function sink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let out = '';
  stream.on('data', (d: Buffer) => (out += d.toString()));
  return { stream, text: () => out };
}

it('not a terminal: nothing while working, one summary line at the end', () => {
  const s = sink();
  const p = progress('importing', { stream: s.stream, tty: false, unit: 'files' });
  for (let i = 0; i <= 10; i++) p.update(i, 10, `file ${i}`);
  p.finish('imported 10 files');
  assert.equal(s.text(), 'imported 10 files\n');
});

it('a terminal: a bar redrawn in place, cleared before the summary', () => {
  const s = sink();
  const p = progress('importing', { stream: s.stream, tty: true, unit: 'files' });
  p.update(5, 10);
  p.update(10, 10);
  p.finish('done');
  const out = s.text();
  assert.match(out, /\r\x1b\[2Kimporting \[#{12}-{12}\]  50% 5\/10 files/);
  assert.match(out, /\r\x1b\[2Kimporting \[#{24}\] 100% 10\/10 files/);
  assert.ok(out.endsWith('\r\x1b[2Kdone\n'));
});

it('an unknown total shows a count', () => {
  const s = sink();
  const p = progress('fetching', { stream: s.stream, tty: true, unit: 'pages' });
  p.update(3, null, 'openai.costs');
  assert.match(s.text(), /fetching 3 pages openai\.costs/);
});
