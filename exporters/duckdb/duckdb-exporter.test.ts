import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { PipelineError } from '../../core/pipeline-errors.js';
import { DuckDbExporter, DuckDbExporterConfig } from './duckdb-exporter.js';
import { runReadOnlyQuery } from './read-only-query.js';
import { CONTRACT_COLUMNS, LEDGER_COLUMNS, SCHEMA_VERSION } from './schema.js';
import { stagedColumnsMatchSchema } from './staging-table.js';
import { holdLedgerInChild, queryFile, snapshot, tempDir } from './testing/ledger-test-utils.js';
import { sampleLedgerRow, sampleLedgerRows } from './testing/sample-rows.js';

let dir: string;
let cleanup: () => Promise<void>;
before(async () => ({ dir, cleanup } = await tempDir()));
after(() => cleanup());

let fileNo = 0;
const newPath = () => join(dir, `ledger-${++fileNo}.duckdb`);

async function withExporter<T>(path: string, fn: (e: DuckDbExporter) => Promise<T>): Promise<T> {
  const exporter = new DuckDbExporter({ path });
  await exporter.start();
  try {
    return await fn(exporter);
  } finally {
    await exporter.shutdown();
  }
}

const count = async (path: string) => Number((await queryFile(path, 'SELECT count(*) FROM genai_calls'))[0]![0]);

describe('DuckDbExporter schema', () => {
  it('creates genai_calls with the contract columns first, in order, then the extras', async () => {
    const path = newPath();
    await withExporter(path, async () => undefined);
    const cols = await queryFile(
      path,
      `SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'genai_calls' ORDER BY column_index`,
    );
    assert.deepEqual(
      cols.map((c) => c[0]),
      LEDGER_COLUMNS.map((c) => c.name),
    );
    assert.deepEqual(
      cols.slice(0, CONTRACT_COLUMNS.length).map((c) => `${c[0]} ${c[1]}`),
      [
        'timestamp TIMESTAMP WITH TIME ZONE',
        'trace_id VARCHAR',
        'span_id VARCHAR',
        'provider VARCHAR',
        'model VARCHAR',
        'operation VARCHAR',
        'team_id VARCHAR',
        'cost_center VARCHAR',
        'project_id VARCHAR',
        'service VARCHAR',
        'environment VARCHAR',
        'input_tokens BIGINT',
        'cached_input_tokens BIGINT',
        'cache_write_tokens BIGINT',
        'output_tokens BIGINT',
        'reasoning_tokens BIGINT',
        'unit_price_snapshot VARCHAR',
        'request_cost_usd DECIMAL(18,12)',
        'attribution_status VARCHAR',
      ],
    );
    assert.ok(stagedColumnsMatchSchema(), 'staging-table.ts maps every column of schema.ts, in order');
  });

  it('records ledger_meta so the file is recognisable', async () => {
    const path = newPath();
    await withExporter(path, async () => undefined);
    const meta = Object.fromEntries((await queryFile(path, 'SELECT "key", "value" FROM ledger_meta')).map((r) => [r[0], r[1]]));
    assert.equal(meta.schema_version, String(SCHEMA_VERSION));
    assert.match(String(meta.created_by), /^genai-ledger \d+\.\d+\.\d+/);
    assert.ok(!Number.isNaN(Date.parse(String(meta.created_at))));
  });

  it('applies defaults and refuses unknown config keys', () => {
    assert.deepEqual(DuckDbExporterConfig.parse({}), {
      path: './genai-ledger.duckdb',
      maxBatchRows: 50_000,
      checkpointThreshold: '256MB',
      threads: 1,
      writers: 1,
      disabledCompressionMethods: ['fsst'],
    });
    assert.throws(() => DuckDbExporterConfig.parse({ pth: 'x' }));
    assert.throws(() => DuckDbExporterConfig.parse({ maxBatchRows: 0 }));
    assert.throws(() => DuckDbExporterConfig.parse({ writers: 0 }));
    assert.throws(() => DuckDbExporterConfig.parse({ disabledCompressionMethods: ["fsst'; DROP TABLE x; --"] }));
  });

  it('keeps FSST out of the checkpointed file by default, and refuses an unknown compression method at start', async () => {
    const path = newPath();
    await withExporter(path, (exporter) => exporter.write(sampleLedgerRows(3000)));
    const methods = (await queryFile(path, "SELECT DISTINCT compression FROM pragma_storage_info('genai_calls')")).map((r) => String(r[0]));
    assert.ok(methods.length > 0);
    assert.ok(!methods.some((m) => /fsst/i.test(m)), `compression methods used: ${methods.join(', ')}`);

    const bad = new DuckDbExporter({ path, disabledCompressionMethods: ['nosuchmethod'] });
    await assert.rejects(bad.start(), /nosuchmethod/i);
    await bad.shutdown();
    assert.equal((await queryFile(path, 'SELECT count(*) FROM genai_calls'))[0]?.[0], 3000n);
  });
});

