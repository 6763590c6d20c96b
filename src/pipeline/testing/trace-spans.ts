import type { AnyValue, Span, TraceRequest } from '../../../core/otlp.js';
import { keyValues, testSpan } from '../../../core/testing/test-span.js';

/**
 * Compact spans for trace-level tests (counted once, ownership across the trace): ids are short names
 * padded to OTLP hex ids, so test cases read as trees.
 */
export interface SpanSpec {
  /** Span name; also its id (hex-padded). */
  id: string;
  /** Parent id ('' or absent: a root). */
  parent?: string;
  /** Trace name (default 't1'). */
  trace?: string;
  /** GenAI attributes: a model makes it a GenAI call. */
  model?: string;
  input?: number;
  output?: number;
  cached?: number;
  responseId?: string;
  /** Any other attributes (ownership, …). */
  attrs?: Record<string, AnyValue>;
  /** Instrumentation scope name. */
  scope?: string;
}

/** 'p1' → '000000000000p1'-like hex: names are hashed into hex ids deterministically. */
export function hexId(name: string, length: 16 | 32): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < name.length; i++) {
    h1 = Math.imul(h1 ^ name.charCodeAt(i), 0x01000193);
    h2 = Math.imul(h2 ^ name.charCodeAt(i), 0x5bd1e995);
  }
  const word = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
  const hex = word(h1) + word(h2) + word(h1 ^ 0x5a5a5a5a) + word(h2 ^ 0x3c3c3c3c);
  return hex.slice(0, length);
}

export function specSpan(spec: SpanSpec): Span {
  const attributes: Record<string, AnyValue> = {};
  if (spec.model !== undefined) {
    attributes['gen_ai.operation.name'] = 'chat';
    attributes['gen_ai.provider.name'] = 'openai';
    attributes['gen_ai.request.model'] = spec.model;
    if (spec.input !== undefined) attributes['gen_ai.usage.input_tokens'] = spec.input;
    if (spec.output !== undefined) attributes['gen_ai.usage.output_tokens'] = spec.output;
    if (spec.cached !== undefined) attributes['gen_ai.usage.cache_read.input_tokens'] = spec.cached;
    if (spec.responseId !== undefined) attributes['gen_ai.response.id'] = spec.responseId;
  }
  Object.assign(attributes, spec.attrs ?? {});
  const start = 1_767_225_600_000_000_000n; // 2026-01-01T00:00:00Z
  return testSpan({
    traceId: hexId(spec.trace ?? 't1', 32),
    spanId: hexId(spec.id, 16),
    parentSpanId: spec.parent === undefined || spec.parent === '' ? '' : hexId(spec.parent, 16),
    name: spec.id,
    startTimeUnixNano: start,
    endTimeUnixNano: start + 1_000_000n,
    attributes: keyValues(attributes),
  });
}

/** One request holding `specs`, under one resource (`service.name` = service). */
export function specRequest(specs: readonly SpanSpec[], service = 'checkout-assistant'): TraceRequest {
  const byScope = new Map<string, Span[]>();
  for (const spec of specs) {
    const scope = spec.scope ?? '@opentelemetry/instrumentation-openai';
    const list = byScope.get(scope) ?? [];
    list.push(specSpan(spec));
    byScope.set(scope, list);
  }
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: service }], droppedAttributesCount: 0 },
        scopeSpans: [...byScope].map(([name, spans]) => ({
          scope: { name, version: '1.0.0', attributes: [], droppedAttributesCount: 0 },
          spans,
          schemaUrl: '',
        })),
        schemaUrl: '',
      },
    ],
  };
}
