/**
 * The price overrides file of a running server (the real CLI) is reloaded on SIGHUP and, with
 * `pricing.reloadOnChange`, when it changes on disk: a good new version prices the next requests; a bad one
 * is refused with file/line/key in the log, the last good prices stay in force and the server keeps serving.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readLedgerRows } from '../helpers/ledger-rows.js';
import { knownSpanRequest, KnownSpanSource } from './known-spans.js';
import { postTraces, startServer, type ServerProcess } from './server-process.js';

async function waitForOutput(server: ServerProcess, pattern: RegExp, after: number): Promise<string> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const text = server.output().slice(after);
    if (pattern.test(text)) return text;
    if (server.child.exitCode !== null) throw new Error(`server exited:\n${server.output()}`);
    if (Date.now() > deadline) throw new Error(`no ${pattern} in the log within 30 s:\n${text}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** gpt-4o-mini at `input` $/Mtok in and 0 out, so a row's cost is input_tokens × input / 1e6 exactly. */
const pricesAt = (input: string) =>
  `version: "1.0"\nprices:\n  - provider: openai\n    model: gpt-4o-mini\n    input: "${input}"\n    output: "0"\n`;

/** Sends spans labelled with a phase; the ledger is checked per phase after the server stops. */
function phasedSender(server: ServerProcess, service: string) {
  const source = new KnownSpanSource();
  const phase = new Map<string, string>();
  const send = async (label: string, n = 4) => {
    const spans = source.take(n);
    for (const s of spans) phase.set(s.spanId, label);
    assert.equal((await postTraces(server.httpUrl, knownSpanRequest(spans, service))).status, 200);
  };
  /** The $/Mtok input rate each row of the phase was priced at, and the snapshots, as sets. */
  const ratesOf = (rows: Record<string, string | null>[], label: string) => {
    const mine = rows.filter((r) => phase.get(r.span_id!) === label);
    assert.ok(mine.length > 0, `rows for phase ${label}`);
    const rates = new Set(mine.map((r) => (Number(r.request_cost_usd) / Number(r.input_tokens)) * 1e6).map((x) => x.toFixed(6)));
    return { rates, snapshots: new Set(mine.map((r) => r.unit_price_snapshot)) };
  };
  return { send, ratesOf };
}

test('SIGHUP: good price overrides are swapped in for new rows; a bad file is refused with file:line and the old prices stay', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-price-reload-'));
  const prices = join(dir, 'prices.yaml');
  const db = join(dir, 'ledger.duckdb');
  await writeFile(prices, pricesAt('1'));
  const server = await startServer({ db, args: ['--prices', prices] });
  const { send, ratesOf } = phasedSender(server, 'price-svc');
  try {
    await send('v1');

    await writeFile(prices, pricesAt('2'));
    let mark = server.output().length;
    server.child.kill('SIGHUP');
    await waitForOutput(server, /SIGHUP: price overrides reloaded; prices \S+overrides=sha256:/, mark);
    await send('v2');

    // Line 5: a price with too many decimals; line 7: an unknown key. Both named, the file refused.
    await writeFile(prices, `${pricesAt('3').replace('input: "3"', 'input: "0.1234567"')}    colour: red\n`);
    mark = server.output().length;
    server.child.kill('SIGHUP');
    const refusal = await waitForOutput(server, /SIGHUP: price overrides refused[^]*prices\.yaml:7/, mark);
    assert.match(refusal, /prices\.yaml:5: prices\.0\.input: /);
    assert.match(refusal, /prices\.yaml:7: prices\.0\.colour: unknown key/);
    assert.match(refusal, /previous prices stay in force/);
    await send('after-bad');

    // A deleted file is refused the same way.
    await rm(prices);
    mark = server.output().length;
    server.child.kill('SIGHUP');
    await waitForOutput(server, /SIGHUP: price overrides refused[^]*prices\.yaml: 1 problem\(s\):\s+cannot read file/, mark);
    await send('after-missing');

    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0, server.output());
    const rows = await readLedgerRows(db);
    assert.equal(rows.length, 16);
    const v1 = ratesOf(rows, 'v1');
    const v2 = ratesOf(rows, 'v2');
    assert.deepEqual(v1.rates, new Set(['1.000000']));
    assert.deepEqual(v2.rates, new Set(['2.000000']));
    assert.equal(v1.snapshots.size, 1);
    assert.equal(v2.snapshots.size, 1);
    assert.notDeepEqual(v1.snapshots, v2.snapshots, 'the snapshot names the new overrides file');
    for (const label of ['after-bad', 'after-missing']) {
      const after = ratesOf(rows, label);
      assert.deepEqual(after.rates, new Set(['2.000000']), `${label}: last good prices stayed in force`);
      assert.deepEqual(after.snapshots, v2.snapshots);
    }
  } finally {
    if (server.child.exitCode === null) server.child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});

test('pricing.reloadOnChange: an overrides file replaced on disk is picked up without a signal; a bad edit is refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-price-watch-'));
  const prices = join(dir, 'prices.yaml');
  const db = join(dir, 'ledger.duckdb');
  const config = join(dir, 'genai-ledger.yaml');
  await writeFile(prices, pricesAt('1'));
  await writeFile(config, 'pricing:\n  overridesFile: prices.yaml\n  reloadOnChange: true\n  reloadCheckIntervalMs: 50\n');
  const server = await startServer({ db, args: ['--config', config] });
  const { send, ratesOf } = phasedSender(server, 'price-watch-svc');
  try {
    await send('v1');
    let mark = server.output().length;
    await writeFile(`${prices}.tmp`, pricesAt('4'));
    await rename(`${prices}.tmp`, prices);
    await waitForOutput(server, /price overrides file changed: price overrides reloaded/, mark);
    await send('v4');
    mark = server.output().length;
    await writeFile(prices, 'version: "2.0"\n');
    await waitForOutput(server, /price overrides file changed: price overrides refused[^]*prices\.yaml:1: version: unsupported major/, mark);
    await send('bad');
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0, server.output());
    const rows = await readLedgerRows(db);
    assert.deepEqual(ratesOf(rows, 'v1').rates, new Set(['1.000000']));
    assert.deepEqual(ratesOf(rows, 'v4').rates, new Set(['4.000000']));
    assert.deepEqual(ratesOf(rows, 'bad').rates, new Set(['4.000000']));
  } finally {
    if (server.child.exitCode === null) server.child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
