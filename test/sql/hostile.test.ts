/**
 * The SQL endpoint is read-only and locked down like `genai-ledger query`, although it runs on the
 * server's writable database: every hostile statement below, sent over the wire, is refused with the
 * SQLSTATE a PostgreSQL client expects (or stopped, for the ones that only burn time or memory), nothing
 * is written to the ledger or anywhere else, and the endpoint keeps answering. Then the limits: statement
 * timeout, cancel requests, connection cap, 100 MB query text.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect } from 'node:net';
import pg from 'pg';
import { sampleLedgerRows } from '../../exporters/duckdb/testing/sample-rows.js';
import { startLiveLedger, type LiveLedger } from '../../src/sql-endpoint/testing/live-ledger.js';
import { errorFields, RawPgClient } from './raw-pg-client.js';

let ledger: LiveLedger;
let client: pg.Client;
const config = () => ({ host: '127.0.0.1', port: ledger.port, user: 'mallory', database: 'ledger' });
const files = async () => (await readdir(ledger.dir)).sort();
/** Waits until the endpoint counts `n` admitted connections (a closed client is removed when its socket closes). */
async function settled(n: number): Promise<void> {
  for (let i = 0; i < 200 && ledger.endpoint.connections !== n; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(ledger.endpoint.connections, n);
}

before(async () => {
  ledger = await startLiveLedger({ rows: sampleLedgerRows(3), sql: { statementTimeoutMs: 1500, maxConnections: 4 } });
  client = new pg.Client(config());
  await client.connect();
});
after(async () => {
  await client.end().catch(() => undefined);
  await ledger.close();
});

/** The error a statement gets, as { code, message }; fails the test if it succeeds. */
async function refusal(sql: string, values?: unknown[]): Promise<{ code: string; message: string }> {
  try {
    await client.query(sql, values);
  } catch (err) {
    const e = err as { code?: string; message: string };
    return { code: e.code ?? '', message: e.message };
  }
  assert.fail(`succeeded: ${sql}`);
}

describe('hostile SQL over the wire', () => {
  let ledgerBytes: Buffer;
  let walBytes: Buffer;
  let before_: string[];
  const outside = () => join(ledger.dir, 'outside');
  before(async () => {
    ledgerBytes = await readFile(ledger.path);
    walBytes = await readFile(`${ledger.path}.wal`).catch(() => Buffer.alloc(0));
    before_ = await files();
  });

  const cases: [what: string, sql: () => string, code: string][] = [
    ['INSERT', () => 'INSERT INTO genai_calls SELECT * FROM genai_calls', '25006'],
    ['UPDATE', () => "UPDATE genai_calls SET team_id = 'mallory'", '25006'],
    ['DELETE', () => 'DELETE FROM genai_calls', '25006'],
    ['CREATE TABLE', () => 'CREATE TABLE loot AS SELECT * FROM genai_calls', '25006'],
    ['CREATE TEMP TABLE', () => 'CREATE TEMP TABLE t (a INTEGER)', '25006'],
    ['DROP', () => 'DROP TABLE genai_calls', '25006'],
    ['ALTER', () => 'ALTER TABLE genai_calls ADD COLUMN x INTEGER', '25006'],
    ['TRUNCATE', () => 'TRUNCATE genai_calls', '25006'],
    ['CHECKPOINT', () => 'CHECKPOINT', '25006'],
    ['VACUUM', () => 'VACUUM', '25006'],
    ['EXPLAIN ANALYZE of a DELETE', () => 'EXPLAIN ANALYZE DELETE FROM genai_calls', '25006'],
    ['a write after a harmless statement', () => 'SELECT 1; DELETE FROM genai_calls', '25006'],
    ['COPY … TO a file', () => `COPY genai_calls TO '${outside()}.csv'`, '42501'],
    ['COPY (query) TO a file', () => `COPY (SELECT * FROM genai_calls) TO '${outside()}.parquet' (FORMAT parquet)`, '42501'],
    ['COPY FROM STDIN', () => 'COPY genai_calls FROM STDIN', '25006'],
    ['ATTACH a file', () => `ATTACH '${outside()}.duckdb' AS other`, '42501'],
    ['ATTACH in memory', () => "ATTACH ':memory:' AS m", '42501'],
    ['DETACH', () => 'DETACH ledger', '42501'],
    ['read_csv of /etc/passwd', () => "SELECT * FROM read_csv('/etc/passwd', sep = ':')", '42501'],
    ['read_text', () => "SELECT * FROM read_text('/etc/passwd')", '42501'],
    ['read_parquet', () => "SELECT * FROM read_parquet('/etc/passwd')", '42501'],
    ['glob', () => "SELECT * FROM glob('/etc/*')", '42501'],
    // With external access off DuckDB does not even try a file for an unknown table name.
    ['a file path as a table', () => "SELECT * FROM '/etc/passwd'", '42P01'],
    ['an HTTP URL', () => "SELECT * FROM read_csv_auto('https://example.com/x.csv')", '42501'],
    ['a file function hidden in a subquery', () => "SELECT * FROM genai_calls WHERE team_id IN (SELECT column0 FROM read_csv('/etc/passwd'))", '42501'],
    ['query() running other SQL', () => `SELECT * FROM query('COPY genai_calls TO ''${outside()}-q.csv''')`, '42501'],
    ['checkpoint() as a table function', () => 'SELECT * FROM checkpoint()', '42501'],
    ['enable_logging() to a file (would abort DuckDB)', () => `SELECT * FROM enable_logging(storage = 'file', storage_path = '${outside()}-logs')`, '42501'],
    ['CALL enable_logging', () => `CALL enable_logging(storage = 'file', storage_path = '${outside()}-logs')`, '42501'],
    ['getenv', () => "SELECT getenv('HOME')", '42501'],
    ['current_setting of a DuckDB setting', () => "SELECT current_setting('temp_directory')", '42704'],
    ['INSTALL httpfs', () => 'INSTALL httpfs', '42501'],
    ['FORCE INSTALL', () => 'FORCE INSTALL httpfs', '42501'],
    ['LOAD httpfs', () => 'LOAD httpfs', '42501'],
    ['SET memory_limit', () => "SET memory_limit = '100GB'", '42501'],
    ['SET GLOBAL enable_external_access', () => 'SET GLOBAL enable_external_access = true', '42501'],
    ['RESET lock_configuration', () => 'RESET lock_configuration', '42501'],
    ['SET temp_directory', () => `SET temp_directory = '${outside()}-tmp'`, '42501'],
    ['PRAGMA enable_profiling', () => "PRAGMA enable_profiling = 'json'", '42501'],
    ['EXPORT DATABASE', () => `EXPORT DATABASE '${outside()}-export'`, '42501'],
    ['CREATE SECRET', () => "CREATE PERSISTENT SECRET s (TYPE S3, KEY_ID 'x', SECRET 'y')", '25006'],
    ['USE another catalog', () => 'USE system', '42501'],
    ['nextval', () => "SELECT nextval('s')", '25006'],
    ['BEGIN READ WRITE', () => 'BEGIN READ WRITE', '25006'],
    ['a syntax error', () => 'SELEC 1', '42601'],
    ['an unknown table', () => 'SELECT * FROM genai_callz', '42P01'],
  ];
  for (const [what, sql, code] of cases) {
    test(`${what} → ${code}`, async () => {
      const e = await refusal(sql());
      assert.equal(e.code, code, e.message);
      // The endpoint answers the next query on the same connection.
      assert.equal((await client.query('SELECT count(*)::INTEGER AS n FROM genai_calls')).rows[0].n, 3);
    });
  }

  test('a cross join meant to exhaust memory is stopped (timeout or out of memory), and the endpoint goes on', async () => {
    const e = await refusal('SELECT a.range AS x, b.range AS y, repeat(\'x\', 1000) AS pad FROM range(100000000) a, range(100000000) b ORDER BY x DESC, pad');
    assert.ok(['57014', '53200'].includes(e.code), `${e.code}: ${e.message}`);
    assert.equal((await client.query('SELECT 1 AS one')).rows[0].one, 1);
  });

  test('nothing was written: the ledger and its WAL are byte-identical and no file appeared', async () => {
    assert.ok((await readFile(ledger.path)).equals(ledgerBytes), 'ledger bytes unchanged');
    assert.ok((await readFile(`${ledger.path}.wal`).catch(() => Buffer.alloc(0))).equals(walBytes), 'WAL bytes unchanged');
    assert.deepEqual(await files(), before_);
  });
});

describe('limits', () => {
  test('statement timeout: 57014 after statementTimeoutMs, and a client can only lower it', async () => {
    const e = await refusal('SELECT sum(a.range * b.range) FROM range(1000000000) a, range(1000) b');
    assert.equal(e.code, '57014');
    assert.match(e.message, /statement timeout/);
    await client.query("SET statement_timeout = '200ms'");
    const quick = Date.now();
    assert.equal((await refusal('SELECT sum(a.range * b.range) FROM range(1000000000) a, range(1000) b')).code, '57014');
    assert.ok(Date.now() - quick < 1400, 'the lower session timeout applied');
    await client.query('SET statement_timeout = 600000');
    assert.equal((await client.query('SHOW statement_timeout')).rows[0].statement_timeout, '1500');
    await client.query('RESET statement_timeout');
  });

  test("node-postgres's cancel request stops the running query (57014), the connection goes on", async () => {
    const query = new pg.Query('SELECT sum(a.range * b.range) FROM range(1000000000) a, range(1000) b');
    const outcome = new Promise<{ code?: string; message: string }>((resolve) => {
      query.on('error', resolve);
      query.on('end', () => resolve({ message: 'finished' }));
    });
    client.query(query);
    // node-postgres sends the CancelRequest (pid + secret key from BackendKeyData) on a new connection.
    setTimeout(() => (new pg.Client(config()) as unknown as { cancel(c: pg.Client, q: pg.Query): void }).cancel(client, query), 200);
    const e = await outcome;
    assert.equal(e.code, '57014');
    assert.match(e.message, /user request/, 'cancelled by the request, not by the timeout');
    assert.equal((await client.query('SELECT 2 AS two')).rows[0].two, 2);
  });

  test('a cancel request with the wrong key cancels nothing', async () => {
    const raw = await RawPgClient.connect(ledger.port);
    try {
      raw.send((w) => w.begin('Q').cstring('SELECT count(*) FROM range(300000000) a, range(3) b').end());
      await new Promise((r) => setTimeout(r, 100));
      const cancel = connect(ledger.port, '127.0.0.1');
      await new Promise((r) => cancel.once('connect', r));
      const packet = Buffer.alloc(16);
      packet.writeInt32BE(16, 0);
      packet.writeInt32BE(80877102, 4);
      packet.writeInt32BE(raw.pid, 8);
      packet.writeInt32BE(raw.secretKey ^ 1, 12);
      cancel.end(packet);
      const messages = await raw.until('Z');
      assert.ok(!messages.some((m) => m.type === 'E'), 'not cancelled');
      assert.ok(messages.some((m) => m.type === 'D'));
    } finally {
      raw.close();
    }
  });

  test('connections beyond maxConnections are refused with 53300; one is admitted again once another leaves', async () => {
    await settled(1);
    const others: pg.Client[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const c = new pg.Client(config());
        await c.connect();
        others.push(c);
      }
      const extra = new pg.Client(config());
      await assert.rejects(extra.connect(), (err: { code?: string; message: string }) => {
        assert.equal(err.code, '53300');
        assert.match(err.message, /too many clients/);
        return true;
      });
      await others.pop()!.end();
      await settled(3);
      const again = new pg.Client(config());
      await again.connect();
      assert.equal((await again.query('SELECT 3 AS three')).rows[0].three, 3);
      others.push(again);
    } finally {
      await Promise.all(others.map((c) => c.end()));
    }
  });

  test('a 100 MB query text is refused (54000) without being held in memory; the endpoint goes on', async () => {
    await settled(1);
    const raw = await RawPgClient.connect(ledger.port);
    try {
      const size = 100 * 1024 * 1024;
      const header = Buffer.alloc(5);
      header.write('Q', 0, 'latin1');
      header.writeUInt32BE(size + 4, 1);
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      const memoryBefore = process.memoryUsage().arrayBuffers;
      let peak = memoryBefore;
      raw.socket.write(header);
      for (let sent = 0; sent < size; sent += chunk.length) {
        const last = size - sent <= chunk.length;
        const piece = last ? Buffer.concat([chunk.subarray(0, size - sent - 1), Buffer.from([0])]) : chunk;
        if (!raw.socket.write(piece)) await new Promise((r) => raw.socket.once('drain', r));
        peak = Math.max(peak, process.memoryUsage().arrayBuffers);
      }
      const answer = await raw.until('Z');
      const e = errorFields(answer.find((m) => m.type === 'E')!.body);
      assert.equal(e.C, '54000');
      assert.match(e.M!, /maxQueryBytes/);
      // Holding the message would grow buffers by its 100 MB. Socket chunks already discarded but not yet
      // collected (and this client's own queued writes) come and go with GC timing: 32 MB was once exceeded by
      // 1.7 MB in a full run, so the bound is half the message.
      assert.ok(peak - memoryBefore < size / 2, `buffers grew by ${peak - memoryBefore} bytes`);
      const ok = await raw.query('SELECT 1');
      assert.ok(ok.some((m) => m.type === 'D'));
    } finally {
      raw.close();
    }
    assert.equal((await client.query('SELECT 4 AS four')).rows[0].four, 4);
  });
});