describe('DuckDbExporter.write', () => {
  it('writes every column exactly', async () => {
    const path = newPath();
    const row = sampleLedgerRow();
    const unpriced = sampleLedgerRow({
      spanId: 'c0ffee0000000001',
      parentSpanId: null,
      teamId: null,
      costCenter: null,
      projectId: null,
      attributionSource: null,
      model: 'mystery-model',
      unitPriceSnapshot: null,
      requestCostPicoUsd: null,
      inputCostPicoUsd: null,
      cachedInputCostPicoUsd: null,
      cacheWriteCostPicoUsd: null,
      outputCostPicoUsd: null,
      reasoningTokens: null,
      attributionStatus: 'missing_team',
      exceptions: ['missing_team', 'missing_cost_center', 'unpriced_model'],
      status: 'error',
    });
    await withExporter(path, (e) => e.write([row, unpriced]));
    const rows = await queryFile(
      path,
      `SELECT epoch_us("timestamp"), trace_id, span_id, provider, model, operation, team_id, cost_center, project_id,
              service, environment, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens,
              unit_price_snapshot, request_cost_usd::VARCHAR, attribution_status,
              epoch_us(end_timestamp), duration_ms, parent_span_id, span_name, request_model, response_model, total_tokens,
              attribution_source, input_cost_usd::VARCHAR, cached_input_cost_usd::VARCHAR, cache_write_cost_usd::VARCHAR,
              output_cost_usd::VARCHAR, exceptions::VARCHAR, status, instrumentation_scope,
              ingested_at > now() - INTERVAL 1 MINUTE
       FROM genai_calls ORDER BY span_id`,
    );
    assert.deepEqual(rows[0], [
      1_735_732_800_123_456n, // nanoseconds truncated to DuckDB's microseconds
      '0af7651916cd43dd8448eb211c80319c',
      'b7ad6b7169203331',
      'openai',
      'gpt-4o-mini-2024-07-18',
      'chat',
      'team-search',
      'CC-1042',
      'proj-ranking',
      'search-api',
      'production',
      1200n,
      200n,
      100n,
      300n,
      50n,
      'genai-prices@0.1.8',
      '0.000123450000',
      'attributed',
      1_735_732_801_623_456n,
      1500,
      '00f067aa0ba902b7',
      'chat gpt-4o-mini',
      'gpt-4o-mini',
      'gpt-4o-mini-2024-07-18',
      1500n,
      'span',
      '0.000090000000',
      '0.000015000000',
      '0.000000450000',
      '0.000018000000',
      '[]',
      'ok',
      '@opentelemetry/instrumentation-openai',
      true,
    ]);
    const u = rows[1]!;
    assert.equal(u[2], 'c0ffee0000000001');
    assert.equal(u[6], null); // team_id NULL, never guessed
    assert.equal(u[7], null);
    assert.equal(u[15], null); // reasoning_tokens
    assert.equal(u[16], null); // unit_price_snapshot
    assert.equal(u[17], null); // request_cost_usd NULL, never a silent 0
    assert.equal(u[18], 'missing_team');
    assert.equal(u[21], null); // parent_span_id
    assert.equal(u[31], '[missing_team, missing_cost_center, unpriced_model]');
    assert.equal(u[32], 'error');
  });

  it('keeps money exact when summed', async () => {
    const path = newPath();
    // 10,000 calls of $0.000000000001 (one pico-dollar) plus 10,000 of $0.1: floats would drift.
    const rows = [
      ...sampleLedgerRows(10_000, { requestCostPicoUsd: 1n }, 1),
      ...sampleLedgerRows(10_000, { requestCostPicoUsd: 100_000_000_000n }, 2),
    ];
    await withExporter(path, (e) => e.write(rows));
    const [[sum]] = (await queryFile(path, 'SELECT sum(request_cost_usd)::VARCHAR FROM genai_calls')) as [[string]];
    assert.equal(sum, '1000.000000010000');
  });

  it('group-commits concurrent writes and resolves each only after commit', async () => {
    const path = newPath();
    await withExporter(path, async (e) => {
      const writes = Array.from({ length: 50 }, (_, i) => e.write(sampleLedgerRows(100, {}, i + 1)));
      await Promise.all(writes);
      assert.ok(e.stats.batches < 50, `50 concurrent writes used ${e.stats.batches} transactions`);
      assert.equal(e.stats.rows, 5000);
    });
    assert.equal(await count(path), 5000);
  });

  it('respects maxBatchRows when grouping', async () => {
    const path = newPath();
    const exporter = new DuckDbExporter({ path, maxBatchRows: 250 });
    await exporter.start();
    try {
      await Promise.all(Array.from({ length: 10 }, (_, i) => exporter.write(sampleLedgerRows(100, {}, i + 1))));
      assert.ok(exporter.stats.batches >= 4, `expected ≥ 4 transactions of ≤ 250 rows, got ${exporter.stats.batches}`);
      // A single write larger than maxBatchRows is still committed, whole.
      await exporter.write(sampleLedgerRows(1000, {}, 99));
    } finally {
      await exporter.shutdown();
    }
    assert.equal(await count(path), 2000);
  });

  it('counts a (trace_id, span_id) once: within a batch (first wins) and across batches', async () => {
    const path = newPath();
    await withExporter(path, async (e) => {
      const first = sampleLedgerRow({ model: 'first' });
      const second = sampleLedgerRow({ model: 'second' });
      await e.write([first, second, first]);
      await Promise.all([e.write([sampleLedgerRow({ model: 'third' })]), e.write([sampleLedgerRow({ model: 'fourth' })])]);
      await e.write([sampleLedgerRow({ model: 'fifth' }), sampleLedgerRow({ spanId: 'aaaaaaaaaaaaaaaa' })]);
    });
    const rows = await queryFile(path, 'SELECT span_id, model FROM genai_calls ORDER BY span_id');
    assert.deepEqual(rows, [
      ['aaaaaaaaaaaaaaaa', 'gpt-4o-mini-2024-07-18'],
      ['b7ad6b7169203331', 'first'],
    ]);
  });

  it('keeps committing across staging-table renewals and duplicate fallbacks (the next transaction is opened ahead)', async () => {
    const path = newPath();
    await withExporter(path, async (e) => {
      // 26 × 2,048 rows crosses the renewal of the staging tables (every 50k staged rows).
      for (let seed = 1; seed <= 26; seed++) await e.write(sampleLedgerRows(2048, {}, seed));
      // A re-sent batch mixed with new rows: rolled back, staged again for ON CONFLICT, committed.
      await e.write([...sampleLedgerRows(100, {}, 1), ...sampleLedgerRows(100, {}, 27)]);
      await e.write(sampleLedgerRows(100, {}, 28));
      assert.equal(e.stats.batches, 28);
    });
    const [[rows, distinct]] = (await queryFile(path, 'SELECT count(*), count(DISTINCT (trace_id, span_id)) FROM genai_calls')) as [
      [bigint, bigint],
    ];
    assert.equal(Number(rows), 26 * 2048 + 200);
    assert.equal(Number(distinct), Number(rows));
  });

  it('with several writer lanes, commits a write carrying late ownership only after the earlier writes it updates', async () => {
    for (const writers of [2, 4]) {
      const path = newPath();
      const batches = Array.from({ length: 6 }, (_, i) => sampleLedgerRows(512, {}, 100 + i));
      const targets = batches.map((b) => b[7]!);
      const exporter = new DuckDbExporter({ path, writers });
      await exporter.start();
      try {
        const plain = batches.map((b) => exporter.write(b));
        // Queued in the same tick as the rows it updates, which are still committing in other lanes.
        const update = exporter.write([], {
          duplicates: [],
          moves: [],
          ownerUpdates: targets.map((t) => ({
            traceId: t.traceId,
            spanId: t.spanId,
            startMs: Number(t.startTimeUnixNano / 1_000_000n) - 1000,
            teamId: 'late-team',
            costCenter: 'CC-LATE',
            projectId: null,
            environment: null,
            attributionSource: 'ancestor' as const,
            attributionStatus: 'attributed' as const,
            exceptions: [],
          })),
        });
        await Promise.all([...plain, update]);
      } finally {
        await exporter.shutdown();
      }
      const updated = await queryFile(path, `SELECT count(*) FROM genai_calls WHERE team_id = 'late-team' AND cost_center = 'CC-LATE'`);
      assert.equal(Number(updated[0]![0]), targets.length);
      assert.equal(await count(path), 6 * 512);
    }
  });

  it('counts a span once when several writer lanes commit it concurrently', async () => {
    const path = newPath();
    const exporter = new DuckDbExporter({ path, writers: 4 });
    await exporter.start();
    try {
      // The same spans in several concurrent writes, plus new ones: whichever lane commits second falls back
      // to ON CONFLICT; if the first had not committed yet, that write fails and can be retried (503).
      const shared = sampleLedgerRows(300, {}, 200);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) => exporter.write([...shared, ...sampleLedgerRows(50, {}, 300 + i)])),
      );
      for (const o of outcomes) {
        if (o.status === 'rejected') assert.ok(o.reason instanceof PipelineError && o.reason.kind === 'unavailable', String(o.reason));
      }
      const accepted = outcomes.filter((o) => o.status === 'fulfilled').length;
      assert.ok(accepted >= 1);
      // Re-send what failed, as a client does.
      for (let i = 0; i < outcomes.length; i++) {
        if (outcomes[i]!.status === 'rejected') await exporter.write([...shared, ...sampleLedgerRows(50, {}, 300 + i)]);
      }
    } finally {
      await exporter.shutdown();
    }
    const [[rows, distinct]] = (await queryFile(path, 'SELECT count(*), count(DISTINCT (trace_id, span_id)) FROM genai_calls')) as [
      [bigint, bigint],
    ];
    assert.equal(Number(rows), 300 + 8 * 50);
    assert.equal(Number(distinct), Number(rows));
  });

  it('rejects an invalid row with PipelineError("invalid") without affecting other writes', async () => {
    const path = newPath();
    await withExporter(path, async (e) => {
      const good = e.write(sampleLedgerRows(3, {}, 1));
      const bad = assert.rejects(
        e.write([sampleLedgerRow({ inputTokens: 1.5 })]),
        (err: unknown) => err instanceof PipelineError && err.kind === 'invalid',
      );
      const tooExpensive = assert.rejects(
        e.write([sampleLedgerRow({ requestCostPicoUsd: 10n ** 18n })]),
        (err: unknown) => err instanceof PipelineError && err.kind === 'invalid' && /DECIMAL\(18,12\)/.test(err.message),
      );
      await Promise.all([good, bad, tooExpensive]);
    });
    assert.equal(await count(path), 3);
  });

  it('refuses writes before start and after shutdown with PipelineError("unavailable")', async () => {
    const exporter = new DuckDbExporter({ path: newPath() });
    await assert.rejects(exporter.write([sampleLedgerRow()]), (err: unknown) => err instanceof PipelineError && err.kind === 'unavailable');
    await exporter.start();
    await exporter.shutdown();
    await assert.rejects(exporter.write([sampleLedgerRow()]), (err: unknown) => err instanceof PipelineError && err.kind === 'unavailable');
  });
});

