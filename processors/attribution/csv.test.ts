import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseCsv } from './csv.js';

const fieldsOf = (text: string) => parseCsv(text).records.map((r) => r.fields);
const linesOf = (text: string) => parseCsv(text).records.map((r) => r.line);

test('simple records, with and without trailing newline', () => {
  assert.deepEqual(fieldsOf('a,b\nc,d'), [['a', 'b'], ['c', 'd']]);
  assert.deepEqual(fieldsOf('a,b\nc,d\n'), [['a', 'b'], ['c', 'd']]);
  assert.deepEqual(fieldsOf(''), []);
  assert.deepEqual(fieldsOf('\n'), []);
});

test('CRLF and lone CR line breaks', () => {
  assert.deepEqual(fieldsOf('a,b\r\nc,d\r\n'), [['a', 'b'], ['c', 'd']]);
  assert.deepEqual(fieldsOf('a,b\rc,d'), [['a', 'b'], ['c', 'd']]);
  assert.deepEqual(linesOf('h\r\nx\r\n\r\ny'), [1, 2, 4]);
});

test('UTF-8 BOM is dropped', () => {
  assert.deepEqual(fieldsOf('\uFEFFteam_id,cost_center\nsearch,CC-1'), [['team_id', 'cost_center'], ['search', 'CC-1']]);
});

test('empty fields, trailing comma', () => {
  assert.deepEqual(fieldsOf('a,,c\n,b,\n'), [['a', '', 'c'], ['', 'b', '']]);
  assert.deepEqual(fieldsOf('a,b,'), [['a', 'b', '']]);
});

test('quoted fields: commas, doubled quotes, newlines inside quotes', () => {
  assert.deepEqual(fieldsOf('"a,b","say ""hi""",c'), [['a,b', 'say "hi"', 'c']]);
  assert.deepEqual(fieldsOf('"line1\nline2",x\ny,z'), [['line1\nline2', 'x'], ['y', 'z']]);
  assert.deepEqual(fieldsOf('"line1\r\nline2",x'), [['line1\r\nline2', 'x']]);
  assert.deepEqual(fieldsOf('""'), [['']]);
  assert.deepEqual(fieldsOf('a,""\n'), [['a', '']]);
});

test('record line numbers count line breaks inside quotes and skipped blank lines', () => {
  const text = 'h1,h2\n"multi\nline",x\n\n   \n,,\nlast,row\n';
  assert.deepEqual(parseCsv(text).records, [
    { line: 1, fields: ['h1', 'h2'] },
    { line: 2, fields: ['multi\nline', 'x'] },
    { line: 7, fields: ['last', 'row'] },
  ]);
});

test('blank lines and all-empty rows are skipped, but a quoted empty row is kept', () => {
  assert.deepEqual(fieldsOf('a\n\n\nb\n,,,\n'), [['a'], ['b']]);
  assert.deepEqual(fieldsOf('a\n""\n'), [['a'], ['']]);
});

test('values are returned untrimmed; spaces around a quoted field are allowed', () => {
  assert.deepEqual(fieldsOf(' a , b '), [[' a ', ' b ']]);
  assert.deepEqual(fieldsOf('x,  "q,1"  ,y'), [['x', 'q,1', 'y']]);
});

test('a quote inside an unquoted field is literal', () => {
  assert.deepEqual(fieldsOf('5" screen,b'), [['5" screen', 'b']]);
  assert.deepEqual(parseCsv('5" screen,b').issues, []);
});

test('unterminated quote is an issue on the line where the quote opened', () => {
  const { records, issues } = parseCsv('a,b\nc,"open\nmore\n');
  assert.deepEqual(issues, [{ line: 2, fieldIndex: 1, message: 'unterminated quoted field (no closing ")' }]);
  assert.deepEqual(records[1], { line: 2, fields: ['c', 'open\nmore\n'] });
});

test('text after a closing quote is an issue, and parsing recovers', () => {
  const { records, issues } = parseCsv('"ab"c,d\ne,f');
  assert.equal(issues.length, 1);
  assert.equal(issues[0]?.line, 1);
  assert.equal(issues[0]?.fieldIndex, 0);
  assert.deepEqual(records.map((r) => r.fields), [['abc', 'd'], ['e', 'f']]);
});

test('property: writing fields RFC-4180 style and parsing gives them back', () => {
  const field = fc.string({ unit: fc.constantFrom('a', 'b', ' ', ',', '"', '\n', '\r\n', 'é', 'x') });
  const quote = (value: string) => (/[",\r\n]/.test(value) || value.trim() !== value ? `"${value.replace(/"/g, '""')}"` : value);
  fc.assert(
    fc.property(
      fc.array(fc.array(field, { minLength: 1, maxLength: 5 }), { maxLength: 6 }),
      fc.constantFrom('\n', '\r\n'),
      fc.boolean(),
      (rows, eol, trailing) => {
        // Rows made only of empty fields are skipped by design; keep them out of the round trip.
        const kept = rows.filter((row) => row.some((v) => v.trim() !== ''));
        const text = kept.map((row) => row.map(quote).join(',')).join(eol) + (trailing && kept.length > 0 ? eol : '');
        const { records, issues } = parseCsv(text);
        assert.deepEqual(issues, []);
        assert.deepEqual(records.map((r) => r.fields), kept);
      },
    ),
    { numRuns: 500 },
  );
});
