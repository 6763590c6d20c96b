import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_LEDGER_TEXT_CHARS } from '../../src/pipeline/bound-text.js';
import { UserIdPolicy } from './user-id-policy.js';

const KEY = Buffer.from('k'.repeat(32));

test('pseudonymize: hmac: + the first 32 hex chars of HMAC-SHA256(key, id)', () => {
  // Reference value from `printf alice@example.com | openssl dgst -sha256 -hmac kkkk…k (32 k)`.
  assert.equal(UserIdPolicy.pseudonymize(KEY).apply('alice@example.com'), 'hmac:0d8b3da1ccc85d32dd2c1a1863a4bd48');
});

test('pseudonymize: same id and key → same value (a new policy object, as after a restart); other key or id → other value', () => {
  const a = UserIdPolicy.pseudonymize(KEY).apply('user-42');
  assert.equal(UserIdPolicy.pseudonymize(Buffer.from(KEY)).apply('user-42'), a);
  assert.notEqual(UserIdPolicy.pseudonymize(Buffer.from('x'.repeat(32))).apply('user-42'), a);
  assert.notEqual(UserIdPolicy.pseudonymize(KEY).apply('user-43'), a);
  assert.doesNotMatch(a ?? '', /user-42/);
});

test('pseudonymize refuses a key shorter than 32 bytes', () => {
  assert.throws(() => UserIdPolicy.pseudonymize(Buffer.from('short')), /5 bytes; at least 32/);
});

test('plain stores the id bounded; drop stores nothing; no id is null in every mode', () => {
  assert.equal(UserIdPolicy.plain().apply('alice@example.com'), 'alice@example.com');
  assert.equal(UserIdPolicy.plain().apply('u'.repeat(5000))?.length, MAX_LEDGER_TEXT_CHARS);
  assert.equal(UserIdPolicy.drop().apply('alice@example.com'), null);
  for (const policy of [UserIdPolicy.plain(), UserIdPolicy.drop(), UserIdPolicy.pseudonymize(KEY)]) {
    assert.equal(policy.apply(null), null, policy.mode);
  }
});
