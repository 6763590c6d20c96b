import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: unknown;
}

/** A local HTTP receiver for webhooks: records every request; answers 200, or `failing` answers 500 first. */
export interface WebhookSink {
  url: string;
  received: ReceivedRequest[];
  /** Requests answered 500 (not in `received`). */
  refused: number;
  /** The next `n` requests are answered 500. */
  failNext(n: number): void;
  /** Every request is answered 500 until set back to false. */
  setDown(down: boolean): void;
  /** Waits until `received` has at least `n` requests (or fails after `timeoutMs`). */
  waitFor(n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startWebhookSink(): Promise<WebhookSink> {
  let failing = 0;
  let down = false;
  const sink = {
    received: [] as ReceivedRequest[],
    refused: 0,
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (down || failing > 0) {
        if (failing > 0) failing--;
        sink.refused++;
        res.writeHead(500).end('down');
        return;
      }
      const text = Buffer.concat(chunks).toString('utf8');
      sink.received.push({ path: req.url ?? '', headers: req.headers, body: JSON.parse(text) as unknown });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(sink, {
    url: `http://127.0.0.1:${port}/hook`,
    failNext(n: number) {
      failing = n;
    },
    setDown(value: boolean) {
      down = value;
    },
    async waitFor(n: number, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      while (sink.received.length < n) {
        if (Date.now() > until) throw new Error(`webhook sink: ${sink.received.length} of ${n} requests after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
