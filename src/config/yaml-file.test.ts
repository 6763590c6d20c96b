import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ConfigFileError } from '../../core/config-file-error.js';
import { loadLedgerConfig } from './ledger-config.js';

let dir: string;
before(async () => (dir = await mkdtemp(join(tmpdir(), 'genai-ledger-yaml-file-'))));
after(() => rm(dir, { recursive: true, force: true }));

async function problems(name: string, text: string): Promise<readonly string[]> {
  const file = join(dir, name);
  await writeFile(file, text);
  try {
    await loadLedgerConfig(file);
  } catch (err) {
    assert.ok(err instanceof ConfigFileError, String(err));
    return err.problems;
  }
  assert.fail(`${name} was accepted`);
}

test('a YAML error at the end of the file is reported on the last line the file has, not one past it', async () => {
  const unclosedQuote = 'receivers:\n  otlp:\n    http:\n      host: "127.0.0.1\n';
  assert.deepEqual(await problems('quote.yaml', unclosedQuote), [
    `${join(dir, 'quote.yaml')}:4:22: invalid YAML: Missing closing "quote`,
  ]);
  assert.deepEqual(await problems('quote-no-newline.yaml', unclosedQuote.trimEnd()), [
    `${join(dir, 'quote-no-newline.yaml')}:4:22: invalid YAML: Missing closing "quote`,
  ]);
  const [flow] = await problems('flow.yaml', 'attribution:\n  teamsFile: teams.csv\nexporters: [1, 2\n\n\n');
  assert.match(flow!, /flow\.yaml:3:\d+: invalid YAML: /);
  // an error in the middle stays where it is
  const [tab] = await problems('tab.yaml', 'receivers:\n\totlp: {}\npipeline: {}\n');
  assert.match(tab!, /tab\.yaml:2:1: invalid YAML: Tabs are not allowed/);
});

test('a JSON config with a trailing comma is refused naming file, line and column; valid JSON loads', async () => {
  const trailing = '{\n  "receivers": {\n    "otlp": {\n      "http": { "port": 4400, }\n    }\n  }\n}\n';
  assert.deepEqual(await problems('trailing.json', trailing), [
    `${join(dir, 'trailing.json')}:4:29: invalid JSON: trailing comma before '}' (JSON allows none; remove it)`,
  ]);
  assert.deepEqual(await problems('array.JSON', '{\n  "pipeline": {},\n  "x": [1, 2,\n  ]\n}'), [
    `${join(dir, 'array.JSON')}:3:13: invalid JSON: trailing comma before ']' (JSON allows none; remove it)`,
  ]);
  assert.deepEqual(await problems('unquoted.json', '{\n  receivers: {}\n}\n'), [
    `${join(dir, 'unquoted.json')}:2:3: invalid JSON: unexpected 'r'; expected a "quoted" key`,
  ]);

  const good = join(dir, 'good.json');
  await writeFile(good, '{\n  "receivers": { "otlp": { "http": { "port": 4400 } } }\n}\n');
  assert.equal((await loadLedgerConfig(good)).receivers.otlp.http.port, 4400);
  // schema problems in JSON still name the line of the key
  const [schema] = await problems('schema.json', '{\n  "receivers": {\n    "otlp": { "http": { "port": "x" } }\n  }\n}\n');
  assert.ok(schema!.startsWith(`${join(dir, 'schema.json')}:3: receivers.otlp.http.port: `), schema);
});
