/**
 * User ids over real OTLP into the real CLI, read back from the DuckDB file: pseudonymized by default with a
 * key generated next to the ledger (mode 0600) and reused after a restart, so the same user keeps the same
 * pseudonym; another key gives other pseudonyms; `plain` stores the id, `drop` stores NULL; an unusable key
 * file stops startup with a clear error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyValue } from '../../core/otlp.js';
import { readLedgerRows } from '../helpers/ledger-rows.js';
import { knownSpanRequest, KnownSpanSource } from './known-spans.js';
import { postTraces, startServer, type ServerProcess } from './server-process.js';

const ALICE = 'alice.userid-test@example.com';
const BOB = 'bob-end-user-7f3a';

/** Sends `n` spans carrying `attributes` (besides the known-span ones); returns their span ids. */
async function send(server: ServerProcess, source: KnownSpanSource, n: number, attributes: KeyValue[]): Promise<string[]> {
  const spans = source.take(n);
  const request = knownSpanRequest(spans, 'userid-svc');
  for (const s of request.resourceSpans[0]!.scopeSpans[0]!.spans) s.attributes.push(...attributes);
  assert.equal((await postTraces(server.httpUrl, request)).status, 200);
  return spans.map((s) => s.spanId);
}

async function stop(server: ServerProcess): Promise<void> {
  server.child.kill('SIGTERM');
  assert.equal(await server.exited, 0, server.output());
}

const hmac = (key: Buffer, id: string) => `hmac:${createHmac('sha256', key).update(id).digest('hex').slice(0, 32)}`;

test('default: user ids are stored as stable keyed pseudonyms; the key is generated beside the ledger and survives restarts', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-userid-'));
  const db = join(dir, 'ledger.duckdb');
  const source = new KnownSpanSource();
  try {
    let server = await startServer({ db });
    const alice1 = await send(server, source, 3, [{ key: 'user.id', value: ALICE }]);
    // LiteLLM: the key's user id missing (""), the end user given, inside the one-attribute metadata form.
    const bob = await send(server, source, 2, [{ key: 'metadata', value: `{'user_api_key_user_id': '', 'user_api_key_end_user_id': '${BOB}'}` }]);
    const nobody = await send(server, source, 2, []);
    await stop(server);

    const keyFile = `${db}.userid.key`;
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    const key = (await readFile(keyFile)).subarray(0, 64);

    server = await startServer({ db });
    const alice2 = await send(server, source, 3, [{ key: 'enduser.id', value: ALICE }]);
    await stop(server);

    const rows = await readLedgerRows(db);
    const userOf = new Map(rows.map((r) => [r.span_id!, r.user_id]));
    for (const id of [...alice1, ...alice2]) assert.equal(userOf.get(id), hmac(key, ALICE), 'same pseudonym before and after the restart');
    for (const id of bob) assert.equal(userOf.get(id), hmac(key, BOB));
    for (const id of nobody) assert.equal(userOf.get(id), null);
    assert.notEqual(hmac(key, ALICE), hmac(key, BOB));

    // The ids themselves are nowhere in the ledger file (nor its WAL), and the key is not in it either.
    const bytes = await readFile(db);
    for (const secret of [ALICE, BOB, key.toString()]) assert.equal(bytes.includes(secret), false, `${secret} not in the file`);
    assert.ok(bytes.includes(hmac(key, ALICE)), 'the byte search does find a stored value');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('privacy.userIdKeyFile: another key gives other pseudonyms; plain stores the id; drop stores NULL', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-userid-modes-'));
  const source = new KnownSpanSource();
  const keyA = Buffer.from('a'.repeat(48));
  const keyB = Buffer.from('b'.repeat(48));
  await writeFile(join(dir, 'a.key'), keyA, { mode: 0o600 });
  await writeFile(join(dir, 'b.key'), keyB, { mode: 0o600 });
  const stored = async (name: string, privacy: string): Promise<(string | null)[]> => {
    const config = join(dir, `${name}.yaml`);
    await writeFile(config, `privacy:\n${privacy}`);
    const db = join(dir, `${name}.duckdb`);
    const server = await startServer({ db, args: ['--config', config] });
    await send(server, source, 2, [{ key: 'user.id', value: ALICE }]);
    await stop(server);
    return (await readLedgerRows(db)).map((r) => r.user_id ?? null);
  };
  try {
    const a = await stored('a', '  userIdKeyFile: a.key\n');
    const b = await stored('b', '  userIds: pseudonymize\n  userIdKeyFile: b.key\n');
    assert.deepEqual(a, [hmac(keyA, ALICE), hmac(keyA, ALICE)]);
    assert.deepEqual(b, [hmac(keyB, ALICE), hmac(keyB, ALICE)]);
    assert.notEqual(a[0], b[0]);
    assert.deepEqual(await stored('plain', '  userIds: plain\n'), [ALICE, ALICE]);
    assert.deepEqual(await stored('drop', '  userIds: drop\n'), [null, null]);
    const noKeyFiles = ['plain', 'drop'].map((n) => stat(join(dir, `${n}.duckdb.userid.key`)).then(() => true, () => false));
    assert.deepEqual(await Promise.all(noKeyFiles), [false, false], 'no key is generated when none is needed');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a key file that is too short or unreadable stops startup with an error naming it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-userid-badkey-'));
  try {
    await writeFile(join(dir, 'short.key'), 'too-short\n', { mode: 0o600 });
    for (const [file, message] of [
      ['short.key', /short\.key[^]*privacy\.userIdKeyFile: the user id key is 9 bytes; at least 32 are needed/],
      ['missing.key', /missing\.key[^]*cannot read the user id key/],
    ] as const) {
      const config = join(dir, 'genai-ledger.yaml');
      await writeFile(config, `privacy:\n  userIdKeyFile: ${file}\n`);
      await assert.rejects(startServer({ db: join(dir, 'ledger.duckdb'), args: ['--config', config] }), message);
    }
    assert.equal(await stat(join(dir, 'ledger.duckdb')).then(() => true, () => false), false, 'the ledger was not created');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
