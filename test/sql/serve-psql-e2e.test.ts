/**
 * Issue 13 as a new user tries it: `genai-ledger serve` (the real CLI) takes OTLP traffic, and psql reads the
 * monthly chargeback over the SQL port while the traffic keeps flowing; the rows psql sees grow as commits land.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startServeProcess } from '../helpers/cli-process.js';
import { syntheticRequest } from '../helpers/synthetic-requests.js';
import { encodeTraceRequestProtobuf } from '../../receivers/otlp/testing/encode-protobuf.js';
import { requireClient } from '../../src/sql-endpoint/testing/live-ledger.js';

const run = promisify(execFile);

test('psql reads genai_chargeback_monthly from a running server while traffic flows', { timeout: 120_000 }, async () => {
  const psql = await requireClient('psql');
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-psql-e2e-'));
  const server = await startServeProcess(['--db', join(dir, 'ledger.duckdb')]);
  try {
    assert.ok(server.sqlPort !== null, server.output());
    let sending = true;
    let acknowledged = 0;
    const traffic = (async () => {
      while (sending) {
        const res = await fetch(`${server.httpUrl}/v1/traces`, {
          method: 'POST',
          body: encodeTraceRequestProtobuf(syntheticRequest({ spans: 50, genAiShare: 1 })),
          headers: { 'content-type': 'application/x-protobuf' },
        });
        await res.arrayBuffer();
        if (res.status === 200) acknowledged++;
      }
    })();
    const calls = async (): Promise<number> => {
      const { stdout } = await run(psql, ['-h', '127.0.0.1', '-p', String(server.sqlPort), '-U', 'analyst', '-d', 'ledger', '-At', '-c',
        'SELECT coalesce(sum(calls), 0) FROM genai_chargeback_monthly']);
      return Number(stdout.trim());
    };
    while (acknowledged < 3) await new Promise((r) => setTimeout(r, 50));
    const first = await calls();
    while (acknowledged < 10) await new Promise((r) => setTimeout(r, 50));
    const second = await calls();
    sending = false;
    await traffic;
    assert.ok(first >= 150, `psql saw ${first} calls after 3 acknowledged requests of 50`);
    assert.ok(second > first, `later commits are visible to the next query (${first} → ${second})`);
    const { stdout } = await run(psql, ['-h', '127.0.0.1', '-p', String(server.sqlPort), '-U', 'x', '-d', 'y', '-c', 'SELECT * FROM genai_chargeback_monthly']);
    assert.match(stdout, /team_id/);
    assert.match(stdout, /\(\d+ rows?\)/);
  } finally {
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0, server.output());
    await rm(dir, { recursive: true, force: true });
  }
});
