/**
 * SIGHUP reloads the mapping files of a running server (the real CLI): a good new version takes effect for
 * the next requests; a bad one is refused with file/line/column in the log and the last good version stays
 * in force; the server keeps serving throughout.
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
  for (;;) {
    const text = server.output().slice(after);
    if (pattern.test(text)) return text;
    if (server.child.exitCode !== null) throw new Error(`server exited:\n${server.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('SIGHUP: a good mapping file is swapped in, a bad one is refused with file:line and the last good one stays', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-reload-'));
  const teams = join(dir, 'teams.csv');
  const services = join(dir, 'services.csv');
  const db = join(dir, 'ledger.duckdb');
  await writeFile(teams, 'team_id,cost_center\nreliability,CC-OLD\n');
  await writeFile(services, 'service,team_id\nreload-svc,reliability\n');
  const server = await startServer({ db, args: ['--teams', teams, '--services', services] });
  const source = new KnownSpanSource();
  const phase = new Map<string, string>();
  const send = async (label: string) => {
    const spans = source.take(5);
    for (const s of spans) phase.set(s.spanId, label);
    assert.equal((await postTraces(server.httpUrl, knownSpanRequest(spans, 'reload-svc'))).status, 200);
  };
  try {
    await send('old');

    await writeFile(teams, 'team_id,cost_center\nreliability,CC-NEW\n');
    let mark = server.output().length;
    server.child.kill('SIGHUP');
    await waitForOutput(server, /SIGHUP: mapping files reloaded \(teams: 1, services: 1\)/, mark);
    await send('new');

    // Duplicate team on line 3 and a services row pointing at an unknown team: both named, both refused.
    await writeFile(teams, 'team_id,cost_center\nreliability,CC-BAD\nreliability,CC-BAD2\n');
    await writeFile(services, 'service,team_id\nreload-svc,ghost\n');
    mark = server.output().length;
    server.child.kill('SIGHUP');
    const refusal = await waitForOutput(server, /SIGHUP: mapping files refused[^]*services\.csv:2/, mark);
    assert.match(refusal, /teams\.csv:3: column "team_id": duplicate team "reliability"/);
    assert.match(refusal, /previous version stays in force/);
    await send('after-bad');

    // An unreadable file is refused the same way.
    await rm(teams);
    mark = server.output().length;
    server.child.kill('SIGHUP');
    await waitForOutput(server, /SIGHUP: mapping files refused[^]*teams\.csv: cannot read file/, mark);
    await send('after-missing');

    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0, server.output());
    const rows = await readLedgerRows(db);
    assert.equal(rows.length, 20);
    const byPhase = (label: string) => new Set(rows.filter((r) => phase.get(r.span_id!) === label).map((r) => r.cost_center));
    assert.deepEqual(byPhase('old'), new Set(['CC-OLD']));
    assert.deepEqual(byPhase('new'), new Set(['CC-NEW']));
    assert.deepEqual(byPhase('after-bad'), new Set(['CC-NEW']), 'last good version stayed in force');
    assert.deepEqual(byPhase('after-missing'), new Set(['CC-NEW']));
  } finally {
    if (server.child.exitCode === null) server.child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});

test('attribution.reloadOnChange: an edited mapping file is picked up without a signal; a bad edit is refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-watch-'));
  const teams = join(dir, 'teams.csv');
  const db = join(dir, 'ledger.duckdb');
  const config = join(dir, 'genai-ledger.yaml');
  await writeFile(teams, 'team_id,cost_center\nreliability,CC-V1\n');
  await writeFile(config, 'attribution:\n  teamsFile: teams.csv\n  reloadOnChange: true\n  reloadCheckIntervalMs: 50\n');
  const server = await startServer({ db, args: ['--config', config] });
  const source = new KnownSpanSource();
  const phase = new Map<string, string>();
  const send = async (label: string) => {
    const spans = source.take(3);
    for (const s of spans) phase.set(s.spanId, label);
    assert.equal((await postTraces(server.httpUrl, knownSpanRequest(spans, 'watch-svc'))).status, 200);
  };
  try {
    await send('v1');
    let mark = server.output().length;
    // A new file moved into place, as config management tools do.
    await writeFile(`${teams}.tmp`, 'team_id,cost_center\nreliability,CC-V2\nother,CC-X\n');
    await rename(`${teams}.tmp`, teams);
    await waitForOutput(server, /mapping file changed: mapping files reloaded \(teams: 2, services: none\)/, mark);
    await send('v2');
    mark = server.output().length;
    await writeFile(teams, 'team_id,cost_center\nreliability,\n');
    await waitForOutput(server, /mapping file changed: mapping files refused[^]*teams\.csv:2: column "cost_center"/, mark);
    await send('bad');
    server.child.kill('SIGTERM');
    assert.equal(await server.exited, 0, server.output());
    const rows = await readLedgerRows(db);
    const byPhase = (label: string) => new Set(rows.filter((r) => phase.get(r.span_id!) === label).map((r) => r.cost_center));
    assert.deepEqual(byPhase('v1'), new Set(['CC-V1']));
    assert.deepEqual(byPhase('v2'), new Set(['CC-V2']));
    assert.deepEqual(byPhase('bad'), new Set(['CC-V2']));
  } finally {
    if (server.child.exitCode === null) server.child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});
