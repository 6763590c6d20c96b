import type { AnyValue, KeyValue, Span } from '../otlp.js';

/**
 * A complete OTLP span for tests and benches: `fields` over neutral defaults (a client span with fixed
 * ids, one second long from 2023-11-14T22:13:20Z, no attributes, status unset).
 */
export function testSpan(fields: Partial<Span> = {}): Span {
  return {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceState: '',
    parentSpanId: '',
    flags: 1,
    name: 'call',
    kind: 3,
    startTimeUnixNano: 1_700_000_000_000_000_000n,
    endTimeUnixNano: 1_700_000_001_000_000_000n,
    attributes: [],
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { code: 0, message: '' },
    ...fields,
  };
}

/** A record of attributes as OTLP key-values, in insertion order. */
export const keyValues = (attributes: Record<string, AnyValue>): KeyValue[] =>
  Object.entries(attributes).map(([key, value]) => ({ key, value }));
