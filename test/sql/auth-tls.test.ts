/**
 * Who may connect: loopback without a password by default; a refuse-to-start rule for other addresses
 * without one; SCRAM-SHA-256 with the password from a file or an environment variable (wrong password →
 * 28P01) for node-postgres, psql and psycopg2; TLS with the configured certificate, plaintext refused then.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { SqlEndpoint } from '../../src/sql-endpoint/sql-endpoint.js';
import { isLoopbackHost } from '../../src/sql-endpoint/sql-endpoint-config.js';
import { requireClient, startLiveLedger, type LiveLedger } from '../../src/sql-endpoint/testing/live-ledger.js';
import { selfSignedCert } from '../reliability/tls-cert.js';

const run = promisify(execFile);
const PASSWORD = 'correct-horse-battery-staple';

describe('listening address and the refuse-to-start rule', () => {
  test('127.0.0.1:5433 by default; loopback needs no password', () => {
    const endpoint = new SqlEndpoint({}, () => null);
    assert.equal(endpoint.config.host, '127.0.0.1');
    assert.equal(endpoint.config.port, 5433);
    for (const host of ['127.0.0.1', '127.8.9.10', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) assert.ok(isLoopbackHost(host), host);
    for (const host of ['0.0.0.0', '::', '10.0.0.5', 'db.example.com', '::ffff:10.0.0.1']) assert.equal(isLoopbackHost(host), false, host);
  });

  test('another address without a password is refused with the keys to set', () => {
    assert.throws(() => new SqlEndpoint({ host: '0.0.0.0' }, () => null), /sql\.host is 0\.0\.0\.0.*no password is configured: set sql\.passwordFile or sql\.passwordEnv/);
    assert.doesNotThrow(() => new SqlEndpoint({ host: '0.0.0.0', passwordEnv: 'GENAI_LEDGER_SQL_PASSWORD' }, () => null));
    assert.doesNotThrow(() => new SqlEndpoint({ host: '0.0.0.0', enabled: false }, () => null));
  });

  test('the password itself is not a config key', () => {
    assert.throws(() => new SqlEndpoint({ password: PASSWORD } as never, () => null), /password/);
  });

  test('a short password, an unset variable or an unreadable file stop startup, naming the key', async () => {
    const short = new SqlEndpoint({ port: 0, passwordEnv: 'PW' }, () => null, { env: { PW: 'short' } });
    await assert.rejects(short.start(), /sql\.passwordEnv \(PW\): the password is shorter than 12 characters/);
    const unset = new SqlEndpoint({ port: 0, passwordEnv: 'PW' }, () => null, { env: {} });
    await assert.rejects(unset.start(), /sql\.passwordEnv: environment variable PW is not set/);
    const missing = new SqlEndpoint({ port: 0, passwordFile: '/nonexistent/pw' }, () => null);
    await assert.rejects(missing.start(), /sql\.passwordFile: cannot read \/nonexistent\/pw/);
  });
});

describe('password (SCRAM-SHA-256) on any address', () => {
  let ledger: LiveLedger;
  before(async () => {
    ledger = await startLiveLedger({ sql: { host: '0.0.0.0', passwordEnv: 'SQL_PW' }, env: { SQL_PW: PASSWORD } });
  });
  after(() => ledger.close());
  const connect = async (password: string) => {
    const client = new pg.Client({ host: '127.0.0.1', port: ledger.port, user: 'anyone', database: 'ledger', password });
    await client.connect();
    return client;
  };

  test('node-postgres: the right password connects; a wrong one gets 28P01', async () => {
    const client = await connect(PASSWORD);
    assert.equal((await client.query('SELECT 1 AS one')).rows[0].one, 1);
    await client.end();
    await assert.rejects(connect('wrong-password-123'), (err: { code?: string; message: string }) => {
      assert.equal(err.code, '28P01');
      assert.match(err.message, /password authentication failed for user "anyone"/);
      return true;
    });
  });

  test('psql with PGPASSWORD (libpq’s SCRAM), and the wrong one', async () => {
    const psql = await requireClient('psql');
    const args = ['-X', '-A', '-t', `host=127.0.0.1 port=${ledger.port} user=grafana dbname=ledger`, '-c', 'SELECT 40 + 2'];
    const { stdout } = await run(psql, args, { env: { ...process.env, PGPASSWORD: PASSWORD } });
    assert.equal(stdout.trim(), '42');
    await assert.rejects(run(psql, args, { env: { ...process.env, PGPASSWORD: 'not-the-password' } }), /password authentication failed/);
  });

  test('psycopg2 with a password', async () => {
    const python = await requireClient('psycopg2');
    const script = `import psycopg2; c = psycopg2.connect(host="127.0.0.1", port=${ledger.port}, user="pandas", dbname="ledger", password="${PASSWORD}"); cur = c.cursor(); cur.execute("SELECT 6 * 7"); print(cur.fetchone()[0])`;
    assert.equal((await run(python, ['-c', script])).stdout.trim(), '42');
  });
});

describe('TLS', () => {
  let ledger: LiveLedger;
  let certDir: string;
  let cert: { certFile: string; keyFile: string };
  before(async () => {
    certDir = await mkdtemp(join(tmpdir(), 'genai-ledger-sql-tls-'));
    const made = await selfSignedCert(certDir);
    if (made === null) throw new Error('openssl is needed to make a test certificate: apt-get install -y openssl');
    cert = made;
    await writeFile(join(certDir, 'pw'), `${PASSWORD}\n`);
    ledger = await startLiveLedger({ sql: { tls: cert, passwordFile: join(certDir, 'pw') } });
  });
  after(async () => {
    await ledger.close();
    await rm(certDir, { recursive: true, force: true });
  });

  test('node-postgres over TLS, verifying the certificate', async () => {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: ledger.port,
      user: 'bi',
      database: 'ledger',
      password: PASSWORD,
      ssl: { ca: await readFile(cert.certFile), servername: 'localhost' },
    });
    await client.connect();
    assert.equal((await client.query('SELECT 5 AS five')).rows[0].five, 5);
    await client.end();
  });

  test('psql sslmode=require connects; sslmode=disable is refused', async () => {
    const psql = await requireClient('psql');
    const env = { ...process.env, PGPASSWORD: PASSWORD };
    const conn = (mode: string) => `host=127.0.0.1 port=${ledger.port} user=psql dbname=ledger sslmode=${mode}`;
    const { stdout } = await run(psql, ['-X', '-A', '-t', conn('require'), '-c', 'SELECT 7'], { env });
    assert.equal(stdout.trim(), '7');
    await assert.rejects(run(psql, ['-X', conn('disable'), '-c', 'SELECT 7'], { env }), /requires TLS/);
  });
});

test('without TLS configured, an SSLRequest is answered N: sslmode=prefer connects in plaintext, require fails', async () => {
  const ledger = await startLiveLedger();
  try {
    const psql = await requireClient('psql');
    const conn = (mode: string) => `host=127.0.0.1 port=${ledger.port} user=psql dbname=ledger sslmode=${mode}`;
    assert.equal((await run(psql, ['-X', '-A', '-t', conn('prefer'), '-c', 'SELECT 8'])).stdout.trim(), '8');
    await assert.rejects(run(psql, ['-X', conn('require'), '-c', 'SELECT 8']), /server does not support SSL/);
  } finally {
    await ledger.close();
  }
});
