import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { parseCsv } from '../../processors/attribution/csv.js';
import { queryFile, tempDir, writeLedgerRows } from '../../exporters/duckdb/testing/ledger-test-utils.js';
import { sampleLedgerRow } from '../../exporters/duckdb/testing/sample-rows.js';
import { runCli } from '../helpers/cli-process.js';
import { FOCUS_COLUMNS } from '../../src/exports/focus-export.js';
import { june2025LedgerRows } from '../reconcile/june-2025-ledger.js';

/**
 * FOCUS 1.2 (FinOps-Open-Cost-and-Usage-Spec/FOCUS_Spec, tag v1.2, specification/columns/*.md): the columns
 * whose feature level is Mandatory, their data types, and the allowed values the export uses. Written from the
 * spec, not from our column table, so the test checks the export against the spec.
 */
const MANDATORY_1_2: Record<string, 'String' | 'Decimal' | 'Date/Time'> = {
  BilledCost: 'Decimal',
  BillingAccountId: 'String',
  BillingAccountName: 'String',
  BillingCurrency: 'String',
  BillingPeriodEnd: 'Date/Time',
  BillingPeriodStart: 'Date/Time',
  ChargeCategory: 'String',
  ChargeClass: 'String',
  ChargeDescription: 'String',
  ChargePeriodEnd: 'Date/Time',
  ChargePeriodStart: 'Date/Time',
  ContractedCost: 'Decimal',
  EffectiveCost: 'Decimal',
  InvoiceIssuerName: 'String',
  ListCost: 'Decimal',
  PricingQuantity: 'Decimal',
  PricingUnit: 'String',
  ProviderName: 'String',
  PublisherName: 'String',
  ServiceCategory: 'String',
  ServiceName: 'String',
};
/** Mandatory columns that allow nulls in 1.2; every other mandatory column must never be null. */
const NULLABLE_MANDATORY = new Set(['BillingAccountName', 'ChargeClass', 'ChargeDescription', 'PricingQuantity', 'PricingUnit']);
const CHARGE_CATEGORIES = ['Usage', 'Purchase', 'Tax', 'Credit', 'Adjustment'];
const CHARGE_FREQUENCIES = ['One-Time', 'Recurring', 'Usage-Based'];
const PRICING_CATEGORIES = ['Standard', 'Dynamic', 'Committed', 'Other'];
/** FOCUS 1.2 ServiceSubcategory values whose parent is "AI and Machine Learning". */
const AI_SUBCATEGORIES = ['AI Platforms', 'Bots', 'Generative AI', 'Machine Learning', 'Natural Language Processing', 'Other (AI and Machine Learning)'];
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
/** Numeric Format: integer, decimal or mEn; no sign for positives, no commas, no units. */
const NUMERIC = /^-?\d+(\.\d+)?([eE]-?\d+)?$/;
/** Unit Format's count-based forms: "Tokens", "1000000 Tokens". */
const TOKEN_UNIT = /^(\d+ )?Tokens$/;

