/**
 * Queries run beside ingestion on the server's DuckDB database: a query sees the rows committed when it
 * started (DuckDB MVCC), rows the exporter commits meanwhile are visible to the next query, and the
 * exporter's commits complete while long queries are running.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { sampleLedgerRow, sampleLedgerRows } from '../../exporters/duckdb/testing/sample-rows.js';
import type { LedgerRow } from '../../core/ledger-row.js';
import { startLiveLedger, type LiveLedger } from '../../src/sql-endpoint/testing/live-ledger.js';
import { dataRow, RawPgClient } from './raw-pg-client.js';

let ledger: LiveLedger;
let next = 1_000;
/** `n` new rows with fresh ids. */
const fresh = (n: number): LedgerRow[] =>
  Array.from({ length: n }, () => {
    const i = next++;
    return sampleLedgerRow({ traceId: i.toString(16).padStart(32, 'a'), spanId: i.toString(16).padStart(16, 'b') });
  });

before(async () => {
  ledger = await startLiveLedger({ rows: sampleLedgerRows(10), sql: { statementTimeoutMs: 60_000 } });
});
after(() => ledger.close());

test('a query reads its snapshot while the exporter commits; the next query sees the new rows', async () => {
  const raw = await RawPgClient.connect(ledger.port);
  try {
    // Start a query and read one row of it (Execute with a row limit leaves it open, suspended).
    raw.send((w) => {
      w.begin('P').cstring('').cstring('SELECT trace_id FROM genai_calls').int16(0).end();
      w.begin('B').cstring('').cstring('').int16(0).int16(0).int16(0).end();
      w.begin('E').cstring('').int32(1).end();
      w.begin('H').end();
    });
    const first = await raw.until('s');
    assert.equal(first.filter((m) => m.type === 'D').length, 1);

    // The exporter commits 5 rows while that query is open.
    await ledger.exporter.write(fresh(5));

    // The rest of the open query: its snapshot has the 10 rows it started with.
    raw.send((w) => {
      w.begin('E').cstring('').int32(0).end();
      w.begin('S').end();
    });
    const rest = await raw.until('Z');
    assert.equal(1 + rest.filter((m) => m.type === 'D').length, 10);

    // The next query sees the committed rows.
    const count = await raw.query('SELECT count(*) FROM genai_calls');
    assert.deepEqual(dataRow(count.find((m) => m.type === 'D')!.body), ['15']);
  } finally {
    raw.close();
  }
});

test('the exporter commits while four long queries are running (maxConcurrentQueries keeps libuv threads for it)', async () => {
  const config = { host: '127.0.0.1', port: ledger.port, user: 'analyst', database: 'ledger' };
  const clients = Array.from({ length: 4 }, () => new pg.Client(config));
  await Promise.all(clients.map((c) => c.connect()));
  try {
    const events: string[] = [];
    const queries = clients.map((c) => {
      const query = new pg.Query('SELECT sum(a.range * b.range) FROM range(1000000000) a, range(1000) b');
      const done = new Promise<void>((resolve) => {
        query.on('error', () => resolve());
        query.on('end', () => resolve());
      }).then(() => {
        events.push('query ended');
      });
      c.query(query);
      return { query, done, client: c };
    });
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 5; i++) await ledger.exporter.write(fresh(20));
    events.push('writes committed');
    // Only now stop the queries: had the writes waited for them, they would have committed after.
    for (const q of queries) (new pg.Client(config) as unknown as { cancel(c: pg.Client, q: pg.Query): void }).cancel(q.client, q.query);
    await Promise.all(queries.map((q) => q.done));
    assert.deepEqual(events, ['writes committed', 'query ended', 'query ended', 'query ended', 'query ended']);
    assert.equal((await clients[0]!.query('SELECT count(*)::INTEGER AS n FROM genai_calls')).rows[0].n, 115);
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
});
