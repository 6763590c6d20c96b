/** `genai-ledger --help` says what the commands really accept. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from './helpers/cli-process.js';

test('--help: query --db is optional and --snapshot is listed; serve lists --prices', async () => {
  const r = await runCli(['--help']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /genai-ledger query \[--db PATH\] \[--format table\|csv\|json\] \[--snapshot\] \[--sql-port N\] "SQL"/);
  assert.match(r.stdout, /\[--teams FILE\] \[--services FILE\] \[--prices FILE\]/);
  assert.match(r.stdout, /prices check \[--db PATH\]/);
  assert.match(r.stdout, /reprice \[--db PATH\] --from DATE --to DATE/);
});