describe('export focus: FOCUS 1.2 from the ledger', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let db: string;
  before(async () => {
    ({ dir, cleanup } = await tempDir());
    db = join(dir, 'ledger.duckdb');
    const unpriced = sampleLedgerRow({
      traceId: 'f'.repeat(32),
      spanId: 'e'.repeat(16),
      startTimeUnixNano: BigInt(Date.parse('2025-06-10T08:00:00Z')) * 1_000_000n,
      endTimeUnixNano: null,
      model: 'acme-llm-9000',
      unitPriceSnapshot: null,
      requestCostPicoUsd: null,
      inputCostPicoUsd: null,
      cachedInputCostPicoUsd: null,
      cacheWriteCostPicoUsd: null,
      outputCostPicoUsd: null,
      attributionStatus: 'unpriced_model',
      exceptions: ['unpriced_model'],
    });
    const otherMonth = sampleLedgerRow({ traceId: 'c'.repeat(32), spanId: 'd'.repeat(16), startTimeUnixNano: BigInt(Date.parse('2025-07-01T00:00:00Z')) * 1_000_000n, endTimeUnixNano: null });
    await writeLedgerRows(db, [...june2025LedgerRows(), unpriced, otherMonth]);
  });
  after(() => cleanup());

  const ledgerTotal = async () =>
    String(
      (
        await queryFile(
          db,
          `SELECT CAST(sum(request_cost_usd) AS VARCHAR) FROM genai_calls WHERE "timestamp" >= TIMESTAMPTZ '2025-06-01 00:00:00+00' AND "timestamp" < TIMESTAMPTZ '2025-07-01 00:00:00+00'`,
        )
      )[0]![0],
    );

  it('CSV: every mandatory column, spec formats and allowed values, x_ columns last, sum(BilledCost) = the ledger total exactly', async () => {
    const out = join(dir, 'focus-2025-06.csv');
    const r = await runCli(['export', 'focus', '--db', db, '--month', '2025-06', '--out', out]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /27 rows, BilledCost \$85\.29 \(ledger total \$85\.29, equal\); 1 unpriced calls have no cost/);
    const { records } = parseCsv(await readFile(out, 'utf8'));
    const header = records[0]!.fields;
    const rows = records.slice(1).map((rec) => Object.fromEntries(header.map((h, i) => [h, rec.fields[i] === '' ? null : rec.fields[i]!])));
    for (const column of Object.keys(MANDATORY_1_2)) assert.ok(header.includes(column), `mandatory column ${column}`);
    const firstCustom = header.findIndex((h) => h.startsWith('x_'));
    assert.ok(firstCustom > 0 && header.slice(firstCustom).every((h) => /^x_[A-Za-z0-9]+$/.test(h)), 'custom columns are x_-prefixed and after every FOCUS column');
    assert.ok(header.slice(0, firstCustom).every((h) => /^[A-Z][A-Za-z0-9]*$/.test(h)), 'FOCUS column ids are PascalCase alphanumerics');
    assert.equal(rows.length, 27);
    for (const row of rows) {
      for (const [column, type] of Object.entries(MANDATORY_1_2)) {
        const v = row[column];
        if (!NULLABLE_MANDATORY.has(column)) assert.notEqual(v, null, `${column} must not be null`);
        if (v === null || v === undefined) continue;
        if (type === 'Decimal') assert.match(v, NUMERIC, `${column}=${v}`);
        if (type === 'Date/Time') assert.match(v, DATE_TIME, `${column}=${v}`);
      }
      assert.ok(CHARGE_CATEGORIES.includes(row['ChargeCategory']!));
      assert.equal(row['ChargeCategory'], 'Usage');
      assert.equal(row['ChargeClass'], null, 'not a correction of a previous period');
      assert.ok(CHARGE_FREQUENCIES.includes(row['ChargeFrequency']!));
      assert.ok(PRICING_CATEGORIES.includes(row['PricingCategory']!));
      assert.equal(row['ServiceCategory'], 'AI and Machine Learning');
      assert.ok(AI_SUBCATEGORIES.includes(row['ServiceSubcategory']!));
      assert.equal(row['ServiceSubcategory'], 'Generative AI');
      assert.equal(row['BillingCurrency'], 'USD');
      assert.match(row['PricingUnit']!, TOKEN_UNIT);
      assert.equal(row['ConsumedUnit'], 'Tokens');
      assert.match(row['ConsumedQuantity']!, /^\d+$/);
      // PricingQuantity is in the PricingUnit (1,000,000 tokens): exact.
      assert.equal(BigInt(row['PricingQuantity']!.replace('.', '')), BigInt(row['ConsumedQuantity']!));
      assert.equal(row['BillingPeriodStart'], '2025-06-01T00:00:00Z');
      assert.equal(row['BillingPeriodEnd'], '2025-07-01T00:00:00Z');
      assert.ok(row['ChargePeriodStart']! >= '2025-06-01T00:00:00Z' && row['ChargePeriodEnd']! <= '2025-07-01T00:00:00Z');
      assert.equal(row['ListCost'], row['BilledCost']);
      assert.equal(row['EffectiveCost'], row['BilledCost']);
      assert.equal(row['ContractedCost'], row['BilledCost']);
      assert.notEqual(row['SkuId'], null);
      assert.notEqual(row['SkuPriceId'], null);
      const tags = JSON.parse(row['Tags']!) as Record<string, unknown>;
      assert.ok(Object.values(tags).every((v) => ['string', 'number', 'boolean'].includes(typeof v)), 'Key-Value Format: primitive values');
      assert.ok('team' in tags && 'cost_center' in tags && 'project' in tags && 'environment' in tags);
    }
    const sum = (await queryFile(db, `SELECT CAST(sum(CAST("BilledCost" AS DECIMAL(38,12))) AS VARCHAR) FROM read_csv('${out}', header = true, all_varchar = true)`))[0]![0];
    assert.equal(String(sum), await ledgerTotal());
    const bedrock = rows.filter((row) => row['x_GenAiProvider'] === 'aws.bedrock');
    assert.deepEqual([...new Set(bedrock.map((row) => `${row['ProviderName']} | ${row['ServiceName']} | ${row['PublisherName']} | ${row['InvoiceIssuerName']}`))], [
      'Amazon Web Services | Amazon Bedrock | Anthropic | Amazon Web Services',
    ]);
  });

  it('Parquet: typed columns (DECIMAL money, TIMESTAMPTZ dates) and the same exact total', async () => {
    const out = join(dir, 'focus-2025-06.parquet');
    const r = await runCli(['export', 'focus', '--db', db, '--month', '2025-06', '--out', out, '--billing-account-id', 'acme-finops', '--billing-account-name', 'ACME']);
    assert.equal(r.code, 0, r.stderr);
    const instance = await DuckDBInstance.create(':memory:');
    const c = await instance.connect();
    try {
      const types = Object.fromEntries((await c.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${out}')`)).getRows().map((row) => [String(row[0]), String(row[1])]));
      for (const [column, type] of Object.entries(MANDATORY_1_2)) {
        if (type === 'Decimal') assert.match(types[column]!, /^DECIMAL\(\d+,\d+\)$/, column);
        if (type === 'Date/Time') assert.equal(types[column], 'TIMESTAMP WITH TIME ZONE', column);
        if (type === 'String') assert.equal(types[column], 'VARCHAR', column);
      }
      assert.deepEqual(Object.keys(types), FOCUS_COLUMNS.map((col) => col.name), 'the columns of the table, in order');
      const [sum, rows, accounts] = (
        await c.runAndReadAll(`SELECT CAST(sum("BilledCost") AS VARCHAR), count(*), string_agg(DISTINCT "BillingAccountId" || '/' || "BillingAccountName") FROM read_parquet('${out}')`)
      ).getRows()[0]!;
      assert.equal(String(sum), await ledgerTotal());
      assert.equal(Number(rows), 27);
      assert.equal(String(accounts), 'acme-finops/ACME');
      const grain = (
        await c.runAndReadAll(`SELECT count(*) = count(DISTINCT ("ChargePeriodStart", x_GenAiProvider, x_Model, x_TokenClass, x_ServiceTier, "Tags")) FROM read_parquet('${out}')`)
      ).getRows()[0]![0];
      assert.equal(grain, true, 'one row per day × provider × model × token class × tier × owner');
    } finally {
      c.closeSync();
      instance.closeSync();
    }
  });

  it('every mandatory column of the spec is in the column table with the spec type', () => {
    for (const [name, type] of Object.entries(MANDATORY_1_2)) {
      const column = FOCUS_COLUMNS.find((c) => c.name === name);
      assert.ok(column, name);
      assert.equal(column.level, 'Mandatory', name);
      assert.equal(column.focusType, type, name);
    }
    assert.deepEqual(
      FOCUS_COLUMNS.filter((c) => c.level === 'Mandatory').map((c) => c.name).sort(),
      Object.keys(MANDATORY_1_2).sort(),
    );
  });

  it('refuses a month that is not YYYY-MM and an output that is neither .csv nor .parquet', async () => {
    assert.equal((await runCli(['export', 'focus', '--db', db, '--month', '2025-6', '--out', join(dir, 'x.csv')])).code, 2);
    assert.equal((await runCli(['export', 'focus', '--db', db, '--month', '2025-06', '--out', join(dir, 'x.xlsx')])).code, 2);
  });
});
