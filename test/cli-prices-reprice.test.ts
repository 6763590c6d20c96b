/**
 * `genai-ledger prices show|check` and `genai-ledger reprice` end to end: the real CLI on a real ledger file.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { createSyntheticLedger } from '../exporters/duckdb/testing/synthetic-ledger.js';
import { holdLedgerInChild, queryFile, snapshot, tempDir } from '../exporters/duckdb/testing/ledger-test-utils.js';
import { PriceBook } from '../processors/pricing/price-book.js';
import { formatPicoUsd } from '../processors/pricing/decimal.js';
import { runCli, startServeProcess } from './helpers/cli-process.js';

const ROWS = 700; // 100 calls to each of the 7 synthetic models
const PRICES = `version: "1.0"
prices:
  - provider: acme
    model: acme-self-hosted-llm
    input: "0.50"
    output: "1.50"
discounts:
  - provider: openai
    percent: 10
`;

describe('prices and reprice commands', () => {
  let cleanup: () => Promise<void>;
  let db: string;
  let pricesFile: string;
  before(async () => {
    const t = await tempDir();
    cleanup = t.cleanup;
    db = await createSyntheticLedger(t.dir, { count: ROWS, startMs: Date.parse('2025-05-01T00:00:00Z'), stepMs: 2_000, snapshot: 'old-prices' });
    pricesFile = join(t.dir, 'prices.yaml');
    await writeFile(pricesFile, PRICES);
  });
  after(() => cleanup());

  test('prices show: the rates and where they came from; an unknown model says NONE', async () => {
    const shown = await runCli(['prices', 'show', 'gpt-4o-mini', '--provider', 'openai', '--at', '2025-06-01', '--prices', pricesFile]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /source\s+genai-prices openai\/gpt-4o-mini/);
    assert.match(shown.stdout, /discount\s+discounts\[0\]: 10% off, always/);
    assert.match(shown.stdout, /input\s+0\.135000/); // $0.15/M × 0.9
    const unknown = await runCli(['prices', 'show', 'acme-self-hosted-llm', '--provider', 'acme']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stdout, /price\s+NONE/);
    const bad = await runCli(['prices', 'show', 'gpt-4o', '--at', 'yesterday']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--at must be a date/);
  });

  test('dry run shows the per-team delta and changes nothing', async () => {
    const before = await snapshot(db);
    const r = await runCli(['reprice', '--db', db, '--from', '2025-05-01', '--to', '2025-05-01', '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /rows in range: 700; rows whose cost, snapshot or exceptions change: 700/);
    assert.match(r.stdout, /team-search/);
    assert.match(r.stdout, /dry run: nothing was changed/);
    assert.deepEqual(await snapshot(db), before);
  });

  test('reprice with the package prices: the self-hosted model becomes unpriced, and prices check finds it', async () => {
    const r = await runCli(['reprice', '--db', db, '--from', '2025-05-01', '--to', '2025-05-01']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /applied as restatement rs-/);
    // the per-team delta is shown before the changes are applied
    assert.ok(r.stdout.indexOf('team-search') < r.stdout.indexOf('applying…'), r.stdout);
    assert.match(r.stderr, /100% 700\/700 rows/);
    const [acme] = await queryFile(
      db,
      `SELECT count(*)::INT, count(request_cost_usd)::INT, min(attribution_status), min(list_contains(exceptions, 'unpriced_model')::INT)
       FROM genai_calls WHERE model = 'acme-self-hosted-llm'`,
    );
    assert.deepEqual(acme, [100, 0, 'unpriced_model', 1]);

    const check = await runCli(['prices', 'check', '--db', db]);
    assert.equal(check.code, 3, check.stderr);
    assert.match(check.stdout, /1 \(provider, model\) without a price/);
    assert.match(check.stdout, /acme\s+\|\s+acme-self-hosted-llm\s+\|\s+100 \|/);
    const fixed = await runCli(['prices', 'check', '--db', db, '--prices', pricesFile]);
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.match(fixed.stdout, /100 call\(s\) stored without a cost are priced by these prices now/);
  });

  test('reprice with an overrides file: exact new costs, the old ones in the history, the restatement recorded', async () => {
    const book = await PriceBook.load(pricesFile);
    const r = await runCli(['reprice', '--db', db, '--from', '2025-05-01', '--to', '2025-05-01', '--prices', pricesFile]);
    assert.equal(r.code, 0, r.stderr);

    // every row now carries the new snapshot and the cost the price book gives for its tokens
    const rows = (await queryFile(
      db,
      `SELECT provider, model, epoch_ns("timestamp"), input_tokens, cached_input_tokens, cache_write_tokens, output_tokens,
         reasoning_tokens, unit_price_snapshot, request_cost_usd::VARCHAR, attribution_status, trace_id
       FROM genai_calls ORDER BY trace_id`,
    )) as [string, string, bigint, bigint, bigint, bigint, bigint, bigint, string, string, string, string][];
    assert.equal(rows.length, ROWS);
    let total = 0n;
    for (const [provider, model, at, input, cached, write, output, reasoning, snap, cost, status] of rows) {
      const expected = book.cost(
        provider,
        model,
        {
          inputTokens: Number(input),
          cachedInputTokens: Number(cached),
          cacheWriteTokens: Number(write),
          outputTokens: Number(output),
          reasoningTokens: Number(reasoning),
        },
        at,
      );
      assert.ok(expected, `${provider}/${model}`);
      assert.equal(cost, formatPicoUsd(expected.totalPicoUsd), `${provider}/${model}`);
      assert.equal(snap, book.snapshot);
      assert.equal(status, 'attributed');
      total += expected.totalPicoUsd;
    }

    const restatements = await queryFile(
      db,
      `SELECT restated_by, rows_examined::INT, rows_changed::INT, new_unit_price_snapshot, new_cost_usd::VARCHAR, len(old_unit_price_snapshots)
       FROM genai_cost_restatements ORDER BY restated_at`,
    );
    assert.equal(restatements.length, 2);
    const user = process.env.USER ?? userInfo().username;
    assert.deepEqual(restatements[1], [user, ROWS, ROWS, book.snapshot, formatPicoUsd(total), 2n]);
    // the per-team deltas add up to the restatement's delta, and the history keeps every previous value
    const [sums] = await queryFile(
      db,
      `SELECT (SELECT sum(delta_usd) FROM genai_cost_restatement_teams t WHERE t.restatement_id = r.restatement_id) = r.delta_usd,
         (SELECT count(*) FROM genai_cost_history h WHERE h.restatement_id = r.restatement_id)::INT,
         (SELECT count(*) FROM genai_cost_history h WHERE h.restatement_id = r.restatement_id AND h.request_cost_usd IS NULL)::INT
       FROM genai_cost_restatements r ORDER BY restated_at DESC LIMIT 1`,
    );
    assert.deepEqual(sums, [true, ROWS, 100]);

    const again = await runCli(['reprice', '--db', db, '--from', '2025-05-01', '--to', '2025-05-01', '--prices', pricesFile]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /nothing to change/);
  });

  test('a ledger held by a running server is refused with a plain message', async () => {
    const held = await holdLedgerInChild(db);
    try {
      const r = await runCli(['reprice', '--db', db, '--from', '2025-05-01', '--to', '2025-05-02']);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /in use by a running genai-ledger server .*Stop the server first/);
    } finally {
      await held.release();
    }
  });

  test('serve --prices: a bad file stops startup naming file, line and key; a good one is in the snapshot', async () => {
    const bad = join(pricesFile, '..', 'bad-prices.yaml');
    await writeFile(bad, 'version: "1.0"\ndiscounts:\n  - provider: openai\n    percent: lots\n');
    const refused = await runCli(['serve', '--db', join(pricesFile, '..', 'serve.duckdb'), '--http-port', '0', '--grpc-port', '0', '--metrics-port', '0', '--sql-port', '0', '--prices', bad]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /bad-prices\.yaml:4: discounts\.0\.percent: expected a percentage/);

    const server = await startServeProcess(['--db', join(pricesFile, '..', 'serve.duckdb'), '--prices', pricesFile]);
    try {
      const book = await PriceBook.load(pricesFile);
      assert.ok(server.output().includes(`genai-ledger: prices ${book.snapshot}`), server.output());
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });
});
