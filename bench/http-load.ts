import { connect, type Socket } from 'node:net';

/**
 * The load generator of `npm run bench`: keep-alive HTTP/1.1 connections over real sockets, each sending
 * one POST at a time and waiting for the whole response before the next, like an OTLP exporter does.
 *
 * Written on `node:net` rather than `node:http` because the bench client shares the 2 cores with the
 * server it measures: node's HTTP client spent ~2.7 ms of CPU per 512-span request (request objects,
 * header validation, the response stream), about a tenth of the machine at the rates measured, taken
 * from the server. This one writes a prepared header and the body and reads the status line and
 * Content-Length of the answer, nothing more.
 */
export interface LoadOptions {
  host: string;
  port: number;
  path: string;
  contentType: string;
  connections: number;
  /** Stop sending new requests at this `Date.now()`; requests in flight are finished. */
  deadline: number;
  /** The next request body. */
  nextBody: () => Uint8Array;
  /** Called with each response's status (0 for a connection error) and latency in ms. */
  onResponse: (status: number, latencyMs: number) => void;
}

export async function runHttpLoad(options: LoadOptions): Promise<void> {
  await Promise.all(Array.from({ length: options.connections }, () => connectionLoop(options)));
}

async function connectionLoop(options: LoadOptions): Promise<void> {
  let connection: Connection | null = null;
  try {
    while (Date.now() < options.deadline) {
      connection ??= await Connection.open(options.host, options.port).catch(() => null);
      const body = options.nextBody();
      const started = performance.now();
      let status = 0;
      if (connection !== null) {
        const header = `POST ${options.path} HTTP/1.1\r\nHost: ${options.host}:${options.port}\r\nContent-Type: ${options.contentType}\r\nContent-Length: ${body.length}\r\n\r\n`;
        const response = await connection.request(header, body).catch(() => null);
        if (response === null || response.close) {
          connection.destroy();
          connection = null;
        }
        status = response?.status ?? 0;
      }
      options.onResponse(status, performance.now() - started);
      // Do not spin on a refused connection.
      if (status === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    connection?.destroy();
  }
}

interface Response {
  status: number;
  /** The server will close the connection (or already did). */
  close: boolean;
}

/** One keep-alive connection with at most one request in flight. */
class Connection {
  private buffered: Buffer = Buffer.alloc(0);
  private waiting: { resolve: (r: Response) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (data: Buffer) => {
      this.buffered = this.buffered.length === 0 ? data : Buffer.concat([this.buffered, data]);
      this.tryComplete();
    });
    const fail = (err: Error) => {
      this.failure ??= err;
      const waiting = this.waiting;
      this.waiting = null;
      waiting?.reject(err);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
  }

  static open(host: string, port: number): Promise<Connection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new Connection(socket));
      });
      socket.once('error', reject);
    });
  }

  request(header: string, body: Uint8Array): Promise<Response> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.cork();
      this.socket.write(header, 'latin1');
      this.socket.write(body);
      this.socket.uncork();
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Settles the request once the status line, headers and Content-Length bytes of body are in. */
  private tryComplete(): void {
    if (this.waiting === null) return;
    const headerEnd = this.buffered.indexOf('\r\n\r\n');
    if (headerEnd < 0) return;
    const head = this.buffered.toString('latin1', 0, headerEnd);
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
    const total = headerEnd + 4 + length;
    if (this.buffered.length < total) return;
    const close = /\r\nconnection:\s*close/i.test(head);
    this.buffered = this.buffered.subarray(total);
    const waiting = this.waiting;
    this.waiting = null;
    waiting.resolve({ status, close });
  }
}