describe('DuckDbExporter lifecycle', () => {
  it('shutdown is safe without start and twice', async () => {
    const exporter = new DuckDbExporter({ path: newPath() });
    await exporter.shutdown();
    await exporter.shutdown();
    const started = new DuckDbExporter({ path: newPath() });
    await started.start();
    await Promise.all([started.shutdown(), started.shutdown()]);
    await started.shutdown();
  });

  it('shutdown finishes pending writes, checkpoints, and the rows are there on reopen', async () => {
    const path = newPath();
    const exporter = new DuckDbExporter({ path });
    await exporter.start();
    const pending = [exporter.write(sampleLedgerRows(1000, {}, 1)), exporter.write(sampleLedgerRows(1000, {}, 2))];
    await exporter.shutdown();
    await Promise.all(pending);
    assert.equal(await count(path), 2000);
    // Reopen our own file: accepted, appended to, duplicates of old rows still ignored.
    await withExporter(path, (e) => e.write([...sampleLedgerRows(10, {}, 1), ...sampleLedgerRows(10, {}, 3)]));
    assert.equal(await count(path), 2010);
  });

  it('keeps every acknowledged row when the writing process is killed (WAL replay)', async () => {
    const path = newPath();
    const { child } = await holdLedgerInChild(path, 1000);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL'); // no shutdown, no checkpoint: the rows exist only in the fsynced WAL
    await exited;
    assert.equal(await count(path), 1000);
  });

  it('creates a missing parent directory', async () => {
    const path = join(dir, 'nested', 'deeper', 'ledger.duckdb');
    await withExporter(path, (e) => e.write([sampleLedgerRow()]));
    assert.equal(await count(path), 1);
  });

  it('adopts an empty DuckDB database', async () => {
    const path = newPath();
    (await DuckDBInstance.create(path)).closeSync();
    await withExporter(path, (e) => e.write([sampleLedgerRow()]));
    assert.equal(await count(path), 1);
  });

  it('refuses a DuckDB database it did not create, and leaves it unchanged', async () => {
    const path = newPath();
    const instance = await DuckDBInstance.create(path);
    const connection = await instance.connect();
    await connection.run('CREATE TABLE invoices (id INTEGER, amount DECIMAL(10,2))');
    await connection.run('INSERT INTO invoices VALUES (1, 9.99)');
    await connection.run('CHECKPOINT');
    connection.closeSync();
    instance.closeSync();
    const before = await snapshot(path);
    await new Promise((r) => setTimeout(r, 20)); // so an mtime change would show
    const exporter = new DuckDbExporter({ path });
    await assert.rejects(exporter.start(), /did not create.*no ledger_meta/);
    await exporter.shutdown();
    const afterwards = await snapshot(path);
    assert.equal(afterwards.mtimeMs, before.mtimeMs);
    assert.ok(afterwards.bytes.equals(before.bytes), 'file bytes unchanged');
    assert.deepEqual(await queryFile(path, 'SELECT table_name FROM duckdb_tables()'), [['invoices']]);
  });

  it('refuses a file that is not a DuckDB database, and leaves it unchanged', async () => {
    for (const content of ['team_id,cost_center\nsearch,CC-1\n'.repeat(500), '', 'short']) {
      const path = newPath();
      await writeFile(path, content);
      const before = await snapshot(path);
      await new Promise((r) => setTimeout(r, 20));
      const exporter = new DuckDbExporter({ path });
      await assert.rejects(exporter.start(), /is not a DuckDB database/);
      const afterwards = await snapshot(path);
      assert.equal(afterwards.mtimeMs, before.mtimeMs);
      assert.ok(afterwards.bytes.equals(before.bytes));
      await assert.rejects(runReadOnlyQuery(path, 'SELECT 1'), /is not a DuckDB database/);
    }
  });

  it('refuses a ledger from a newer schema version', async () => {
    const path = newPath();
    await withExporter(path, async () => undefined);
    const instance = await DuckDBInstance.create(path);
    const connection = await instance.connect();
    await connection.run(`UPDATE ledger_meta SET "value" = '99' WHERE "key" = 'schema_version'`);
    connection.closeSync();
    instance.closeSync();
    await assert.rejects(new DuckDbExporter({ path }).start(), /schema version 99.*Upgrade genai-ledger/);
  });

  it('says plainly when another process holds the file (exporter and read-only query)', async () => {
    const path = newPath();
    await withExporter(path, (e) => e.write([sampleLedgerRow()]));
    const { release } = await holdLedgerInChild(path);
    try {
      const second = new DuckDbExporter({ path });
      await assert.rejects(second.start(), (err: Error) => {
        assert.equal(err.message, `${path} is in use by another process (is a genai-ledger server running?)`);
        return true;
      });
      await second.shutdown();
      await assert.rejects(runReadOnlyQuery(path, 'SELECT count(*) FROM genai_calls'), (err: Error) => {
        assert.equal(
          err.message,
          `${path} is held by a running genai-ledger server; stop it, or add --snapshot to query a point-in-time copy`,
        );
        return true;
      });
    } finally {
      await release();
    }
    // Once the holder is gone, both work again.
    assert.deepEqual((await runReadOnlyQuery(path, 'SELECT count(*) AS n FROM genai_calls')).rows, [[1n]]);
  });
});

