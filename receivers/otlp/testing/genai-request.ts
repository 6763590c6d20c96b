import type { KeyValue, Span, TraceRequest } from '../../../core/otlp.js';

/**
 * A deterministic TraceRequest shaped like real GenAI traffic: one resource, one scope, `spanCount`
 * client spans carrying ~15 attributes each (gen_ai.* semantic conventions plus ownership and HTTP
 * attributes), one event on every fourth span. For benchmarks and size/timing checks.
 */
export function makeGenAiTraceRequest(spanCount: number): TraceRequest {
  const spans: Span[] = [];
  const traceCount = Math.max(1, Math.ceil(spanCount / 8));
  for (let i = 0; i < spanCount; i++) {
    const trace = i % traceCount;
    const start = 1_760_000_000_000_000_000n + BigInt(i) * 1_000_123n;
    const attributes: KeyValue[] = [
      { key: 'gen_ai.operation.name', value: 'chat' },
      { key: 'gen_ai.provider.name', value: i % 3 === 0 ? 'anthropic' : 'openai' },
      { key: 'gen_ai.request.model', value: i % 3 === 0 ? 'claude-sonnet-4-5' : 'gpt-4o-mini' },
      { key: 'gen_ai.response.model', value: i % 3 === 0 ? 'claude-sonnet-4-5-20250929' : 'gpt-4o-mini-2024-07-18' },
      { key: 'gen_ai.response.id', value: `chatcmpl-${(i * 7919).toString(36)}AbCdEfGhIjKlMn` },
      { key: 'gen_ai.usage.input_tokens', value: 1200 + i },
      { key: 'gen_ai.usage.output_tokens', value: 300 + (i % 50) },
      { key: 'gen_ai.usage.cache_read.input_tokens', value: i % 4 === 0 ? 1024 : 0 },
      { key: 'gen_ai.request.temperature', value: 0.7 },
      { key: 'gen_ai.request.max_tokens', value: 1024 },
      { key: 'gen_ai.response.finish_reasons', value: ['stop'] },
      { key: 'server.address', value: i % 3 === 0 ? 'api.anthropic.com' : 'api.openai.com' },
      { key: 'server.port', value: 443 },
      { key: 'app.team_id', value: `team-${i % 5}` },
      { key: 'gen_ai.conversation.id', value: `conv-${Math.floor(i / 4)}` },
    ];
    spans.push({
      traceId: (trace + 1).toString(16).padStart(32, 'a'),
      spanId: (i + 1).toString(16).padStart(16, 'b'),
      traceState: '',
      parentSpanId: i % 8 === 0 ? '' : (i - (i % 8) + 1).toString(16).padStart(16, 'b'),
      flags: 0x301,
      name: `chat ${i % 3 === 0 ? 'claude-sonnet-4-5' : 'gpt-4o-mini'}`,
      kind: 3,
      startTimeUnixNano: start,
      endTimeUnixNano: start + 850_000_000n + BigInt(i % 100) * 1_000_000n,
      attributes,
      droppedAttributesCount: 0,
      events:
        i % 4 === 0
          ? [{ timeUnixNano: start + 1_000n, name: 'gen_ai.choice', attributes: [{ key: 'index', value: 0 }], droppedAttributesCount: 0 }]
          : [],
      droppedEventsCount: 0,
      links: [],
      droppedLinksCount: 0,
      status: { code: 0, message: '' },
    });
  }
  return {
    resourceSpans: [
      {
        resource: {
          attributes: [
            { key: 'service.name', value: 'checkout-assistant' },
            { key: 'service.namespace', value: 'shop' },
            { key: 'deployment.environment.name', value: 'production' },
            { key: 'telemetry.sdk.language', value: 'nodejs' },
            { key: 'telemetry.sdk.name', value: 'opentelemetry' },
            { key: 'telemetry.sdk.version', value: '2.12.0' },
          ],
          droppedAttributesCount: 0,
        },
        scopeSpans: [
          {
            scope: { name: '@opentelemetry/instrumentation-openai', version: '0.5.0', attributes: [], droppedAttributesCount: 0 },
            spans,
            schemaUrl: '',
          },
        ],
        schemaUrl: 'https://opentelemetry.io/schemas/1.37.0',
      },
    ],
  };
}
