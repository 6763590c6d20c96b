import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { CREATE_GENAI_CALLS, CREATE_LEDGER_META } from '../../exporters/duckdb/schema.js';
import { DuckDbExporter } from '../../exporters/duckdb/duckdb-exporter.js';
import { queryFile, tempDir, writeLedgerRows } from '../../exporters/duckdb/testing/ledger-test-utils.js';
import { runCli } from '../helpers/cli-process.js';
import { openLedgerForReading } from '../../src/exports/ledger-reader.js';
import { buildReconciliationReport, type ReconciliationReport } from '../../src/reconcile/reconciliation-report.js';
import { BILLING_FIXTURES, june2025LedgerRows } from './june-2025-ledger.js';

const F = (name: string) => join(BILLING_FIXTURES, name);
const str = (rows: unknown[][]) => rows.map((r) => r.map((v) => (v === null ? null : String(v))));

async function report(db: string, by: Parameters<typeof buildReconciliationReport>[2] = 'provider'): Promise<ReconciliationReport> {
  const reader = await openLedgerForReading(db);
  try {
    return await buildReconciliationReport(reader.connection, '2025-06', by);
  } finally {
    await reader.close();
  }
}

async function importAll(db: string): Promise<void> {
  for (const [provider, files] of [
    ['openai', ['openai-costs-2025-06.json', 'openai-usage-completions-2025-06.json']],
    ['anthropic', ['anthropic-cost-report-2025-06.json', 'anthropic-usage-report-2025-06.json']],
    ['aws', ['aws-cur2-2025-06.csv']],
  ] as const) {
    const r = await runCli(['reconcile', 'import', '--db', db, '--provider', provider, ...files.map(F)]);
    assert.equal(r.code, 0, r.stderr);
  }
}

