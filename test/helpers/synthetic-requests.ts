import { randomBytes } from 'node:crypto';
import type { KeyValue, Span, TraceRequest } from '../../core/otlp.js';
import { testSpan } from '../../core/testing/test-span.js';

/**
 * Synthetic OTLP requests shaped like real instrumented traffic, for receiver tests and the benchmark:
 * GenAI client spans as the OpenTelemetry GenAI instrumentations emit them, and ordinary HTTP/DB spans.
 */
export interface SyntheticOptions {
  spans: number;
  /** Share of spans that are GenAI calls (the rest are HTTP server and DB client spans). */
  genAiShare?: number;
  services?: string[];
  /** Deterministic ids when given (each call still gets distinct ids). */
  seed?: number;
}

const MODELS = [
  ['openai', 'gpt-4o-mini'],
  ['anthropic', 'claude-sonnet-4-20250514'],
  ['openai', 'gpt-4.1'],
  ['gcp.gemini', 'gemini-2.5-pro'],
  ['openai', 'text-embedding-3-small'],
] as const;

let counter = 0;

function hex(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

const kv = (key: string, value: KeyValue['value']): KeyValue => ({ key, value });

function baseSpan(traceId: string, name: string, kind: number, attributes: KeyValue[], parentSpanId = ''): Span {
  const start = BigInt(Date.now()) * 1_000_000n + BigInt(counter++ % 1_000_000);
  return testSpan({ traceId, spanId: hex(8), parentSpanId, name, kind, startTimeUnixNano: start, endTimeUnixNano: start + 850_000_000n, attributes });
}

export function genAiSpan(traceId: string, i: number, parentSpanId = ''): Span {
  const [provider, model] = MODELS[i % MODELS.length]!;
  const embeddings = model.startsWith('text-embedding');
  const input = 500 + ((i * 7919) % 9000);
  const attributes = [
    kv('gen_ai.operation.name', embeddings ? 'embeddings' : 'chat'),
    kv('gen_ai.provider.name', provider),
    kv('gen_ai.request.model', model),
    kv('gen_ai.response.model', model),
    kv('gen_ai.response.id', `resp_${i}`),
    kv('gen_ai.request.max_tokens', 1024),
    kv('gen_ai.request.temperature', 0.2),
    kv('gen_ai.usage.input_tokens', input),
    kv('gen_ai.usage.cache_read.input_tokens', Math.floor(input / 4)),
    kv('server.address', `api.${provider}.com`),
    kv('server.port', 443),
    kv('team_id', `team-${i % 7}`),
  ];
  if (!embeddings) {
    attributes.push(kv('gen_ai.usage.output_tokens', 50 + (i % 700)), kv('gen_ai.response.finish_reasons', ['stop']));
  }
  return baseSpan(traceId, `${embeddings ? 'embeddings' : 'chat'} ${model}`, 3, attributes, parentSpanId);
}

function httpSpan(traceId: string, i: number): Span {
  return baseSpan(traceId, 'GET /api/orders/{id}', 2, [
    kv('http.request.method', 'GET'),
    kv('http.route', '/api/orders/{id}'),
    kv('url.path', `/api/orders/${i}`),
    kv('http.response.status_code', 200),
    kv('server.address', 'orders.internal'),
    kv('network.protocol.version', '1.1'),
    kv('user_agent.original', 'Mozilla/5.0 (X11; Linux x86_64)'),
  ]);
}

function dbSpan(traceId: string, i: number, parent: string): Span {
  return baseSpan(
    traceId,
    'SELECT orders',
    3,
    [
      kv('db.system.name', 'postgresql'),
      kv('db.namespace', 'shop'),
      kv('db.query.text', `SELECT * FROM orders WHERE id = $1 /* ${i} */`),
      kv('db.operation.name', 'SELECT'),
      kv('server.address', 'db.internal'),
      kv('server.port', 5432),
    ],
    parent,
  );
}

/** One request with `spans` spans spread over a few services (one ResourceSpans per service). */
export function syntheticRequest(options: SyntheticOptions): TraceRequest {
  const services = options.services ?? ['checkout-assistant', 'support-bot', 'search-api', 'orders'];
  const share = options.genAiShare ?? 1;
  const perService: Span[][] = services.map(() => []);
  const genAiEvery = share <= 0 ? Infinity : 1 / share;
  let nextGenAi = 0;
  for (let i = 0; i < options.spans; i++) {
    const traceId = hex(16);
    const bucket = perService[i % services.length]!;
    if (i >= nextGenAi) {
      bucket.push(genAiSpan(traceId, i));
      nextGenAi += genAiEvery;
    } else if (i % 2 === 0) {
      bucket.push(httpSpan(traceId, i));
    } else {
      bucket.push(dbSpan(traceId, i, hex(8)));
    }
  }
  return {
    resourceSpans: services.map((service, s) => ({
      resource: {
        attributes: [
          kv('service.name', service),
          kv('service.version', '1.4.2'),
          kv('deployment.environment.name', 'production'),
          kv('telemetry.sdk.language', 'nodejs'),
          kv('telemetry.sdk.name', 'opentelemetry'),
          kv('telemetry.sdk.version', '2.12.1'),
          kv('host.name', `ip-10-0-0-${s}`),
        ],
        droppedAttributesCount: 0,
      },
      scopeSpans: [
        {
          scope: { name: '@opentelemetry/instrumentation-openai', version: '0.9.0', attributes: [], droppedAttributesCount: 0 },
          spans: perService[s]!,
          schemaUrl: '',
        },
      ],
      schemaUrl: 'https://opentelemetry.io/schemas/1.37.0',
    })),
  };
}
