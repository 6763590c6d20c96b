import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ConfigFileError } from '../../core/config-file-error.js';
import { generatedKeyPath, loadUserIdKey } from './user-id-key.js';

let dir: string;
before(async () => (dir = await mkdtemp(join(tmpdir(), 'genai-ledger-userid-key-'))));
after(() => rm(dir, { recursive: true, force: true }));

test('without a key file, a random key is generated next to the ledger (mode 0600) and reused on the next start', async () => {
  const ledger = join(dir, 'sub', 'ledger.duckdb');
  const first = await loadUserIdKey(undefined, ledger);
  assert.equal(first.file, generatedKeyPath(ledger));
  assert.equal(first.file, `${ledger}.userid.key`);
  assert.equal(first.generated, true);
  assert.equal(first.key.length, 64, '32 random bytes as hex');
  assert.match((await readFile(first.file, 'utf8')).trim(), /^[0-9a-f]{64}$/);
  assert.equal((await stat(first.file)).mode & 0o777, 0o600);
  assert.deepEqual(first.warnings, []);

  const second = await loadUserIdKey(undefined, ledger);
  assert.equal(second.generated, false);
  assert.ok(second.key.equals(first.key), 'same key after a restart');

  const other = await loadUserIdKey(undefined, join(dir, 'other.duckdb'));
  assert.ok(!other.key.equals(first.key), 'another ledger gets its own key');
});

test('a configured key file is used as is (trailing newline ignored); a readable-by-others file is a warning', async () => {
  const file = join(dir, 'my.key');
  await writeFile(file, `${'z'.repeat(40)}\n`, { mode: 0o644 });
  await chmod(file, 0o644);
  const loaded = await loadUserIdKey(file, join(dir, 'unused.duckdb'));
  assert.equal(loaded.key.toString(), 'z'.repeat(40));
  assert.equal(loaded.generated, false);
  assert.match(loaded.warnings[0] ?? '', /readable by other users \(mode 644\); chmod 600/);
});

test('an unreadable or too short key file is refused with a ConfigFileError naming it', async () => {
  const short = join(dir, 'short.key');
  await writeFile(short, 'only-20-bytes-long!!\n', { mode: 0o600 });
  await assert.rejects(loadUserIdKey(short, join(dir, 'x.duckdb')), (err: unknown) => {
    assert.ok(err instanceof ConfigFileError);
    assert.equal(err.file, short);
    assert.match(err.message, /privacy\.userIdKeyFile: the user id key is 20 bytes; at least 32 are needed/);
    return true;
  });
  const missing = join(dir, 'missing.key');
  await assert.rejects(loadUserIdKey(missing, join(dir, 'x.duckdb')), /missing\.key[^]*cannot read the user id key: ENOENT/);
});
