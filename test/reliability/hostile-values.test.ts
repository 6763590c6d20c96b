/**
 * Hostile attribute values: SQL fragments, quotes, control characters and non-BMP text round-trip into the
 * ledger exactly (rows are written as DuckDB data chunks, never interpolated into SQL); megabyte values are
 * cut to MAX_LEDGER_TEXT_CHARS; the ledger table survives all of it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer } from '../helpers/test-server.js';
import { readLedgerRows } from '../helpers/ledger-rows.js';
import { encodeTraceRequestProtobuf } from '../../receivers/otlp/testing/encode-protobuf.js';
import { encodeTraceRequestJson } from '../../receivers/otlp/testing/encode-json.js';
import { MAX_LEDGER_TEXT_CHARS } from '../../src/pipeline/bound-text.js';
import { knownSpanRequest, KnownSpanSource } from './known-spans.js';
import { postTraces } from './server-process.js';

const HOSTILE = [
  `'); DROP TABLE genai_calls; --`,
  `x' OR '1'='1`,
  `"; DELETE FROM genai_calls WHERE "1"="1`,
  `Robert'); COPY genai_calls TO '/tmp/genai-ledger-pwned.csv'; --`,
  `$$; ATTACH '/tmp/evil.duckdb' AS evil; $$`,
  `\\x00\\'\\\\`,
  `a\u0001b\u0007c\u001b[31mred\u001b[0m\nnew\rline\ttab`,
  `nul\u0000inside`,
  `😀 ̸̢̛ עברית 中文 \u202eevil`,
  `{"$where": "1"} <script>alert(1)</script> %s %n`,
];

test('SQL fragments, quotes and control characters round-trip exactly; nothing is interpolated into SQL', async () => {
  const server = await startTestServer();
  try {
    const source = new KnownSpanSource();
    const expected = new Map<string, { model: string; team: string; service: string; name: string }>();
    for (let i = 0; i < HOSTILE.length; i++) {
      const value = HOSTILE[i]!;
      const [span] = source.take(1);
      const request = knownSpanRequest([span!], value);
      const s = request.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
      s.name = value;
      s.attributes = s.attributes.map((a) =>
        a.key === 'gen_ai.request.model' ? { key: a.key, value } : a.key === 'team_id' ? { key: a.key, value: `team ${value}` } : a,
      );
      request.resourceSpans[0]!.scopeSpans[0]!.scope.name = value;
      expected.set(span!.spanId, { model: value, team: `team ${value}`, service: value, name: value });
      const json = i % 2 === 1;
      const res = await fetch(`${server.httpUrl}/v1/traces`, {
        method: 'POST',
        body: json ? encodeTraceRequestJson(request) : encodeTraceRequestProtobuf(request),
        headers: { 'content-type': json ? 'application/json' : 'application/x-protobuf' },
      });
      assert.equal(res.status, 200, value);
      await res.arrayBuffer();
    }
    await server.server.shutdown();
    const rows = await readLedgerRows(server.dbPath);
    assert.equal(rows.length, HOSTILE.length, 'the table is intact and holds every row');
    for (const row of rows) {
      const want = expected.get(row.span_id!)!;
      assert.equal(row.model, want.model);
      assert.equal(row.request_model, want.model);
      assert.equal(row.team_id, want.team);
      assert.equal(row.service, want.service);
      assert.equal(row.span_name, want.name);
      assert.equal(row.instrumentation_scope, want.name);
    }
  } finally {
    await server.close();
  }
});

test('megabyte attribute values are stored cut to MAX_LEDGER_TEXT_CHARS', async () => {
  const server = await startTestServer();
  try {
    const huge = 'M'.repeat(2 * 1024 * 1024 - 10) + '😀'.repeat(5);
    const [span] = new KnownSpanSource().take(1);
    const request = knownSpanRequest([span!], huge);
    const s = request.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    s.name = huge;
    s.attributes = s.attributes.map((a) => (a.key === 'gen_ai.request.model' || a.key === 'team_id' ? { key: a.key, value: huge } : a));
    assert.equal((await postTraces(server.httpUrl, request)).status, 200);
    await server.server.shutdown();
    const [row] = await readLedgerRows(server.dbPath);
    for (const column of ['model', 'team_id', 'service', 'span_name'] as const) {
      assert.equal(row![column], huge.slice(0, MAX_LEDGER_TEXT_CHARS), column);
    }
  } finally {
    await server.close();
  }
});