describe('reconcile import + report reconciliation: last month of OpenAI, Anthropic and AWS bills against the ledger', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let db: string;
  before(async () => {
    ({ dir, cleanup } = await tempDir());
    db = join(dir, 'ledger.duckdb');
    await writeLedgerRows(db, june2025LedgerRows());
    await importAll(db);
  });
  after(() => cleanup());

  it('says how much of each bill the ledger explains and where the rest went, to the cent', async () => {
    const r = await report(db);
    const byProvider = Object.fromEntries(
      r.providers.map((p) => [
        p.provider,
        [p.billedUsd, p.ledgerUsd, p.explainedUsd, p.untracedUsd, p.tokenDriftUsd, p.priceDriftUsd, p.unclassifiedUsd, p.unparsedLines],
      ]),
    );
    assert.deepEqual(byProvider, {
      openai: ['31.875000000000', '24.225000000000', '24.225000000000', '5.000000000000', '0.000000000000', '1.500000000000', '1.150000000000', 1],
      anthropic: ['57.155000000000', '52.500000000000', '52.500000000000', '0.000000000000', '3.000000000000', '0.000000000000', '1.655000000000', 1],
      aws: ['8.970000000000', '8.560000000000', '8.560000000000', '0.000000000000', '0.000000000000', '0.000000000000', '0.410000000000', 1],
    });
    assert.equal(r.providers.find((p) => p.provider === 'openai')!.coveragePct, '76.0');
    assert.match(r.providers.find((p) => p.provider === 'openai')!.diagnosis, /^untraced usage \+\$5\.00; price drift \+\$1\.50; unclassified bill lines \+\$1\.15; 1 unparsed bill line$/);
  });

  it('by model: the untraced model, the price drift and the token drift each land on their model', async () => {
    const rows = (await report(db, 'model')).rows.map((r) => [r.provider, r.key, r.gapUsd, r.billedTokens, r.ledgerTokens, r.diagnosis]);
    assert.deepEqual(rows.find((r) => r[1] === 'gpt-4.1-mini-2025-04-14'), ['openai', 'gpt-4.1-mini-2025-04-14', '5.000000000000', '4375000', '0', 'untraced usage +$5.00']);
    assert.deepEqual(rows.find((r) => r[1] === 'gpt-4o-2024-08-06'), ['openai', 'gpt-4o-2024-08-06', '1.500000000000', '4800000', '4800000', 'price drift +$1.50']);
    assert.deepEqual(rows.find((r) => r[1] === 'claude-sonnet-4-20250514'), [
      'anthropic',
      'claude-sonnet-4-20250514',
      '3.455000000000',
      '28000000',
      '27800000',
      'token drift +$3.00; 1 unparsed bill line',
    ]);
    // Bedrock's usage-type name and the Marketplace product name match the ledger's model ids.
    assert.deepEqual(rows.find((r) => r[1] === 'Claude 3.5 Sonnet')?.slice(2, 6), ['0.000000000000', '1700000', '1700000', 'ok']);
    assert.deepEqual(rows.find((r) => r[1] === 'Claude3Haiku')?.slice(2, 6), ['0.000000000000', '6000000', '6000000', 'ok']);
  });

  it('by token class and by day', async () => {
    const classes = (await report(db, 'token_class')).rows.filter((r) => r.provider === 'anthropic').map((r) => [r.key, r.gapUsd]);
    assert.deepEqual(classes, [
      ['cache_write', '0.000000000000'],
      ['cached_input', '0.000000000000'],
      ['input', '0.000000000000'],
      ['other', '1.655000000000'],
      ['output', '3.000000000000'],
    ]);
    const days = (await report(db, 'day')).rows.filter((r) => r.provider === 'openai').map((r) => [r.key, r.gapUsd]);
    assert.deepEqual(days, [
      ['2025-06-01', '0.000000000000'],
      ['2025-06-02', '7.650000000000'],
      ['2025-06-03', '0.000000000000'],
    ]);
  });

  it('raises exceptions above the thresholds, routed to platform or finops, with the money at stake', async () => {
    const rows = str(
      await queryFile(
        db,
        `SELECT provider, model, token_class, kind, owner, CAST(money_at_stake_usd AS VARCHAR)
         FROM genai_reconciliation_exceptions ORDER BY money_at_stake_usd DESC, provider, token_class`,
      ),
    );
    assert.deepEqual(rows, [
      ['anthropic', 'claude-sonnet-4-20250514', 'output', 'token_drift', 'platform', '3.000000000000'],
      ['openai', 'gpt-4.1-mini-2025-04-14', 'input', 'untraced_spend', 'platform', '3.000000000000'],
      ['openai', 'gpt-4.1-mini-2025-04-14', 'output', 'untraced_spend', 'platform', '2.000000000000'],
      ['openai', 'gpt-4o-2024-08-06', 'output', 'price_drift', 'finops', '1.500000000000'],
      ['anthropic', null, 'other', 'unclassified_bill_lines', 'finops', '1.200000000000'],
      ['openai', null, 'other', 'unclassified_bill_lines', 'finops', '1.150000000000'],
    ]);
  });

  it('importing the same files again changes nothing', async () => {
    const before = str(await queryFile(db, 'SELECT count(*), CAST(sum(billed_usd) AS VARCHAR) FROM provider_costs'));
    const r = await runCli(['reconcile', 'import', '--db', db, '--provider', 'openai', F('openai-costs-2025-06.json'), F('openai-usage-completions-2025-06.json')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /already imported \(same content/);
    assert.match(r.stderr, /0 imported, 2 unchanged, 0 failed/);
    assert.deepEqual(str(await queryFile(db, 'SELECT count(*), CAST(sum(billed_usd) AS VARCHAR) FROM provider_costs')), before);
  });

  it('unparsed lines are kept with their raw text and reported', async () => {
    const rows = str(await queryFile(db, `SELECT provider, token_class, CAST(billed_usd AS VARCHAR), raw_text IS NOT NULL FROM provider_costs WHERE parse_status = 'unparsed' ORDER BY 1`));
    assert.deepEqual(rows, [
      ['anthropic', 'other', '0.455000000000', 'true'],
      ['aws', 'other', null, 'true'],
      ['openai', 'other', '0.750000000000', 'true'],
    ]);
  });

  it('report CLI: markdown and json, exact money in json', async () => {
    const md = await runCli(['report', 'reconciliation', '--db', db, '--month', '2025-06', '--by', 'model', '--format', 'markdown']);
    assert.equal(md.code, 0, md.stderr);
    assert.match(md.stdout, /^# GenAI bill reconciliation, 2025-06/);
    assert.match(md.stdout, /- openai: billed \$31\.88, ledger \$24\.23; the ledger explains \$24\.23 \(76\.0%\) of the bill; the rest: untraced usage \$5\.00, price drift \$1\.50, unclassified bill lines \$1\.15; 1 unparsed bill line/);
    assert.match(md.stdout, /\| openai \| gpt-4\.1-mini-2025-04-14 \| 5\.00 \| 0\.00 \| 5\.00 \|/);
    const json = await runCli(['report', 'reconciliation', '--db', db, '--month', '2025-06', '--format', 'json']);
    const doc = JSON.parse(json.stdout) as { providers: { provider: string; billedUsd: string }[] };
    assert.equal(doc.providers.find((p) => p.provider === 'anthropic')!.billedUsd, '57.155000000000');
    const bad = await runCli(['report', 'reconciliation', '--db', db, '--month', '2025-13']);
    assert.equal(bad.code, 2);
  });
});

describe('reconciliation details', () => {
  it('scopes.csv maps OpenAI projects, Anthropic workspaces and IAM principals to teams; --by scope compares team by team', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const db = join(dir, 'ledger.duckdb');
      await writeLedgerRows(db, june2025LedgerRows());
      await importAll(db);
      const scopes = join(dir, 'scopes.csv');
      await writeFile(
        scopes,
        [
          'provider,scope_id,team_id,scope_type,note',
          'openai,proj_search,search,openai_project,',
          'openai,proj_support,support-bot,openai_project,',
          'anthropic,WRKSPC_01SupportBot,support-bot,anthropic_workspace,case does not matter',
          'aws,arn:aws:iam::444455556666:role/search-api,search,aws_principal,',
          'aws,arn:aws:iam::444455556666:role/support-bot,support-bot,aws_principal,',
        ].join('\n'),
      );
      const load = await runCli(['reconcile', 'scopes', '--db', db, scopes]);
      assert.equal(load.code, 0, load.stderr);
      const rows = (await report(db, 'scope')).rows.map((r) => [r.provider, r.key, r.billedUsd, r.ledgerUsd, r.diagnosis.split(':')[0]]);
      assert.deepEqual(rows, [
        ['anthropic', '(unmapped scope)', '1.200000000000', '0.000000000000', 'unmapped scope'],
        ['anthropic', 'support-bot', '55.955000000000', '52.500000000000', 'gap +$3.46; 1 unparsed bill line'],
        ['aws', '(unmapped scope)', '0.410000000000', '0.000000000000', 'unmapped scope'],
        ['aws', 'search', '7.500000000000', '7.500000000000', 'ok'],
        ['aws', 'support-bot', '1.060000000000', '1.060000000000', '1 unparsed bill line'],
        ['openai', '(unmapped scope)', '5.750000000000', '0.000000000000', 'unmapped scope'],
        ['openai', 'search', '24.775000000000', '22.875000000000', 'gap +$1.90'],
        ['openai', 'support-bot', '1.350000000000', '1.350000000000', 'ok'],
      ]);
      await writeFile(scopes, 'provider,scope_id,team_id\nopenai,proj_a,search\nopenai,proj_a,other\nmistral,x,y\n');
      const bad = await runCli(['reconcile', 'scopes', '--db', db, scopes]);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /scopes\.csv:3: column "scope_id": openai scope "proj_a" is already mapped on line 2/);
      assert.match(bad.stderr, /scopes\.csv:4: column "provider": must be one of/);
    } finally {
      await cleanup();
    }
  });

  it('thresholds decide which gaps are exceptions', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const db = join(dir, 'ledger.duckdb');
      await writeLedgerRows(db, june2025LedgerRows());
      await importAll(db);
      const set = await runCli(['reconcile', 'thresholds', '--db', db, '--min-gap-usd', '2.50']);
      assert.equal(set.code, 0, set.stderr);
      assert.match(set.stdout, /at least \$2\.50 and 2%/);
      assert.deepEqual(str(await queryFile(db, 'SELECT kind, CAST(money_at_stake_usd AS VARCHAR) FROM genai_reconciliation_exceptions ORDER BY 2 DESC, 1')), [
        ['token_drift', '3.000000000000'],
        ['untraced_spend', '3.000000000000'],
      ]);
      assert.equal((await runCli(['reconcile', 'thresholds', '--db', db, '--min-gap-pct', '150'])).code, 2);
    } finally {
      await cleanup();
    }
  });

  it('a CUR and a FOCUS export of the same account and days are not both counted', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const db = join(dir, 'ledger.duckdb');
      await writeLedgerRows(db, june2025LedgerRows());
      assert.equal((await runCli(['reconcile', 'import', '--db', db, '--provider', 'aws', F('aws-cur2-2025-06.csv')])).code, 0);
      const refused = await runCli(['reconcile', 'import', '--db', db, '--provider', 'aws', F('aws-focus-2025-06.csv')]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /already holds aws cost lines for the same days from another bill: .* aws\.cur .* --replace-overlap/);
      const replaced = await runCli(['reconcile', 'import', '--db', db, '--provider', 'aws', '--replace-overlap', F('aws-focus-2025-06.csv')]);
      assert.equal(replaced.code, 0, replaced.stderr);
      assert.deepEqual(str(await queryFile(db, `SELECT source_family, count(*) FROM provider_costs WHERE "day" = DATE '2025-06-01' GROUP BY 1 ORDER BY 1`)), [
        ['aws.focus', '2'],
      ]);
    } finally {
      await cleanup();
    }
  });

  it('a newer pull of an admin API day replaces that day (late-finalized costs), other days stay', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const db = join(dir, 'ledger.duckdb');
      await writeLedgerRows(db, june2025LedgerRows());
      assert.equal((await runCli(['reconcile', 'import', '--db', db, '--provider', 'openai', F('openai-costs-2025-06.json')])).code, 0);
      // The day of 2025-06-03 again, finalized with a different output amount.
      const doc = JSON.parse(await readFile(F('openai-costs-2025-06.json'), 'utf8')) as { data: { results: { line_item: string; amount: { value: number } }[] }[] };
      doc.data = [doc.data[2]!];
      doc.data[0]!.results = doc.data[0]!.results.filter((r) => r.line_item !== 'gpt-4o-mini-2024-07-18, output');
      doc.data[0]!.results.find((r) => r.line_item === 'gpt-4o-2024-08-06, output')!.amount.value = 5.25;
      await writeFile(join(dir, 'later.json'), JSON.stringify(doc));
      const r = await runCli(['reconcile', 'import', '--db', db, '--provider', 'openai', join(dir, 'later.json')]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /replaced 5 earlier lines/);
      assert.deepEqual(
        str(await queryFile(db, `SELECT CAST("day" AS VARCHAR), count(*), CAST(sum(billed_usd) AS VARCHAR) FROM provider_costs GROUP BY 1 ORDER BY 1`)),
        [
          ['2025-06-01', '5', '8.075000000000'],
          ['2025-06-02', '9', '15.725000000000'],
          ['2025-06-03', '4', '8.025000000000'],
        ],
      );
    } finally {
      await cleanup();
    }
  });

  it('a ledger created by an older build gains the reconciliation tables and views when opened', async () => {
    const { dir, cleanup } = await tempDir();
    try {
      const db = join(dir, 'old.duckdb');
      const instance = await DuckDBInstance.create(db);
      const c = await instance.connect();
      await c.run(CREATE_GENAI_CALLS);
      await c.run(CREATE_LEDGER_META);
      await c.run(`INSERT INTO ledger_meta VALUES ('schema_version', '1'), ('created_at', '2025-01-01T00:00:00Z'), ('created_by', 'genai-ledger 0.0.9')`);
      c.closeSync();
      instance.closeSync();
      const exporter = new DuckDbExporter({ path: db });
      await exporter.start();
      await exporter.shutdown();
      const names = str(
        await queryFile(
          db,
          `SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'provider_%' OR table_name = 'reconciliation_settings'
           UNION ALL SELECT view_name FROM duckdb_views() WHERE view_name LIKE 'genai_reconciliation_%' ORDER BY 1`,
        ),
      ).map((r) => r[0]);
      assert.deepEqual(names, ['genai_reconciliation_daily', 'genai_reconciliation_exceptions', 'provider_cost_imports', 'provider_costs', 'provider_scopes', 'reconciliation_settings']);
    } finally {
      await cleanup();
    }
  });

  it('model keys: bill names and ledger ids of the same model agree, different models differ', async () => {
    const instance = await DuckDBInstance.create(':memory:');
    const c = await instance.connect();
    const { reconciliationStatements } = await import('../../exporters/duckdb/schema.js');
    for (const s of reconciliationStatements().filter((s) => /MACRO/.test(s))) await c.run(s);
    const key = async (m: string) => String((await c.runAndReadAll('SELECT genai_model_key($1)', [m])).getRows()[0]![0]);
    const same: string[][] = [
      ['us.anthropic.claude-3-5-sonnet-20240620-v1:0', 'Claude3.5Sonnet', 'Claude 3.5 Sonnet (Amazon Bedrock Edition)', 'claude-3-5-sonnet@20240620'],
      ['claude-sonnet-4-6', 'Claude4.6Sonnet', 'Claude Sonnet 4.6'],
      ['gpt-4o-2024-08-06', 'gpt-4o-0806', 'gpt-4o'],
      ['gemini-1.5-pro-002', 'Gemini 1.5 Pro'],
      ['anthropic.claude-3-haiku-20240307-v1:0', 'Claude3Haiku'],
    ];
    for (const group of same) {
      const keys = await Promise.all(group.map(key));
      assert.equal(new Set(keys).size, 1, `${group.join(' / ')} → ${keys.join(' / ')}`);
    }
    const different = ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1-mini', 'o1', 'o1-mini', 'claude-3-5-haiku', 'claude-3-5-sonnet', 'claude-sonnet-4', 'claude-opus-4'];
    assert.equal(new Set(await Promise.all(different.map(key))).size, different.length);
    c.closeSync();
    instance.closeSync();
  });
});
