import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { runHttpLoad } from './http-load.js';

/**
 * The bench's load generator against a real node:http server: every body arrives whole, every status is
 * reported, and a server that closes the connection (as genai-ledger does on some errors) costs a
 * reconnect, not a lost or stuck request.
 */
test('sends whole bodies, reports each status, and reconnects after Connection: close', async () => {
  const received: number[] = [];
  let served = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push(Buffer.concat(chunks).length);
      served++;
      if (served % 5 === 0) {
        res.setHeader('Connection', 'close');
        res.statusCode = 503;
        res.end('overloaded');
      } else {
        res.end(Buffer.alloc(served % 3)); // empty and short bodies, as OTLP success responses are
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const statuses: number[] = [];
  let sent = 0;
  const body = Buffer.alloc(300_000, 7); // larger than a socket write, like a 512-span request
  try {
    await runHttpLoad({
      host: '127.0.0.1',
      port,
      path: '/v1/traces',
      contentType: 'application/x-protobuf',
      connections: 3,
      deadline: Date.now() + 400,
      nextBody: () => {
        sent++;
        return body;
      },
      onResponse: (status) => statuses.push(status),
    });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
  assert.ok(sent >= 10, `only ${sent} requests in 400 ms`);
  assert.equal(statuses.length, sent);
  assert.equal(received.length, sent);
  assert.ok(received.every((n) => n === body.length));
  assert.deepEqual(new Set(statuses), new Set([200, 503]));
  assert.equal(statuses.filter((s) => s === 503).length, Math.floor(sent / 5));
});
