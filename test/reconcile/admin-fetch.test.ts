import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { queryFile, tempDir, writeLedgerRows } from '../../exporters/duckdb/testing/ledger-test-utils.js';
import { CLI } from '../helpers/cli-process.js';
import { fetchAdminReports, retryAfterMs } from '../../src/reconcile/admin-fetch.js';
import { june2025LedgerRows } from './june-2025-ledger.js';

/**
 * A local fake of the OpenAI and Anthropic admin APIs (node:http on port 0): paginated answers, a 429 with
 * Retry-After and a 503 before the real answer, and a record of every request.
 */
interface FakeApi {
  url: string;
  requests: { path: string; query: URLSearchParams; headers: IncomingMessage['headers'] }[];
  close(): Promise<void>;
}

const OPENAI_COSTS_PAGE_1 = `{"object":"page","data":[{"object":"bucket","start_time":1748736000,"end_time":1748822400,"results":[
{"object":"organization.costs.result","amount":{"value":0.1234567890123456,"currency":"usd"},"line_item":"gpt-4o-2024-08-06, input","project_id":"proj_search","api_key_id":null}]}],
"has_more":true,"next_page":"page_AAA"}`;
const OPENAI_COSTS_PAGE_2 = `{"object":"page","data":[{"object":"bucket","start_time":1748822400,"end_time":1748908800,"results":[
{"object":"organization.costs.result","amount":{"value":2.5,"currency":"usd"},"line_item":"gpt-4o-2024-08-06, output","project_id":"proj_search","api_key_id":null}]}],
"has_more":false,"next_page":null}`;
const OPENAI_USAGE = `{"object":"page","data":[{"object":"bucket","start_time":1748736000,"end_time":1748822400,"results":[
{"object":"organization.usage.completions.result","input_tokens":1000,"input_cached_tokens":200,"output_tokens":50,"num_model_requests":3,"project_id":"proj_search","model":"gpt-4o-2024-08-06","batch":false,"service_tier":"default"}]}],
"has_more":false,"next_page":null}`;
const ANTHROPIC_COST_PAGE_1 = `{"data":[{"starting_at":"2025-06-01T00:00:00Z","ending_at":"2025-06-02T00:00:00Z","results":[
{"currency":"USD","amount":"123.4567","workspace_id":"wrkspc_A","description":"Claude Sonnet 4 Usage - Input Tokens","cost_type":"tokens","context_window":"0-200k","model":"claude-sonnet-4-20250514","service_tier":"standard","token_type":"uncached_input_tokens"}]}],
"has_more":true,"next_page":"page_MjAyNS0wNi0wMlQwMDowMDowMFo="}`;
const ANTHROPIC_COST_PAGE_2 = `{"data":[{"starting_at":"2025-06-02T00:00:00Z","ending_at":"2025-06-03T00:00:00Z","results":[
{"currency":"USD","amount":"10","workspace_id":"wrkspc_A","description":"Claude Sonnet 4 Usage - Output Tokens","cost_type":"tokens","context_window":"0-200k","model":"claude-sonnet-4-20250514","service_tier":"standard","token_type":"output_tokens"}]}],
"has_more":false,"next_page":null}`;
const ANTHROPIC_USAGE = `{"data":[{"starting_at":"2025-06-01T00:00:00Z","ending_at":"2025-06-02T00:00:00Z","results":[
{"uncached_input_tokens":411522,"cache_creation":{"ephemeral_1h_input_tokens":0,"ephemeral_5m_input_tokens":0},"cache_read_input_tokens":0,"output_tokens":0,"workspace_id":"wrkspc_A","model":"claude-sonnet-4-20250514","service_tier":"standard","context_window":"0-200k"}]}],
"has_more":false,"next_page":null}`;