describe('views', () => {
  it('genai_exceptions and genai_chargeback_monthly', async () => {
    const path = newPath();
    const jan = 1_735_732_800_000_000_000n; // 2025-01-01T12:00Z
    const feb = 1_738_411_200_000_000_000n; // 2025-02-01T12:00Z
    await withExporter(path, (e) =>
      e.write([
        ...sampleLedgerRows(3, { startTimeUnixNano: jan, endTimeUnixNano: jan + 1n }, 1),
        ...sampleLedgerRows(2, { startTimeUnixNano: feb, endTimeUnixNano: feb + 1n }, 2),
        ...sampleLedgerRows(1, {
          startTimeUnixNano: feb,
          endTimeUnixNano: feb,
          teamId: null,
          costCenter: null,
          requestCostPicoUsd: null,
          attributionStatus: 'missing_team',
          exceptions: ['missing_team'],
        }, 3),
      ]),
    );
    assert.deepEqual(await queryFile(path, 'SELECT count(*), min(attribution_status) FROM genai_exceptions'), [[1n, 'missing_team']]);
    const monthly = await queryFile(
      path,
      `SELECT "month"::VARCHAR, team_id, cost_center, calls, tokens, cost_usd::VARCHAR, unpriced_calls
       FROM genai_chargeback_monthly ORDER BY "month", team_id NULLS LAST`,
    );
    assert.deepEqual(monthly, [
      ['2025-01-01', 'team-search', 'CC-1042', 3n, 4500n, '0.000370350000', 0n],
      ['2025-02-01', 'team-search', 'CC-1042', 2n, 3000n, '0.000246900000', 0n],
      ['2025-02-01', null, null, 1n, 1500n, null, 1n],
    ]);
  });
});
