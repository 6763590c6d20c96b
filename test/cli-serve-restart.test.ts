/**
 * The real CLI in a child process: listener lines, SIGTERM drains and exits 0, everything acknowledged
 * before SIGTERM is in the ledger after restart, `query` reads it (and says plainly when a running
 * server holds the file), and bad input files stop startup with file/line/column.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServeProcess, runCli, type ServeProcess } from './helpers/cli-process.js';
import { syntheticRequest } from './helpers/synthetic-requests.js';
import { encodeTraceRequestProtobuf } from '../receivers/otlp/testing/encode-protobuf.js';

async function postSpans(url: string, spans: number): Promise<number> {
  const body = encodeTraceRequestProtobuf(syntheticRequest({ spans, services: ['restart-svc'] }));
  try {
    const res = await fetch(`${url}/v1/traces`, { method: 'POST', body, headers: { 'content-type': 'application/x-protobuf' } });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0; // connection refused or reset: not acknowledged
  }
}

test('SIGTERM commits what was acknowledged; a restart carries on with the same file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-cli-'));
  const db = join(dir, 'ledger.duckdb');
  // Every server started here is killed at the end, even when an assertion fails midway (a live child would
  // keep this test file's process, and the whole run, waiting).
  const servers: ServeProcess[] = [];
  try {
    const first = await startServeProcess(['--db', db]);
    servers.push(first);
    assert.match(first.output(), /otlp\/http listening on http:\/\/127\.0\.0\.1:\d+/);
    assert.match(first.output(), /otlp\/grpc listening on 127\.0\.0\.1:\d+/);

    // Keep sending while SIGTERM arrives; count only what the server acknowledged with 200.
    let acknowledged = 0;
    let sending = true;
    const senders = Array.from({ length: 4 }, async () => {
      while (sending) {
        const status = await postSpans(first.httpUrl, 20);
        if (status === 200) acknowledged += 20;
        else if (status === 0) return;
      }
    });
    await new Promise((r) => setTimeout(r, 500));
    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 0, first.output());
    sending = false;
    await Promise.all(senders);
    assert.ok(acknowledged > 0);
    assert.match(first.output(), /SIGTERM received/);

    const second = await startServeProcess(['--db', db]);
    servers.push(second);
    // The server's SQL port is off here (port 0 elsewhere); port 1 on loopback has no listener, so query finds
    // no endpoint to go through whatever else runs on this machine, and reports the held file.
    const held = await runCli(['query', '--db', db, '--sql-port', '1', 'SELECT count(*) FROM genai_calls']);
    assert.notEqual(held.code, 0);
    assert.match(held.stderr, /held by a running genai-ledger server/);
    assert.equal(await postSpans(second.httpUrl, 20), 200);
    // --snapshot queries a point-in-time copy (file + WAL) while the server keeps running.
    const snapshot = await runCli(['query', '--db', db, '--snapshot', '--format', 'json', 'SELECT count(*) AS n FROM genai_calls']);
    assert.equal(snapshot.code, 0, snapshot.stderr);
    assert.ok((JSON.parse(snapshot.stdout) as { n: number }[])[0]!.n >= acknowledged + 20);
    second.child.kill('SIGINT');
    assert.equal(await second.exited, 0, second.output());

    const counted = await runCli(['query', '--db', db, '--format', 'csv', 'SELECT count(*) AS n FROM genai_calls']);
    assert.equal(counted.code, 0, counted.stderr);
    // Every acknowledged span is there; spans sent during shutdown may have been committed without
    // their answer reaching the client, so the ledger can hold more, never less.
    const n = Number(counted.stdout.trim().split('\n')[1]);
    assert.ok(n >= acknowledged + 20, `ledger has ${n}, acknowledged ${acknowledged + 20}`);
  } finally {
    for (const server of servers) if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});

test('a bad mapping file stops startup, naming file, line and column', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-cli-'));
  try {
    const teams = join(dir, 'teams.csv');
    await writeFile(teams, 'team_id,cost_center\nsearch,CC-1\nsearch,CC-2\n');
    const result = await runCli(['serve', '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0', '--sql-port', '0', '--db', join(dir, 'x.duckdb'), '--teams', teams]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /teams\.csv:3/);
    assert.match(result.stderr, /team_id/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a bad config file stops startup, naming file, line and key', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-cli-'));
  try {
    const config = join(dir, 'genai-ledger.yaml');
    await writeFile(config, 'receivers:\n  otlp:\n    http:\n      port: "not-a-port"\n      hots: 0.0.0.0\n');
    const result = await runCli(['serve', '--config', config]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /genai-ledger\.yaml:4: receivers\.otlp\.http\.port/);
    assert.match(result.stderr, /genai-ledger\.yaml:5: receivers\.otlp\.http\.hots: unknown key/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('usage errors exit 2 with the usage text', async () => {
  const result = await runCli(['serve', '--http-port', '99999']);
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--http-port must be an integer/);
  assert.match(result.stderr, /Usage:/);
});
