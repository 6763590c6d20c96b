import type { KeyValue, Span, TraceRequest } from '../../../core/otlp.js';
import { testSpan } from '../../../core/testing/test-span.js';

/**
 * Requests whose spans have ids unique across a test: batch `b`, span `i` → span id `b*100000 + i + 1` in hex.
 * Every other span is a GenAI span (has `gen_ai.operation.name`).
 */
export function numberedRequest(batch: number, spans: number, padAttribute = ''): TraceRequest {
  const list: Span[] = [];
  for (let i = 0; i < spans; i++) {
    const attributes: KeyValue[] = [{ key: 'seq', value: batch * 100_000 + i }];
    if (i % 2 === 0) attributes.push({ key: 'gen_ai.operation.name', value: 'chat' });
    if (padAttribute !== '') attributes.push({ key: 'pad', value: padAttribute });
    list.push(testSpan({ spanId: (batch * 100_000 + i + 1).toString(16).padStart(16, '0'), attributes }));
  }
  return {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: 'forward-test' }], droppedAttributesCount: 0 },
        scopeSpans: [{ scope: { name: 'test', version: '1', attributes: [], droppedAttributesCount: 0 }, spans: list, schemaUrl: '' }],
        schemaUrl: '',
      },
    ],
  };
}

/** Span ids of a list of spans, sorted, without duplicates. */
export const uniqueIds = (spans: readonly Span[]): string[] => [...new Set(spans.map((s) => s.spanId))].sort();

/** The span ids numberedRequest produces for batches [0, batches) of `spans` spans. */
export function expectedIds(batches: number, spans: number, firstBatch = 0): string[] {
  const out: string[] = [];
  for (let b = firstBatch; b < firstBatch + batches; b++) for (let i = 0; i < spans; i++) out.push((b * 100_000 + i + 1).toString(16).padStart(16, '0'));
  return out.sort();
}
