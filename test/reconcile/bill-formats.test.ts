import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';
import { formatPicoUsd } from '../../processors/pricing/decimal.js';
import type { BillLine } from '../../src/reconcile/bill-line.js';
import { dayOf } from '../../src/reconcile/bill-line.js';
import { parseAwsUsageType, parseAzureMeter } from '../../src/reconcile/formats/cloud.js';
import { parseOpenAiLineItem } from '../../src/reconcile/formats/openai.js';
import { parseBillFile } from '../../src/reconcile/import-bill.js';
import { parseExactJson, JsonNumber, field } from '../../src/reconcile/exact-json.js';
import { BILLING_FIXTURES } from './june-2025-ledger.js';

const fixture = (name: string) => join(BILLING_FIXTURES, name);
const usd = (l: BillLine) => (l.billedPico === null ? null : formatPicoUsd(l.billedPico));
const brief = (l: BillLine) => [l.day, l.model, l.tokenClass, l.serviceTier, l.quantity, usd(l), l.parsed];

describe('OpenAI', () => {
  it('reads line items: tier prefix, model, modality, token class, long context; anything else is not understood', () => {
    const cases: [string, ReturnType<typeof parseOpenAiLineItem>][] = [
      ['gpt-4o-2024-08-06, input', { model: 'gpt-4o-2024-08-06', tokenClass: 'input', serviceTier: null, longContext: false, understood: true }],
      ['gpt-4o-2024-08-06, cached input', { model: 'gpt-4o-2024-08-06', tokenClass: 'cached_input', serviceTier: null, longContext: false, understood: true }],
      ['priority | gpt-5, output, long context', { model: 'gpt-5', tokenClass: 'output', serviceTier: 'priority', longContext: true, understood: true }],
      ['gpt-audio-mini-2025-12-15 audio, input', { model: 'gpt-audio-mini-2025-12-15', tokenClass: 'input', serviceTier: null, longContext: false, understood: true }],
      ['gpt-5, cache write', { model: 'gpt-5', tokenClass: 'cache_write', serviceTier: null, longContext: false, understood: true }],
      ['gpt-4o-mini-2024-07-18, batch input', { model: 'gpt-4o-mini-2024-07-18', tokenClass: 'input', serviceTier: 'batch', longContext: false, understood: true }],
      ['ft:gpt-4o-mini-2024-07-18:acme::abc123, training', { model: 'ft:gpt-4o-mini-2024-07-18:acme::abc123', tokenClass: 'other', serviceTier: null, longContext: false, understood: true }],
      ['web search tool calls', { model: null, tokenClass: 'other', serviceTier: null, longContext: false, understood: true }],
      ['Legacy credit adj. #A-4411 (manual)', { model: null, tokenClass: 'other', serviceTier: null, longContext: false, understood: false }],
      ['gpt-4o cached input', { model: null, tokenClass: 'other', serviceTier: null, longContext: false, understood: false }],
    ];
    for (const [text, expected] of cases) assert.deepEqual(parseOpenAiLineItem(text), expected, text);
  });

  it('costs JSON: amounts exactly as written (dollars), quantity in 1000_tokens scaled, the unreadable line kept with its money and raw text', async () => {
    const { parsed } = await parseBillFile('openai', fixture('openai-costs-2025-06.json'));
    assert.equal(parsed.format, 'openai.costs.json');
    assert.equal(parsed.lines.length, 19);
    assert.deepEqual(brief(parsed.lines[0]!), ['2025-06-01', 'gpt-4o-2024-08-06', 'input', null, '1000000', '2.500000000000', true]);
    assert.deepEqual(brief(parsed.lines[3]!), ['2025-06-01', 'gpt-4o-mini-2024-07-18', 'input', null, '1000000', '0.150000000000', true]);
    assert.equal(parsed.lines[0]!.scopeType, 'openai_project');
    assert.equal(parsed.lines[0]!.scopeId, 'proj_search');
    const priority = parsed.lines.find((l) => l.model === 'gpt-4.1-mini-2025-04-14' && l.tokenClass === 'input')!;
    assert.equal(priority.serviceTier, 'priority');
    const unreadable = parsed.lines.filter((l) => !l.parsed);
    assert.equal(unreadable.length, 1);
    assert.equal(usd(unreadable[0]!), '0.750000000000');
    assert.equal(unreadable[0]!.tokenClass, 'other');
    assert.match(unreadable[0]!.raw!, /^\{"object": "organization\.costs\.result", "amount": \{"value": 0\.75/);
    const total = parsed.lines.reduce((s, l) => s + (l.billedPico ?? 0n), 0n);
    assert.equal(formatPicoUsd(total), '31.875000000000');
  });

  it('usage JSON: uncached input, cached input and output lines per model and day (input_tokens includes cached)', async () => {
    const { parsed } = await parseBillFile('openai', fixture('openai-usage-completions-2025-06.json'));
    assert.equal(parsed.format, 'openai.usage.json');
    assert.ok(parsed.lines.every((l) => l.recordKind === 'usage' && l.billedPico === null));
    const day1 = parsed.lines.filter((l) => l.day === '2025-06-01' && l.model === 'gpt-4o-2024-08-06').map((l) => [l.tokenClass, l.quantity]);
    assert.deepEqual(day1, [
      ['input', '1000000'],
      ['cached_input', '100000'],
      ['output', '500000'],
    ]);
    const mini = parsed.lines.filter((l) => l.day === '2025-06-01' && l.model === 'gpt-4o-mini-2024-07-18').map((l) => [l.tokenClass, l.quantity]);
    assert.deepEqual(mini, [
      ['input', '1000000'],
      ['output', '500000'],
    ]);
  });

  it('dashboard CSV: same lines as the API; a row broken by quoting is kept as unparsed', async () => {
    const { parsed } = await parseBillFile('openai', fixture('openai-costs-dashboard-2025-06.csv'));
    assert.equal(parsed.format, 'openai.costs.csv');
    assert.deepEqual(brief(parsed.lines[2]!), ['2025-06-01', 'gpt-4o-2024-08-06', 'output', null, null, '5.000000000000', true]);
    const unparsed = parsed.lines.filter((l) => !l.parsed);
    assert.equal(unparsed.length, 2);
    assert.ok(unparsed.every((l) => l.raw !== null && l.tokenClass === 'other'));
  });
});

describe('Anthropic', () => {
  it('cost_report: amount is a decimal string of cents; token types map to classes; an unknown one is kept unparsed with its money', async () => {
    const { parsed } = await parseBillFile('anthropic', fixture('anthropic-cost-report-2025-06.json'));
    assert.equal(parsed.format, 'anthropic.cost_report.json');
    assert.deepEqual(
      parsed.lines.filter((l) => l.day === '2025-06-01').map((l) => [l.tokenClass, usd(l)]),
      [
        ['input', '6.000000000000'],
        ['output', '15.000000000000'],
        ['cached_input', '3.000000000000'],
        ['cache_write', '3.750000000000'],
      ],
    );
    const web = parsed.lines.find((l) => l.description === 'Web Search')!;
    assert.deepEqual([web.tokenClass, web.model, web.scopeId, usd(web), web.parsed], ['other', null, 'default', '1.200000000000', true]);
    const unknown = parsed.lines.filter((l) => !l.parsed);
    assert.equal(unknown.length, 1);
    assert.equal(usd(unknown[0]!), '0.455000000000');
    assert.match(unknown[0]!.note!, /ephemeral_2h/);
  });

  it('usage_report/messages: nested cache_creation counts become cache_write lines', async () => {
    const { parsed } = await parseBillFile('anthropic', fixture('anthropic-usage-report-2025-06.json'));
    assert.deepEqual(
      parsed.lines.filter((l) => l.day === '2025-06-01').map((l) => [l.tokenClass, l.quantity]),
      [
        ['input', '2000000'],
        ['cached_input', '10000000'],
        ['cache_write', '1000000'],
        ['output', '1000000'],
      ],
    );
  });
});

describe('AWS', () => {
  it('reads usage types: region, model, token class, tier', () => {
    assert.deepEqual(parseAwsUsageType('USE1-Claude3.5Sonnet-input-tokens'), { model: 'Claude3.5Sonnet', tokenClass: 'input', serviceTier: null });
    assert.deepEqual(parseAwsUsageType('USW2-Claude3Haiku-cache-read-input-token-count'), { model: 'Claude3Haiku', tokenClass: 'cached_input', serviceTier: null });
    assert.deepEqual(parseAwsUsageType('USE1-Claude3Haiku-cache-write-input-token-count'), { model: 'Claude3Haiku', tokenClass: 'cache_write', serviceTier: null });
    assert.deepEqual(parseAwsUsageType('USE1-NovaLite-batch-output-tokens'), { model: 'NovaLite', tokenClass: 'output', serviceTier: 'batch' });
    assert.deepEqual(parseAwsUsageType('USE1-MP:USE1_InputTokenCount-Units'), { model: null, tokenClass: 'input', serviceTier: null });
  });

  it('CUR 2.0 CSV: Bedrock and AWS Marketplace "(Amazon Bedrock Edition)" lines, IAM principal scope, other services skipped, tax unclassified, a broken row kept', async () => {
    const { parsed } = await parseBillFile('aws', fixture('aws-cur2-2025-06.csv'));
    assert.equal(parsed.format, 'aws.cur.csv');
    assert.equal(parsed.skippedRows, 1, 'the EC2 row is not GenAI');
    const sonnet = parsed.lines.filter((l) => l.model === 'Claude 3.5 Sonnet');
    assert.deepEqual(
      sonnet.map((l) => [l.tokenClass, l.quantity, usd(l), l.publisher, l.scopeType, l.scopeId]),
      [
        ['input', '1500000', '4.500000000000', 'Anthropic', 'aws_principal', 'arn:aws:iam::444455556666:role/search-api'],
        ['output', '200000', '3.000000000000', 'Anthropic', 'aws_principal', 'arn:aws:iam::444455556666:role/search-api'],
      ],
    );
    assert.deepEqual(
      parsed.lines.filter((l) => l.model === 'Claude3Haiku').map((l) => [l.tokenClass, l.quantity, usd(l)]),
      [
        ['input', '4000000', '1.000000000000'],
        ['cached_input', '2000000', '0.060000000000'],
      ],
    );
    const tax = parsed.lines.find((l) => l.note === 'tax')!;
    assert.deepEqual([tax.tokenClass, usd(tax)], ['other', '0.410000000000']);
    const broken = parsed.lines.filter((l) => !l.parsed);
    assert.equal(broken.length, 1);
    assert.match(broken[0]!.raw!, /^li-0007,/);
  });

  it('CUR with --scope-tag: lines are scoped by the resource tag', async () => {
    const { parsed } = await parseBillFile('aws', fixture('aws-cur2-2025-06.csv'), { scopeTag: 'team' });
    assert.deepEqual([...new Set(parsed.lines.filter((l) => l.parsed && l.model !== null).map((l) => `${l.scopeType} ${l.scopeId}`))], [
      'aws_tag team=search',
      'aws_tag team=support-bot',
    ]);
  });

  it('CUR as Parquet (read through DuckDB) and as gzip give the same lines as the CSV', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-bill-'));
    try {
      const csv = fixture('aws-cur2-2025-06.csv');
      // The Parquet export carries maps; build it from the CSV's good rows with DuckDB.
      const good = join(dir, 'good.csv');
      const text = await readFile(csv, 'utf8');
      await writeFile(good, text.split('\n').filter((l) => !l.startsWith('li-0007')).join('\n'));
      const parquet = join(dir, 'cur.parquet');
      const instance = await DuckDBInstance.create(':memory:');
      const c = await instance.connect();
      await c.run(`COPY (SELECT * EXCLUDE (product, resource_tags), CAST(product AS JSON) AS product, CAST(resource_tags AS JSON) AS resource_tags
                         FROM read_csv('${good}', all_varchar = true)) TO '${parquet}' (FORMAT parquet)`);
      c.closeSync();
      instance.closeSync();
      const fromCsv = (await parseBillFile('aws', good)).parsed.lines.map(brief);
      const fromParquet = (await parseBillFile('aws', parquet)).parsed;
      assert.equal(fromParquet.format, 'aws.cur.parquet');
      assert.deepEqual(fromParquet.lines.map(brief), fromCsv);
      const gz = join(dir, 'cur.csv.gz');
      await writeFile(gz, gzipSync(await readFile(good)));
      assert.deepEqual((await parseBillFile('aws', gz)).parsed.lines.map(brief), fromCsv);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('FOCUS export: GenAI rows only, marketplace model from the charge, billed and list cost', async () => {
    const { parsed } = await parseBillFile('aws', fixture('aws-focus-2025-06.csv'));
    assert.equal(parsed.format, 'aws.focus.csv');
    assert.equal(parsed.skippedRows, 1);
    assert.deepEqual(
      parsed.lines.map((l) => [l.model, l.tokenClass, l.quantity, usd(l), l.publisher]),
      [
        ['Claude 3.5 Sonnet', 'input', '1500000', '4.500000000000', 'Anthropic'],
        ['Claude3Haiku', 'input', '4000000', '1.000000000000', 'Amazon Web Services'],
      ],
    );
  });
});

describe('GCP and Azure', () => {
  it('GCP billing export (JSON lines): cost plus negative credits, exactly; storage SKUs unclassified; an unreadable cost kept', async () => {
    const { parsed } = await parseBillFile('gcp', fixture('gcp-billing-export-2025-06.jsonl'));
    assert.equal(parsed.skippedRows, 1, 'Compute Engine is not GenAI');
    assert.deepEqual(
      parsed.lines.map((l) => [l.model, l.tokenClass, l.quantity, usd(l), l.listPico === null ? null : formatPicoUsd(l.listPico), l.parsed]),
      [
        ['Gemini 2.5 Flash', 'input', '2000000', '0.540000000000', '0.600000000000', true],
        ['Gemini 2.5 Flash', 'output', '500000', '1.250000000000', '1.250000000000', true],
        ['Gemini 2.5 Flash', 'other', '1000000', '0.020000000000', null, true],
        [null, 'other', null, null, null, false],
      ],
    );
  });

  it('Azure cost export: meter names give model, class and unit; PayGPrice × quantity is the list cost', async () => {
    const { parsed } = await parseBillFile('azure', fixture('azure-cost-export-2025-06.csv'));
    assert.equal(parsed.skippedRows, 1);
    assert.deepEqual(
      parsed.lines.map((l) => [l.day, l.model, l.tokenClass, l.quantity, usd(l)]),
      [
        ['2025-06-01', 'gpt-4o-0806', 'input', '2000000', '5.000000000000'],
        ['2025-06-01', 'gpt-4o-0806', 'output', '400000', '4.000000000000'],
        ['2025-06-01', 'gpt-5.4-mini', 'cached_input', '1500000', '0.037500000000'],
      ],
    );
    assert.deepEqual(parseAzureMeter('gpt-4o-mini-0718-Batch-Inp-glbl Tokens', 'Azure OpenAI'), { model: 'gpt-4o-mini-0718', tokenClass: 'input', serviceTier: 'batch', factor: null });
    assert.equal(parseAzureMeter('text-embedding-3-large-glbl Tokens', 'Azure OpenAI').tokenClass, 'input');
  });
});

describe('reading', () => {
  it('exact JSON keeps number text and object spans', () => {
    const src = '{"a": {"value": 0.8958740000000000}, "b": [1e-7]}';
    const doc = parseExactJson(src);
    const value = field(field(doc, 'a'), 'value');
    assert.ok(value instanceof JsonNumber);
    assert.equal(value.text, '0.8958740000000000');
    assert.throws(() => parseExactJson('{"a": 1,}'), /expected a string key/);
  });

  it('dates as bills write them', () => {
    assert.equal(dayOf('2025-06-01T00:00:00Z'), '2025-06-01');
    assert.equal(dayOf('2025-06-01 23:59:59 UTC'), '2025-06-01');
    assert.equal(dayOf('2025-06-01T00:30:00-08:00'), '2025-06-01');
    assert.equal(dayOf('06/30/2025'), '2025-06-30');
    assert.equal(dayOf('1748736000'), '2025-06-01');
    assert.equal(dayOf('02/30/2025'), null);
    assert.equal(dayOf('yesterday'), null);
  });

  it('a fixture file copied under another name is the same content (hash)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-bill-'));
    try {
      await copyFile(fixture('openai-costs-2025-06.json'), join(dir, 'copy.json'));
      const a = await parseBillFile('openai', fixture('openai-costs-2025-06.json'));
      const b = await parseBillFile('openai', join(dir, 'copy.json'));
      assert.equal(a.sha256, b.sha256);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