async function startFakeApi(): Promise<FakeApi> {
  const requests: FakeApi['requests'] = [];
  const seen = new Map<string, number>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push({ path: url.pathname, query: url.searchParams, headers: req.headers });
    const n = (seen.get(url.pathname) ?? 0) + 1;
    seen.set(url.pathname, n);
    const send = (status: number, body: string, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(body);
    };
    const openAiAuth = req.headers['authorization'] === 'Bearer sk-admin-test';
    const anthropicAuth = req.headers['x-api-key'] === 'sk-ant-admin-test' && req.headers['anthropic-version'] === '2023-06-01';
    const page = url.searchParams.get('page');
    switch (url.pathname) {
      case '/v1/organization/costs':
        if (!openAiAuth) return send(401, '{"error":{"message":"Invalid admin key"}}');
        if (n === 1) return send(429, '{"error":{"message":"Rate limit reached"}}', { 'retry-after': '0' });
        return send(200, page === 'page_AAA' ? OPENAI_COSTS_PAGE_2 : OPENAI_COSTS_PAGE_1);
      case '/v1/organization/usage/completions':
        if (!openAiAuth) return send(401, '{"error":{"message":"Invalid admin key"}}');
        if (n === 1) return send(503, 'upstream unavailable');
        return send(200, OPENAI_USAGE);
      case '/v1/organizations/cost_report':
        if (!anthropicAuth) return send(401, '{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}');
        if (n === 1) return send(429, '{}', { 'retry-after': '0' });
        return send(200, page === 'page_MjAyNS0wNi0wMlQwMDowMDowMFo=' ? ANTHROPIC_COST_PAGE_2 : ANTHROPIC_COST_PAGE_1);
      case '/v1/organizations/usage_report/messages':
        if (!anthropicAuth) return send(401, '{}');
        return send(200, ANTHROPIC_USAGE);
      default:
        return send(404, '{"error":{"message":"not found"}}');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function runCliWithEnv(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('reconcile fetch against a local fake admin API', () => {
  let api: FakeApi;
  before(async () => {
    api = await startFakeApi();
  });
  after(() => api.close());

  it('OpenAI: follows next_page, retries a 429 (Retry-After) and a 503, sends the admin key and the groupings', async () => {
    api.requests.length = 0;
    const events: string[] = [];
    const reports = await fetchAdminReports({
      provider: 'openai',
      apiKey: 'sk-admin-test',
      fromDay: '2025-06-01',
      toDay: '2025-06-03',
      baseUrl: `${api.url}/v1/`,
      sleep: async (ms) => void events.push(`sleep ${ms}`),
      onEvent: (e) => events.push(e.kind === 'page' ? `page ${e.report} ${e.page}` : `retry ${e.report} ${e.status}`),
    });
    assert.deepEqual(
      reports.map((r) => [r.report, r.pages]),
      [
        ['openai.costs', 2],
        ['openai.usage.completions', 1],
      ],
    );
    assert.equal(events[0], 'retry openai.costs 429');
    assert.equal(events[1], 'sleep 0', 'Retry-After: 0 is honoured');
    assert.ok(events.includes('retry openai.usage.completions 503'));
    const costs = api.requests.filter((r) => r.path === '/v1/organization/costs');
    assert.equal(costs.length, 3);
    assert.deepEqual(costs[1]!.query.getAll('group_by'), ['project_id', 'line_item']);
    assert.equal(costs[1]!.query.get('start_time'), '1748736000');
    assert.equal(costs[1]!.query.get('end_time'), '1748908800');
    assert.equal(costs[1]!.query.get('bucket_width'), '1d');
    assert.equal(costs[2]!.query.get('page'), 'page_AAA');
    assert.match(reports[0]!.text, /"value":0\.1234567890123456/, 'pages kept as served, amounts not re-serialized');
  });

  it('a 4xx other than 429 stops at once with the API message', async () => {
    await assert.rejects(
      fetchAdminReports({ provider: 'openai', apiKey: 'wrong', fromDay: '2025-06-01', toDay: '2025-06-02', baseUrl: api.url, sleep: async () => undefined }),
      /openai\.costs: HTTP 401: Invalid admin key/,
    );
  });

  it('Retry-After as seconds or as an HTTP date', () => {
    assert.equal(retryAfterMs('3'), 3000);
    assert.equal(retryAfterMs('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')), 10_000);
    assert.equal(retryAfterMs('soon'), null);
  });

  it('CLI: fetches OpenAI and Anthropic into the ledger with the keys from the environment, exactly', async () => {
    const { dir, cleanup } = await tempDir();
    const api = await startFakeApi(); // fresh: its first answers are the 429 and the 503 again
    try {
      const db = join(dir, 'ledger.duckdb');
      await writeLedgerRows(db, june2025LedgerRows());
      const openai = await runCliWithEnv(
        ['reconcile', 'fetch', '--db', db, '--provider', 'openai', '--from', '2025-06-01', '--to', '2025-06-02', '--base-url', api.url, '--save', join(dir, 'pulled')],
        { OPENAI_ADMIN_KEY: 'sk-admin-test' },
      );
      assert.equal(openai.code, 0, openai.stderr);
      assert.match(openai.stderr, /openai\.costs: 429, retrying in 0\.0 s/);
      const anthropic = await runCliWithEnv(['reconcile', 'fetch', '--db', db, '--provider', 'anthropic', '--from', '2025-06-01', '--to', '2025-06-02', '--base-url', api.url], {
        ANTHROPIC_ADMIN_KEY: 'sk-ant-admin-test',
      });
      assert.equal(anthropic.code, 0, anthropic.stderr);
      const rows = await queryFile(
        db,
        `SELECT provider, source_family, CAST("day" AS VARCHAR), token_class, CAST(billed_usd AS VARCHAR), CAST(quantity AS VARCHAR)
         FROM provider_costs ORDER BY provider, source_family, "day", token_class`,
      );
      assert.deepEqual(
        rows.map((r) => r.map((v) => (v === null ? null : String(v)))),
        [
          ['anthropic', 'anthropic.cost_report', '2025-06-01', 'input', '1.234567000000', null],
          ['anthropic', 'anthropic.cost_report', '2025-06-02', 'output', '0.100000000000', null],
          ['anthropic', 'anthropic.usage_report', '2025-06-01', 'input', null, '411522.000000'],
          ['openai', 'openai.costs', '2025-06-01', 'input', '0.123456789012', null],
          ['openai', 'openai.costs', '2025-06-02', 'output', '2.500000000000', null],
          ['openai', 'openai.usage', '2025-06-01', 'cached_input', null, '200.000000'],
          ['openai', 'openai.usage', '2025-06-01', 'input', null, '800.000000'],
          ['openai', 'openai.usage', '2025-06-01', 'output', null, '50.000000'],
        ],
      );
      // The saved pages import as files; the same content again is recognised.
      const again = await runCliWithEnv(['reconcile', 'import', '--db', db, '--provider', 'openai', join(dir, 'pulled', 'openai.costs-2025-06-01-2025-06-03.json')], {});
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /already imported/);
      const noKey = await runCliWithEnv(['reconcile', 'fetch', '--db', db, '--provider', 'openai', '--from', '2025-06-01', '--to', '2025-06-02'], { OPENAI_ADMIN_KEY: '' });
      assert.equal(noKey.code, 2);
      assert.match(noKey.stderr, /OPENAI_ADMIN_KEY, which is not set/);
    } finally {
      await api.close();
      await cleanup();
    }
  });
});
