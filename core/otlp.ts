/**
 * The decoded form of an OTLP ExportTraceServiceRequest, shared by the protobuf and JSON decoders and by
 * every processor. Field names follow the OTLP proto in camelCase.
 *
 * Why this shape:
 * - ids are lowercase hex strings because that is what the ledger stores and what users query by;
 * - timestamps are `bigint` nanoseconds because OTLP sends fixed64 and a JS number loses precision past 2^53;
 * - attributes stay an ordered list of key/value pairs, as on the wire: building a map for every span is
 *   wasted work for the many non-GenAI spans that are skipped after a cheap key scan.
 */

/** An OTLP AnyValue. Integers are `number` when they fit in 2^53, else `bigint`; doubles are `number`. */
export type AnyValue =
  | string
  | boolean
  | number
  | bigint
  | Uint8Array
  | AnyValue[]
  | KeyValueList
  | null;

/** A `kvlist_value`: kept as a class so it is never confused with an array value or bytes. */
export class KeyValueList {
  constructor(readonly values: KeyValue[]) {}
}

export interface KeyValue {
  key: string;
  value: AnyValue;
}

export interface Resource {
  attributes: KeyValue[];
  droppedAttributesCount: number;
}

export interface InstrumentationScope {
  name: string;
  version: string;
  attributes: KeyValue[];
  droppedAttributesCount: number;
}

export interface SpanEvent {
  timeUnixNano: bigint;
  name: string;
  attributes: KeyValue[];
  droppedAttributesCount: number;
}

export interface SpanLink {
  traceId: string;
  spanId: string;
  traceState: string;
  attributes: KeyValue[];
  droppedAttributesCount: number;
  flags: number;
}

/** OTLP Status.StatusCode */
export const StatusCode = { UNSET: 0, OK: 1, ERROR: 2 } as const;

/** OTLP Span.SpanKind */
export const SpanKind = {
  UNSPECIFIED: 0,
  INTERNAL: 1,
  SERVER: 2,
  CLIENT: 3,
  PRODUCER: 4,
  CONSUMER: 5,
} as const;

export interface SpanStatus {
  code: number;
  message: string;
}

export interface Span {
  /** 32 lowercase hex chars. */
  traceId: string;
  /** 16 lowercase hex chars. */
  spanId: string;
  traceState: string;
  /** 16 lowercase hex chars, or '' for a root span. */
  parentSpanId: string;
  flags: number;
  name: string;
  kind: number;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: KeyValue[];
  droppedAttributesCount: number;
  events: SpanEvent[];
  droppedEventsCount: number;
  links: SpanLink[];
  droppedLinksCount: number;
  status: SpanStatus;
}

export interface ScopeSpans {
  scope: InstrumentationScope;
  spans: Span[];
  schemaUrl: string;
}

export interface ResourceSpans {
  resource: Resource;
  scopeSpans: ScopeSpans[];
  schemaUrl: string;
}

export interface TraceRequest {
  resourceSpans: ResourceSpans[];
}

/** Total number of spans in a request (used for admission control and partial_success counts). */
export function countSpans(request: TraceRequest): number {
  let n = 0;
  for (const rs of request.resourceSpans) for (const ss of rs.scopeSpans) n += ss.spans.length;
  return n;
}

/** First value for `key` in an attribute list, or undefined. Linear: attribute lists are short. */
export function findAttribute(attributes: readonly KeyValue[], key: string): AnyValue | undefined {
  for (const kv of attributes) if (kv.key === key) return kv.value;
  return undefined;
}
