/**
 * `genai-ledger serve` on a port that is taken: one line per listener that cannot bind, naming it, the
 * address and the flag to change; exit code 1; no ledger file and no user id key left behind; none of
 * grpc-js's own log lines.
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { tempDir } from '../exporters/duckdb/testing/ledger-test-utils.js';
import { runCli } from './helpers/cli-process.js';

let dir: string;
let cleanup: () => Promise<void>;
const taken: Server[] = [];

before(async () => ({ dir, cleanup } = await tempDir()));
after(async () => {
  await Promise.all(taken.map((s) => new Promise((resolve) => s.close(resolve))));
  await cleanup();
});

/** Holds a port on 127.0.0.1 for the rest of the file. */
async function takePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  taken.push(server);
  return (server.address() as { port: number }).port;
}

const serveLines = (stderr: string) => stderr.split('\n').filter((l) => l.trim() !== '');

test('OTLP/HTTP port in use: one line naming the listener, address and --http-port; nothing created', async () => {
  const port = await takePort();
  const r = await runCli(['serve', '--db', join(dir, 'http.duckdb'), '--http-port', String(port), '--grpc-port', '0', '--metrics-port', '0', '--sql-port', '0']);
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(serveLines(r.stderr), [
    `genai-ledger: OTLP/HTTP cannot listen on 127.0.0.1:${port}: the port is already in use (another genai-ledger or ` +
      'OpenTelemetry Collector?); use another port with --http-port N or receivers.otlp.http.port in the config file',
  ]);
  assert.deepEqual(await readdir(dir), [], 'no ledger file, no user id key');
});

test('OTLP/gRPC port in use: our line only, no grpc-js log lines; both ports in use: one line each', async () => {
  const port = await takePort();
  const r = await runCli(['serve', '--db', join(dir, 'grpc.duckdb'), '--http-port', '0', '--grpc-port', String(port), '--metrics-port', '0', '--sql-port', '0']);
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(serveLines(r.stderr), [
    `genai-ledger: OTLP/gRPC cannot listen on 127.0.0.1:${port}: the port is already in use (another genai-ledger or ` +
      'OpenTelemetry Collector?); use another port with --grpc-port N or receivers.otlp.grpc.port in the config file',
  ]);

  const httpPort = await takePort();
  const both = await runCli(['serve', '--db', join(dir, 'both.duckdb'), '--http-port', String(httpPort), '--grpc-port', String(port), '--metrics-port', '0', '--sql-port', '0']);
  assert.equal(both.code, 1, both.stderr);
  const lines = serveLines(both.stderr);
  assert.equal(lines.length, 2, both.stderr);
  assert.match(lines[0]!, new RegExp(`^genai-ledger: OTLP/HTTP cannot listen on 127\\.0\\.0\\.1:${httpPort}: .*--http-port N`));
  assert.match(lines[1]!, new RegExp(`^genai-ledger: OTLP/gRPC cannot listen on 127\\.0\\.0\\.1:${port}: .*--grpc-port N`));
  assert.deepEqual(await readdir(dir), [], 'no ledger file, no user id key');
});
