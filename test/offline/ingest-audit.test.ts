import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, after, describe, it } from 'node:test';
import { holdLedgerInChild, queryFile, tempDir } from '../../exporters/duckdb/testing/ledger-test-utils.js';
import { runCli } from '../helpers/cli-process.js';
import { parseOtlpFile } from '../../src/offline/otlp-files.js';
import { fixtureSpans, gzipped, jsonDocument, jsonLines, protoLengthDelimited } from './otlp-file-fixtures.js';

const str = (rows: unknown[][]) => rows.map((r) => r.map((v) => (v === null ? null : String(v))));

/** What a ledger holds, comparable across ledgers (ids, owner, tokens, exact cost, status). */
const LEDGER_SQL = `SELECT trace_id, span_id, service, team_id, cost_center, model, input_tokens, output_tokens,
  CAST(request_cost_usd AS VARCHAR), attribution_status, attribution_source FROM genai_calls ORDER BY trace_id, span_id`;

describe('ingest and audit OTLP files', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let teams: string;
  const file = (name: string) => join(dir, name);
  before(async () => {
    ({ dir, cleanup } = await tempDir());
    const spans = fixtureSpans();
    await writeFile(file('traces.jsonl'), jsonLines(spans));
    await writeFile(file('traces.pb'), protoLengthDelimited(spans));
    await writeFile(file('traces.json'), jsonDocument(spans));
    await writeFile(file('traces.jsonl.gz'), gzipped(jsonLines(spans)));
    await writeFile(file('metrics.jsonl'), '{"resourceMetrics":[]}\n');
    teams = file('teams.csv');
    await writeFile(teams, 'team_id,cost_center\nsearch,CC-1001\nsupport-bot,CC-1002\n');
  });
  after(() => cleanup());

  it('reads every form the Collector file exporter (and people) write', async () => {
    const { readFile } = await import('node:fs/promises');
    const forms = await Promise.all(['traces.jsonl', 'traces.pb', 'traces.json', 'traces.jsonl.gz'].map(async (n) => parseOtlpFile(await readFile(file(n)))));
    assert.deepEqual(
      forms.map((f) => [f.kind, f.gzip, f.chunks.length, f.chunks.every((c) => c.request !== null)]),
      [
        ['json-lines', false, 3, true],
        ['proto-length-delimited', false, 3, true],
        ['json-document', false, 1, true],
        ['json-lines', true, 3, true],
      ],
    );
    assert.throws(() => parseOtlpFile(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0])), /zstd/);
  });

  it('ingest: the server pipeline (counted once, ancestors across lines, attribution, pricing); every format gives the same ledger', async () => {
    const results: (string | null)[][][] = [];
    for (const name of ['traces.jsonl', 'traces.pb', 'traces.json', 'traces.jsonl.gz']) {
      const db = file(`${name}.duckdb`);
      const r = await runCli(['ingest', '--db', db, '--teams', teams, file(name)]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /9 new ledger rows \(9 in total\)/, name);
      results.push(str(await queryFile(db, LEDGER_SQL)));
      assert.deepEqual(str(await queryFile(db, 'SELECT count(*), min(duplicate_reason) FROM genai_duplicate_spans')), [['1', 'outer_span']], name);
    }
    for (const r of results.slice(1)) assert.deepEqual(r, results[0]);
    const rows = results[0]!;
    const byService = (service: string) => rows.filter((r) => r[2] === service);
    assert.deepEqual(
      byService('support-bot').map((r) => [r[3], r[4], r[9], r[10]]),
      [['support-bot', 'CC-1002', 'attributed', 'ancestor']],
      'the team comes from the ancestor span, written on a later line',
    );
    assert.ok(byService('search-api').every((r) => r[3] === 'search' && r[4] === 'CC-1001' && r[9] === 'attributed'));
    assert.equal(byService('search-api').length, 2, 'the agent span repeating its call is not billed');
    assert.deepEqual(
      byService('checkout-assistant').map((r) => r[9]).sort(),
      ['missing_team', 'missing_team', 'missing_team', 'missing_team', 'missing_team', 'missing_team'],
    );
    assert.ok(rows.filter((r) => r[5] === 'gpt-4o-mini' && r[6] !== null).every((r) => r[8] !== null && Number(r[8]) > 0), 'priced');
  });

  it('ingest twice: nothing is added; the summary says what each file held', async () => {
    const db = file('twice.duckdb');
    assert.equal((await runCli(['ingest', '--db', db, file('traces.jsonl')])).code, 0);
    const before = str(await queryFile(db, LEDGER_SQL));
    const again = await runCli(['ingest', '--db', db, file('traces.jsonl'), file('traces.pb'), file('metrics.jsonl')]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /0 new ledger rows \(9 in total\)/);
    assert.match(again.stdout, /traces\.jsonl: json-lines, 3 requests, 19 spans: 9 LLM calls \$0\.\d+ \(2 without a cost\), 1 duplicate spans counted once, 0 spans rejected/);
    assert.match(again.stdout, /metrics\.jsonl: json-document, 0 requests, 0 spans: 0 LLM calls \$0\.00, 0 duplicate spans counted once, 0 spans rejected, 1 lines skipped \(#0: metrics\)/);
    assert.deepEqual(str(await queryFile(db, LEDGER_SQL)), before);
  });

  it('ingest refuses a ledger a running server holds, saying why and what to do', async () => {
    const db = file('held.duckdb');
    const { release } = await holdLedgerInChild(db);
    try {
      const r = await runCli(['ingest', '--db', db, file('traces.jsonl')]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /held\.duckdb is held by a running genai-ledger server.*Stop the server and run ingest again, or send the files to the running server over OTLP/);
    } finally {
      await release();
    }
  });

  it('audit: calls and money per file without a ledger; missing ownership by service and route; unpriced and token-less calls', async () => {
    const r = await runCli(['audit', '--teams', teams, '--format', 'json', file('traces.jsonl'), file('traces.pb')]);
    assert.equal(r.code, 0, r.stderr);
    const audits = JSON.parse(r.stdout) as {
      llm_calls: number;
      cost_usd: string;
      duplicate_spans: number;
      ownership_gaps: { service: string; route: string; calls: number; missing: Record<string, number> }[];
      unpriced_calls: { model: string; calls: number }[];
      calls_without_tokens: { model: string; service: string; calls: number }[];
    }[];
    assert.equal(audits.length, 2);
    const [a, b] = audits as [(typeof audits)[0], (typeof audits)[0]];
    assert.deepEqual({ ...a, file: undefined }, { ...b, file: undefined, format: a['format' as keyof typeof a] } as typeof a);
    assert.equal(a.llm_calls, 9);
    assert.equal(a.duplicate_spans, 1);
    const ledgerCost = String((await queryFile(file('traces.jsonl.duckdb'), 'SELECT CAST(sum(request_cost_usd) AS VARCHAR) FROM genai_calls'))[0]![0]);
    assert.equal(a.cost_usd, ledgerCost, 'the same money the ledger would hold');
    assert.deepEqual(
      a.ownership_gaps.map((g) => [g.service, g.route, g.calls, g.missing['team_id'], g.missing['cost_center'], g.missing['project_id'], g.missing['environment']]),
      [
        ['checkout-assistant', '/chat', 5, 5, 5, 5, 0],
        ['search-api', '/search', 2, 0, 0, 2, 0],
        ['checkout-assistant', '/summarize', 1, 1, 1, 1, 0],
        ['support-bot', '/answer', 1, 0, 0, 1, 1],
      ],
    );
    assert.deepEqual(a.unpriced_calls.map((u) => [u.model, u.calls]), [['acme-llm-9000', 1]]);
    assert.deepEqual(a.calls_without_tokens.map((u) => [u.model, u.service, u.calls]), [['gpt-4o-mini', 'checkout-assistant', 1]]);
    const table = await runCli(['audit', file('traces.jsonl')]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /missing ownership \(calls missing each field\), by service and route:/);
    assert.match(table.stdout, /checkout-assistant \| \/chat/);
  });
});
