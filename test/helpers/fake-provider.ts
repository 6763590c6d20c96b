import { crc32 } from 'node:zlib';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local stand-in for the OpenAI and Anthropic HTTP APIs, on 127.0.0.1 port 0, that answers every call
 * with KNOWN usage (cached and reasoning tokens included) so tests can assert exact ledger rows.
 *
 * Speaks just enough of:
 * - OpenAI `POST /v1/chat/completions`, non-streaming and streaming (SSE; the usage chunk is sent when
 *   `stream_options.include_usage` is set, as the real API does);
 * - OpenAI `POST /v1/responses` (non-streaming; usage from the `openAiChat` table);
 * - OpenAI `POST /v1/embeddings` (float or base64 encoding);
 * - Anthropic `POST /v1/messages`, non-streaming and streaming (SSE event sequence);
 * - Bedrock runtime `POST /model/{modelId}/converse`, `/converse-stream` (AWS event-stream framing),
 *   `/invoke` and `/invoke-with-response-stream` (Anthropic body).
 * The model in each answer is the request's model, or `responseModel` from the usage table when given.
 */

export interface OpenAiUsage {
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens?: number;
  reasoning_tokens?: number;
}

export interface AnthropicUsage {
  /** Anthropic's own meaning: input EXCLUSIVE of cache reads and writes. */
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens?: number;
  cache_creation_input_tokens?: number;
}

export interface FakeProviderOptions {
  /** Usage answered for a chat-completions request, by request model. */
  openAiChat?: Record<string, OpenAiUsage & { responseModel?: string }>;
  /** Prompt tokens answered for an embeddings request, by request model. */
  openAiEmbeddings?: Record<string, number>;
  /** Usage answered for an Anthropic messages request, by request model. */
  anthropic?: Record<string, AnthropicUsage & { responseModel?: string }>;
  /**
   * Usage answered for Bedrock runtime `Converse` and `InvokeModel` (Anthropic body) requests, by model id.
   * Bedrock's meaning: `inputTokens` EXCLUDES cache reads and writes.
   */
  bedrock?: Record<string, BedrockUsage>;
}

export interface BedrockUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadInputTokens?: number;
  cacheWriteInputTokens?: number;
}

export interface RecordedRequest {
  path: string;
  model: string;
  stream: boolean;
}

