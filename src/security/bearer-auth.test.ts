import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { BearerTokenVerifier, loadBearerTokenVerifier } from './bearer-auth.js';

const TOKEN = 'tok_0123456789abcdef0123';

test('accepts exactly "Bearer <token>" for each configured token', () => {
  const v = new BearerTokenVerifier([TOKEN, 'other-token-000000000']);
  assert.equal(v.verify(`Bearer ${TOKEN}`), true);
  assert.equal(v.verify(`bearer ${TOKEN}`), true);
  assert.equal(v.verify('Bearer other-token-000000000'), true);
  for (const bad of [undefined, '', TOKEN, `Basic ${TOKEN}`, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, 'Bearer ', `Bearer ${TOKEN} extra`]) {
    assert.equal(v.verify(bad), false, String(bad));
  }
});

test('property: no other string is accepted', () => {
  const v = new BearerTokenVerifier([TOKEN]);
  fc.assert(fc.property(fc.string(), (s) => v.verify(`Bearer ${s}`) === (s === TOKEN)), { numRuns: 2000 });
});

test('tokens from a file (comments, blank lines) and an env var; problems name file:line or variable', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-auth-'));
  try {
    const file = join(dir, 'tokens');
    await writeFile(file, `# clients\n${TOKEN}\n\n`);
    const v = await loadBearerTokenVerifier({ tokenFile: file, tokenEnv: 'T' }, { T: 'env-token-0123456789' });
    assert.equal(v?.verify(`Bearer ${TOKEN}`), true);
    assert.equal(v?.verify('Bearer env-token-0123456789'), true);
    assert.equal(await loadBearerTokenVerifier({}), null);

    await writeFile(file, `${TOKEN}\nshort\n`);
    await assert.rejects(loadBearerTokenVerifier({ tokenFile: file }), new RegExp(`${file}:2: token shorter than 16`));
    await assert.rejects(loadBearerTokenVerifier({ tokenEnv: 'NOPE' }, {}), /environment variable NOPE is not set/);
    await assert.rejects(loadBearerTokenVerifier({ tokenFile: join(dir, 'missing') }), /tokenFile: cannot read/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
