import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { maxElapsedMs, OtlpForwarderConfig, parseForwardUrl, resolveHeaders } from './config.js';

const issues = (input: unknown): string[] => {
  const result = OtlpForwarderConfig.safeParse(input);
  assert.equal(result.success, false, 'expected the config to be refused');
  return result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
};

describe('parseForwardUrl', () => {
  const http = (url: string) => {
    const t = parseForwardUrl(url);
    assert.equal(t.protocol, 'http');
    return t.protocol === 'http' ? `${t.secure ? 'secure ' : ''}${t.url.href}` : '';
  };

  it('appends /v1/traces to an OTLP/HTTP base URL, as OTEL_EXPORTER_OTLP_ENDPOINT does, unless it is there', () => {
    assert.equal(http('http://tempo:4318'), 'http://tempo:4318/v1/traces');
    assert.equal(http('http://tempo:4318/'), 'http://tempo:4318/v1/traces');
    assert.equal(http('https://otlp.example.com/otlp'), 'secure https://otlp.example.com/otlp/v1/traces');
    assert.equal(http('https://otlp.example.com/otlp/'), 'secure https://otlp.example.com/otlp/v1/traces');
    assert.equal(http('http://[::1]:4318/v1/traces'), 'http://[::1]:4318/v1/traces');
    assert.equal(http('HTTP://Agent:4318/v1/traces/'), 'http://agent:4318/v1/traces');
    assert.equal(http('http://h:4318/p?tenant=a'), 'http://h:4318/p/v1/traces?tenant=a');
  });

  it('takes grpc:// and grpcs:// as OTLP/gRPC host:port', () => {
    assert.deepEqual(parseForwardUrl('grpc://tempo:4317'), { protocol: 'grpc', secure: false, address: 'tempo:4317' });
    assert.deepEqual(parseForwardUrl('grpcs://agent.example:443'), { protocol: 'grpc', secure: true, address: 'agent.example:443' });
    assert.deepEqual(parseForwardUrl('grpc://[::1]:4317/'), { protocol: 'grpc', secure: false, address: '[::1]:4317' });
    assert.deepEqual(parseForwardUrl('grpc://h:80'), { protocol: 'grpc', secure: false, address: 'h:80' });
  });

  it('refuses what it cannot use, saying why', () => {
    const refuse = (url: string, pattern: RegExp) => assert.throws(() => parseForwardUrl(url), pattern);
    refuse('tempo:4317', /needs a scheme: http:\/\/, https:\/\/ .* grpc:\/\/, grpcs:\/\//);
    refuse('localhost:4318', /needs a scheme/);
    refuse('ftp://x:1', /unsupported scheme ftp:\/\//);
    refuse('grpc://tempo', /needs a port \(OTLP\/gRPC is usually 4317\)/);
    refuse('grpc://tempo:4317/v1/traces', /host:port only/);
    refuse('https://user:secret@x/', /credentials in the URL are not allowed/);
    refuse('http://', /not a valid URL|no host/);
    refuse('http://x:99999', /not a valid URL/);
  });
});

describe('OtlpForwarderConfig', () => {
  it('fills every default from an endpoint alone', () => {
    const c = OtlpForwarderConfig.parse({ endpoint: 'http://tempo:4318' });
    assert.deepEqual(c, {
      endpoint: 'http://tempo:4318',
      headers: {},
      compression: 'gzip',
      spans: 'all',
      timeoutMs: 10_000,
      maxRequestBytes: 4 * 1024 * 1024 - 64 * 1024,
      queue: { maxBytes: 64 * 1024 * 1024, fsyncIntervalMs: 200 },
      retry: { initialIntervalMs: 1000, maxIntervalMs: 30_000 },
      shutdownTimeoutMs: 5000,
    });
    assert.equal(maxElapsedMs(c), 300_000);
    assert.equal(maxElapsedMs(OtlpForwarderConfig.parse({ endpoint: 'http://t:1', queue: { directory: '/q' } })), 0);
    assert.equal(maxElapsedMs(OtlpForwarderConfig.parse({ endpoint: 'http://t:1', retry: { maxElapsedMs: 5 } })), 5);
  });

  it('refuses unknown keys, bad endpoints, and tls on a plaintext endpoint', () => {
    assert.ok(issues({ endpoint: 'http://t:1', endpont: 'x' }).some((i) => /endpont/.test(i)));
    assert.ok(issues({ endpoint: 'http://t:1', queue: { maxbytes: 1 } }).some((i) => /maxbytes/.test(i)));
    assert.deepEqual(issues({ endpoint: 'tempo:4317' }).map((i) => i.split(':')[0]), ['endpoint']);
    assert.deepEqual(issues({ endpoint: 'grpc://t:1', tls: { caFile: '/ca.pem' } }), [
      'tls: tls is set but the endpoint grpc://t:1 is not https:// or grpcs://',
    ]);
    assert.doesNotThrow(() => OtlpForwarderConfig.parse({ endpoint: 'grpcs://t:1', tls: { caFile: '/ca.pem' } }));
  });

  it('refuses credentials written inline, reserved and malformed header names', () => {
    const found = issues({
      endpoint: 'http://t:1',
      headers: {
        'dd-api-key': 'abc',
        Authorization: 'Bearer x',
        'X-Api-Token': 'y',
        'content-type': 'text/plain',
        'grpc-timeout': '1S',
        'bad name': { env: 'X' },
        'x-scope-orgid': 'line\nbreak',
        'x-trace-bin': 'AAE=',
      },
    });
    assert.deepEqual(found.sort(), [
      'headers.Authorization: looks like a credential: give it as { env: VARIABLE } or { file: /path } instead of inline',
      'headers.X-Api-Token: looks like a credential: give it as { env: VARIABLE } or { file: /path } instead of inline',
      'headers.bad name: not a valid header name',
      'headers.content-type: set by the forwarder itself; cannot be configured',
      'headers.dd-api-key: looks like a credential: give it as { env: VARIABLE } or { file: /path } instead of inline',
      'headers.grpc-timeout: set by the forwarder itself; cannot be configured',
      'headers.x-scope-orgid: header values cannot contain line breaks',
      'headers.x-trace-bin: binary (-bin) gRPC metadata is not supported',
    ]);
    const ok = OtlpForwarderConfig.parse({
      endpoint: 'http://t:1',
      headers: { 'X-Scope-OrgID': 'tenant-a', 'dd-api-key': { env: 'DD_API_KEY' }, authorization: { file: '/run/secrets/token' } },
    });
    assert.equal(Object.keys(ok.headers).length, 3);
  });
});

describe('resolveHeaders', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('reads env variables and files (trimmed) and lowercases the names', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fwd-headers-'));
    dirs.push(dir);
    await writeFile(join(dir, 'token'), 'Bearer s3cret-token\n');
    const headers = await resolveHeaders(
      { 'DD-API-KEY': { env: 'DD_KEY' }, Authorization: { file: join(dir, 'token') }, 'X-Scope-OrgID': 'tenant-a' },
      'exporters.otlp.tempo',
      { DD_KEY: ' 0123abcd ' },
    );
    assert.deepEqual(headers, { 'dd-api-key': '0123abcd', authorization: 'Bearer s3cret-token', 'x-scope-orgid': 'tenant-a' });
  });

  it('reports every unset variable and unreadable or empty file at once, naming the key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'fwd-headers-'));
    dirs.push(dir);
    await writeFile(join(dir, 'empty'), '\n');
    await writeFile(join(dir, 'two-lines'), 'a\nb\n');
    await assert.rejects(
      resolveHeaders(
        { a: { env: 'NOPE' }, b: { file: join(dir, 'missing') }, c: { file: join(dir, 'empty') }, d: { file: join(dir, 'two-lines') } },
        'exporters.otlp.x',
        {},
      ),
      (err: Error) => {
        assert.match(err.message, /exporters\.otlp\.x\.headers\.a: environment variable NOPE is not set/);
        assert.match(err.message, /exporters\.otlp\.x\.headers\.b: cannot read .*missing/);
        assert.match(err.message, /exporters\.otlp\.x\.headers\.c: .*empty is empty/);
        assert.match(err.message, /exporters\.otlp\.x\.headers\.d: the value contains a line break/);
        return true;
      },
    );
  });
});
