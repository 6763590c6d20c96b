/**
 * Prompt and completion text never reaches the ledger. Spans carry a unique marker in every attribute and
 * event where instrumentations put prompts and completions; after shutdown (CHECKPOINT) the marker must
 * appear nowhere in the DuckDB file's bytes, nor in any text column. A second marker sent in a field that
 * IS stored (the team id) proves the byte search can find a stored string — otherwise this test could not fail.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { KeyValueList, type KeyValue } from '../../core/otlp.js';
import { startTestServer } from '../helpers/test-server.js';
import { readLedgerRows } from '../helpers/ledger-rows.js';
import { encodeTraceRequestProtobuf } from '../../receivers/otlp/testing/encode-protobuf.js';
import { encodeTraceRequestJson } from '../../receivers/otlp/testing/encode-json.js';
import { knownSpanRequest, KnownSpanSource } from './known-spans.js';

/** Every prompt/completion carrier we know of (OTel GenAI semconv old and new, OpenLLMetry, OpenInference, Vercel AI SDK). */
function promptAttributes(secret: string): KeyValue[] {
  const kv = (key: string, value: KeyValue['value']): KeyValue => ({ key, value });
  const msg = JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: secret }] }]);
  return [
    kv('gen_ai.input.messages', msg),
    kv('gen_ai.output.messages', msg),
    kv('gen_ai.system_instructions', msg),
    kv('gen_ai.prompt', secret),
    kv('gen_ai.completion', secret),
    kv('gen_ai.prompt.0.content', secret),
    kv('gen_ai.prompt.0.role', 'user'),
    kv('gen_ai.completion.0.content', secret),
    kv('llm.input_messages.0.message.content', secret),
    kv('llm.output_messages.0.message.content', secret),
    kv('input.value', secret),
    kv('output.value', secret),
    kv('ai.prompt', secret),
    kv('ai.prompt.messages', msg),
    kv('ai.response.text', secret),
    kv('ai.response.object', secret),
    kv('ai.toolCall.args', secret),
    kv('gen_ai.tool.call.arguments', secret),
    kv('gen_ai.tool.call.result', secret),
    kv('gen_ai.request.messages', [secret, secret]),
    kv('gen_ai.content', new KeyValueList([kv('prompt', secret)])),
  ];
}

test('prompt and completion text appears nowhere in the ledger file', async () => {
  const secret = `PROMPT-SECRET-${randomBytes(12).toString('hex')}`;
  const storedMarker = `stored-marker-${randomBytes(12).toString('hex')}`;
  const server = await startTestServer();
  try {
    const source = new KnownSpanSource();
    for (let i = 0; i < 10; i++) {
      const request = knownSpanRequest(source.take(20), 'prompt-svc');
      for (const span of request.resourceSpans[0]!.scopeSpans[0]!.spans) {
        span.attributes = span.attributes.filter((a) => a.key !== 'team_id');
        span.attributes.push({ key: 'team_id', value: storedMarker }, ...promptAttributes(secret));
        span.events.push(
          { timeUnixNano: span.startTimeUnixNano, name: 'gen_ai.content.prompt', attributes: [{ key: 'gen_ai.prompt', value: secret }], droppedAttributesCount: 0 },
          { timeUnixNano: span.endTimeUnixNano, name: 'gen_ai.content.completion', attributes: [{ key: 'gen_ai.completion', value: secret }], droppedAttributesCount: 0 },
          { timeUnixNano: span.endTimeUnixNano, name: 'gen_ai.choice', attributes: [{ key: 'message', value: secret }], droppedAttributesCount: 0 },
        );
      }
      const json = i % 2 === 1;
      const res = await fetch(`${server.httpUrl}/v1/traces`, {
        method: 'POST',
        body: json ? encodeTraceRequestJson(request) : encodeTraceRequestProtobuf(request),
        headers: { 'content-type': json ? 'application/json' : 'application/x-protobuf' },
      });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
    await server.server.shutdown(); // CHECKPOINT: everything is in the database file

    const rows = await readLedgerRows(server.dbPath);
    assert.equal(rows.length, 200);
    for (const row of rows) {
      assert.equal(row.team_id, storedMarker);
      for (const [column, value] of Object.entries(row)) {
        assert.ok(!(value ?? '').includes(secret), `column ${column} holds prompt text`);
      }
    }
    let sawStoredMarker = false;
    for (const name of await readdir(server.dir)) {
      if (!name.startsWith('ledger.duckdb')) continue;
      const bytes = await readFile(join(server.dir, name));
      assert.equal(bytes.indexOf(secret), -1, `${name} contains the prompt marker`);
      assert.equal(bytes.indexOf(Buffer.from(secret, 'utf16le')), -1);
      if (bytes.indexOf(storedMarker) !== -1) sawStoredMarker = true;
    }
    assert.ok(sawStoredMarker, 'the byte search finds a string the ledger does store');
  } finally {
    await server.close();
  }
});