export interface FakeProvider {
  /** Base URL for OpenAI clients (ends in /v1). */
  openAiBaseUrl: string;
  /** Base URL for Anthropic clients (the SDK appends /v1/messages). */
  anthropicBaseUrl: string;
  /** Endpoint for AWS SDK Bedrock runtime clients. */
  bedrockEndpoint: string;
  /** Every provider call answered, in order. */
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export async function startFakeProvider(options: FakeProviderOptions): Promise<FakeProvider> {
  const requests: RecordedRequest[] = [];
  let counter = 0;
  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: String(error) } }));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>;
    const path = (req.url ?? '').split('?')[0] ?? '';
    const model = String(body['model'] ?? '');
    const stream = body['stream'] === true;
    const id = ++counter;

    if (req.method === 'POST' && path === '/v1/chat/completions') {
      const usage = options.openAiChat?.[model];
      if (usage === undefined) return notFound(res, `no usage configured for chat model ${model}`);
      requests.push({ path, model, stream });
      const responseModel = usage.responseModel ?? model;
      const openAiUsage = {
        prompt_tokens: usage.prompt_tokens,
        completion_tokens: usage.completion_tokens,
        total_tokens: usage.prompt_tokens + usage.completion_tokens,
        prompt_tokens_details: { cached_tokens: usage.cached_tokens ?? 0, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: usage.reasoning_tokens ?? 0, audio_tokens: 0 },
      };
      const created = 1_760_000_000;
      const chatId = `chatcmpl-fake-${id}`;
      if (!stream) {
        return json(res, {
          id: chatId,
          object: 'chat.completion',
          created,
          model: responseModel,
          choices: [{ index: 0, message: { role: 'assistant', content: 'Hello from the fake.', refusal: null }, finish_reason: 'stop', logprobs: null }],
          usage: openAiUsage,
          system_fingerprint: 'fp_fake',
        });
      }
      const includeUsage = (body['stream_options'] as { include_usage?: boolean } | undefined)?.include_usage === true;
      const base = { id: chatId, object: 'chat.completion.chunk', created, model: responseModel, system_fingerprint: 'fp_fake' };
      const events: unknown[] = [
        { ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null, logprobs: null }], ...(includeUsage ? { usage: null } : {}) },
        { ...base, choices: [{ index: 0, delta: { content: 'Hello ' }, finish_reason: null, logprobs: null }], ...(includeUsage ? { usage: null } : {}) },
        { ...base, choices: [{ index: 0, delta: { content: 'stream.' }, finish_reason: null, logprobs: null }], ...(includeUsage ? { usage: null } : {}) },
        { ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop', logprobs: null }], ...(includeUsage ? { usage: null } : {}) },
      ];
      if (includeUsage) events.push({ ...base, choices: [], usage: openAiUsage });
      return sse(res, events.map((e) => `data: ${JSON.stringify(e)}\n\n`).concat('data: [DONE]\n\n'));
    }

    if (req.method === 'POST' && path === '/v1/responses' && !stream) {
      const usage = options.openAiChat?.[model];
      if (usage === undefined) return notFound(res, `no usage configured for responses model ${model}`);
      requests.push({ path, model, stream });
      return json(res, {
        id: `resp_fake_${id}`,
        object: 'response',
        created_at: 1_760_000_000,
        status: 'completed',
        error: null,
        incomplete_details: null,
        model: usage.responseModel ?? model,
        output: [
          {
            type: 'message',
            id: `msg_fake_${id}`,
            status: 'completed',
            role: 'assistant',
            content: [{ type: 'output_text', text: 'Hello from the fake.', annotations: [] }],
          },
        ],
        usage: {
          input_tokens: usage.prompt_tokens,
          input_tokens_details: { cached_tokens: usage.cached_tokens ?? 0 },
          output_tokens: usage.completion_tokens,
          output_tokens_details: { reasoning_tokens: usage.reasoning_tokens ?? 0 },
          total_tokens: usage.prompt_tokens + usage.completion_tokens,
        },
      });
    }

    if (req.method === 'POST' && path === '/v1/embeddings') {
      const tokens = options.openAiEmbeddings?.[model];
      if (tokens === undefined) return notFound(res, `no usage configured for embeddings model ${model}`);
      requests.push({ path, model, stream: false });
      const inputs = Array.isArray(body['input']) ? (body['input'] as unknown[]) : [body['input']];
      const vector = [0.25, -0.5, 0.125];
      const base64 = body['encoding_format'] === 'base64';
      const embedding = base64 ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector;
      return json(res, {
        object: 'list',
        data: inputs.map((_, index) => ({ object: 'embedding', index, embedding })),
        model,
        usage: { prompt_tokens: tokens, total_tokens: tokens },
      });
    }

    if (req.method === 'POST' && path === '/v1/messages') {
      const usage = options.anthropic?.[model];
      if (usage === undefined) return notFound(res, `no usage configured for anthropic model ${model}`);
      requests.push({ path, model, stream });
      const responseModel = usage.responseModel ?? model;
      const msgId = `msg_fake_${id}`;
      const fullUsage = {
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
        cache_read_input_tokens: usage.cache_read_input_tokens ?? 0,
        cache_creation_input_tokens: usage.cache_creation_input_tokens ?? 0,
      };
      if (!stream) {
        return json(res, {
          id: msgId,
          type: 'message',
          role: 'assistant',
          model: responseModel,
          content: [{ type: 'text', text: 'Hello from the fake.' }],
          stop_reason: 'end_turn',
          stop_sequence: null,
          usage: fullUsage,
        });
      }
      const events: [string, unknown][] = [
        ['message_start', { type: 'message_start', message: { id: msgId, type: 'message', role: 'assistant', model: responseModel, content: [], stop_reason: null, stop_sequence: null, usage: { ...fullUsage, output_tokens: 1 } } }],
        ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }],
        ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hello stream.' } }],
        ['content_block_stop', { type: 'content_block_stop', index: 0 }],
        ['message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: usage.output_tokens } }],
        ['message_stop', { type: 'message_stop' }],
      ];
      return sse(res, events.map(([event, data]) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`));
    }

    const bedrockRoute = /^\/model\/([^/]+)\/(converse-stream|converse|invoke-with-response-stream|invoke)$/.exec(path);
    if (req.method === 'POST' && bedrockRoute !== null) {
      const modelId = decodeURIComponent(bedrockRoute[1] ?? '');
      const usage = options.bedrock?.[modelId];
      if (usage === undefined) return notFound(res, `no usage configured for bedrock model ${modelId}`);
      requests.push({ path: `/model/${modelId}/${bedrockRoute[2] ?? ''}`, model: modelId, stream: false });
      const cacheRead = usage.cacheReadInputTokens ?? 0;
      const cacheWrite = usage.cacheWriteInputTokens ?? 0;
      // The Converse APIs' usage block, in Converse and in ConverseStream's final `metadata` event.
      const converseUsage = {
        inputTokens: usage.inputTokens,
        outputTokens: usage.outputTokens,
        totalTokens: usage.inputTokens + usage.outputTokens + cacheRead + cacheWrite,
        cacheReadInputTokens: cacheRead,
        cacheWriteInputTokens: cacheWrite,
      };
      if (bedrockRoute[2] === 'converse-stream') {
        // ConverseStream answers in the AWS event-stream binary framing, usage in the final `metadata` event.
        return awsEventStream(res, [
          ['messageStart', { role: 'assistant' }],
          ['contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hello from the fake stream.' } }],
          ['contentBlockStop', { contentBlockIndex: 0 }],
          ['messageStop', { stopReason: 'end_turn' }],
          [
            'metadata',
            {
              usage: converseUsage,
              metrics: { latencyMs: 12 },
            },
          ],
        ]);
      }
      if (bedrockRoute[2] === 'invoke-with-response-stream') {
        // InvokeModelWithResponseStream with an Anthropic body: each event-stream `chunk` carries one
        // Anthropic streaming event as base64 JSON; Bedrock adds its invocation metrics to message_stop.
        const anthropicEvents: unknown[] = [
          { type: 'message_start', message: { id: `msg_bdrk_fake_${id}`, type: 'message', role: 'assistant', model: modelId, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: usage.inputTokens, output_tokens: 1, cache_read_input_tokens: cacheRead, cache_creation_input_tokens: cacheWrite } } },
          { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
          { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hello stream.' } },
          { type: 'content_block_stop', index: 0 },
          { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: usage.outputTokens } },
          { type: 'message_stop', 'amazon-bedrock-invocationMetrics': { inputTokenCount: usage.inputTokens, outputTokenCount: usage.outputTokens, invocationLatency: 12, firstByteLatency: 5 } },
        ];
        return awsEventStream(
          res,
          anthropicEvents.map((event): [string, unknown] => ['chunk', { bytes: Buffer.from(JSON.stringify(event)).toString('base64') }]),
        );
      }
      if (bedrockRoute[2] === 'converse') {
        return json(res, {
          output: { message: { role: 'assistant', content: [{ text: 'Hello from the fake.' }] } },
          stopReason: 'end_turn',
          usage: converseUsage,
          metrics: { latencyMs: 12 },
        });
      }
      return json(res, {
        id: `msg_bdrk_fake_${id}`,
        type: 'message',
        role: 'assistant',
        model: modelId,
        content: [{ type: 'text', text: 'Hello from the fake.' }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        usage: {
          input_tokens: usage.inputTokens,
          output_tokens: usage.outputTokens,
          cache_read_input_tokens: cacheRead,
          cache_creation_input_tokens: cacheWrite,
        },
      });
    }

    return notFound(res, `fake provider: no route for ${req.method ?? ''} ${path}`);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    openAiBaseUrl: `http://127.0.0.1:${port}/v1`,
    anthropicBaseUrl: `http://127.0.0.1:${port}`,
    bedrockEndpoint: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function json(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req_fake' });
  res.end(JSON.stringify(body));
}

function sse(res: ServerResponse, frames: string[]): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-request-id': 'req_fake' });
  for (const frame of frames) res.write(frame);
  res.end();
}

/**
 * Writes `events` as AWS event-stream messages (application/vnd.amazon.eventstream): per message a prelude
 * (total length, headers length, CRC-32 of those 8 bytes), string headers (`:event-type`, `:content-type`,
 * `:message-type`), the JSON payload, and a CRC-32 of everything before it.
 */
function awsEventStream(res: ServerResponse, events: [string, unknown][]): void {
  res.writeHead(200, { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': 'req_fake' });
  for (const [eventType, body] of events) {
    const headers = Buffer.concat(
      [
        [':event-type', eventType],
        [':content-type', 'application/json'],
        [':message-type', 'event'],
      ].map(([name, value]) => {
        const nameBytes = Buffer.from(name!);
        const valueBytes = Buffer.from(value!);
        const header = Buffer.alloc(1 + nameBytes.length + 1 + 2 + valueBytes.length);
        let o = header.writeUInt8(nameBytes.length, 0);
        o += nameBytes.copy(header, o);
        o = header.writeUInt8(7, o); // header value type 7: string
        o = header.writeUInt16BE(valueBytes.length, o);
        valueBytes.copy(header, o);
        return header;
      }),
    );
    const payload = Buffer.from(JSON.stringify(body));
    const total = 12 + headers.length + payload.length + 4;
    const message = Buffer.alloc(total);
    message.writeUInt32BE(total, 0);
    message.writeUInt32BE(headers.length, 4);
    message.writeUInt32BE(crc32(message.subarray(0, 8)), 8);
    headers.copy(message, 12);
    payload.copy(message, 12 + headers.length);
    message.writeUInt32BE(crc32(message.subarray(0, total - 4)), total - 4);
    res.write(message);
  }
  res.end();
}

function notFound(res: ServerResponse, message: string): void {
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: { type: 'not_found_error', message } }));
}
