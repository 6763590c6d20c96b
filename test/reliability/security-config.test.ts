import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadLedgerConfig } from '../../src/config/ledger-config.js';
import { ConfigFileError } from '../../core/config-file-error.js';

test('auth and TLS file paths in a config file are relative to the file; unknown keys are refused with their line', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'genai-ledger-secconfig-'));
  try {
    const file = join(dir, 'genai-ledger.yaml');
    await writeFile(
      file,
      [
        'receivers:',
        '  otlp:',
        '    auth:',
        '      tokenFile: secrets/tokens',
        '      tokenEnv: GENAI_LEDGER_TOKEN',
        '    http:',
        '      tls: { certFile: tls/cert.pem, keyFile: /abs/key.pem }',
        '    grpc:',
        '      tls: { certFile: tls/cert.pem, keyFile: tls/key.pem }',
        'exporters:',
        '  duckdb:',
        '    memoryLimit: 512MB',
        '',
      ].join('\n'),
    );
    const config = await loadLedgerConfig(file);
    assert.equal(config.receivers.otlp.auth.tokenFile, join(dir, 'secrets/tokens'));
    assert.equal(config.receivers.otlp.auth.tokenEnv, 'GENAI_LEDGER_TOKEN');
    assert.deepEqual(config.receivers.otlp.http.tls, { certFile: join(dir, 'tls/cert.pem'), keyFile: '/abs/key.pem' });
    assert.deepEqual(config.receivers.otlp.grpc.tls, { certFile: join(dir, 'tls/cert.pem'), keyFile: join(dir, 'tls/key.pem') });
    assert.equal(config.exporters.duckdb.memoryLimit, '512MB');

    await writeFile(file, 'receivers:\n  otlp:\n    auth:\n      token: hunter2\n    http:\n      tls: { certFile: c.pem }\n');
    await assert.rejects(loadLedgerConfig(file), (err: unknown) => {
      assert.ok(err instanceof ConfigFileError);
      assert.match(err.message, /genai-ledger\.yaml:4: receivers\.otlp\.auth\.token: unknown key/);
      assert.match(err.message, /genai-ledger\.yaml:6: receivers\.otlp\.http\.tls\.keyFile/);
      return true;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
