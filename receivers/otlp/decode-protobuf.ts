import {
  KeyValueList,
  type AnyValue,
  type InstrumentationScope,
  type KeyValue,
  type Resource,
  type ResourceSpans,
  type ScopeSpans,
  type Span,
  type SpanEvent,
  type SpanLink,
  type SpanStatus,
  type TraceRequest,
} from '../../core/otlp.js';
import { invalidPayload, PipelineError } from '../../core/pipeline-errors.js';
import { atPath, DecodeError } from './decode-error.js';
import { ProtobufReader } from './protobuf-reader.js';

/**
 * Decodes an OTLP `ExportTraceServiceRequest` (opentelemetry/proto/collector/trace/v1/trace_service.proto)
 * from protobuf into the shared model. Throws a PipelineError of kind 'invalid' naming what was wrong
 * and where, e.g. `invalid protobuf: span.trace_id must be 16 bytes, got 3
 * (resource_spans[0].scope_spans[0].spans[2])`.
 *
 * Ids must be empty or of their exact size (16-byte trace_id, 8-byte span ids): anything else is a
 * malformed request. Empty or all-zero span ids decode as they are: they make only that span invalid,
 * which the pipeline reports as OTLP partial success instead of losing the whole request. An all-zero
 * parent_span_id means "no parent" (''). The JSON decoder applies the same rules.
 */
export function decodeTraceRequestProtobuf(bytes: Uint8Array): TraceRequest {
  const r = new ProtobufReader(bytes);
  const end = bytes.length;
  const resourceSpans: ResourceSpans[] = [];
  try {
    while (r.pos < end) {
      const tag = r.tag();
      if (tag === 10) {
        const e = r.lenEnd(end);
        try {
          resourceSpans.push(readResourceSpans(r, e));
        } catch (err) {
          throw atPath(err, `resource_spans[${resourceSpans.length}]`);
        }
      } else {
        r.skip(tag, end);
      }
    }
  } catch (err) {
    throw toInvalid(err);
  }
  return { resourceSpans };
}

/** The AnyValue nesting (arrays and kvlists inside each other) accepted before the payload is refused. */
export const MAX_ANY_VALUE_DEPTH = 64;

const ZERO_SPAN_ID = '0'.repeat(16);

function toInvalid(err: unknown): PipelineError {
  if (err instanceof PipelineError) return err;
  if (err instanceof DecodeError) {
    const where = err.location;
    return invalidPayload(`invalid protobuf: ${err.reason}${where === '' ? '' : ` (${where})`}`, err);
  }
  // Anything else escaping the decoder is still caused by this payload; answer 400, keep the cause.
  return invalidPayload(`invalid protobuf: ${err instanceof Error ? err.message : String(err)}`, err);
}

function readResourceSpans(r: ProtobufReader, end: number): ResourceSpans {
  const rs: ResourceSpans = {
    resource: { attributes: [], droppedAttributesCount: 0 },
    scopeSpans: [],
    schemaUrl: '',
  };
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 10: {
        const e = r.lenEnd(end);
        try {
          readResource(r, e, rs.resource);
        } catch (err) {
          throw atPath(err, 'resource');
        }
        break;
      }
      case 18: {
        const e = r.lenEnd(end);
        try {
          rs.scopeSpans.push(readScopeSpans(r, e));
        } catch (err) {
          throw atPath(err, `scope_spans[${rs.scopeSpans.length}]`);
        }
        break;
      }
      case 26:
        rs.schemaUrl = r.string(end);
        break;
      default:
        r.skip(tag, end);
    }
  }
  r.expectEnd(end);
  return rs;
}

/** Reads into `resource` (a repeated singular message field merges, per protobuf). */
function readResource(r: ProtobufReader, end: number, resource: Resource): void {
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 10:
        pushKeyValue(r, end, resource.attributes, 'attributes');
        break;
      case 16:
        resource.droppedAttributesCount = r.uint32();
        break;
      default:
        r.skip(tag, end);
    }
  }
  r.expectEnd(end);
}

function readScopeSpans(r: ProtobufReader, end: number): ScopeSpans {
  const ss: ScopeSpans = {
    scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 },
    spans: [],
    schemaUrl: '',
  };
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 10: {
        const e = r.lenEnd(end);
        try {
          readScope(r, e, ss.scope);
        } catch (err) {
          throw atPath(err, 'scope');
        }
        break;
      }
      case 18: {
        const e = r.lenEnd(end);
        try {
          ss.spans.push(readSpan(r, e));
        } catch (err) {
          throw atPath(err, `spans[${ss.spans.length}]`);
        }
        break;
      }
      case 26:
        ss.schemaUrl = r.string(end);
        break;
      default:
        r.skip(tag, end);
    }
  }
  r.expectEnd(end);
  return ss;
}

function readScope(r: ProtobufReader, end: number, scope: InstrumentationScope): void {
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 10:
        scope.name = r.string(end);
        break;
      case 18:
        scope.version = r.string(end);
        break;
      case 26:
        pushKeyValue(r, end, scope.attributes, 'attributes');
        break;
      case 32:
        scope.droppedAttributesCount = r.uint32();
        break;
      default:
        r.skip(tag, end);
    }
  }
  r.expectEnd(end);
}

function readSpan(r: ProtobufReader, end: number): Span {
  const span: Span = {
    traceId: '',
    spanId: '',
    traceState: '',
    parentSpanId: '',
    flags: 0,
    name: '',
    kind: 0,
    startTimeUnixNano: 0n,
    endTimeUnixNano: 0n,
    attributes: [],
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { code: 0, message: '' },
  };
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 10:
        span.traceId = readId(r, end, 16, 'span.trace_id');
        break;
      case 18:
        span.spanId = readId(r, end, 8, 'span.span_id');
        break;
      case 26:
        span.traceState = r.string(end);
        break;
      case 34:
        span.parentSpanId = readId(r, end, 8, 'span.parent_span_id');
        break;
      case 42:
        span.name = r.string(end);
        break;
      case 48:
        span.kind = r.int32();
        break;
      case 57:
        span.startTimeUnixNano = r.fixed64();
        break;
      case 65:
        span.endTimeUnixNano = r.fixed64();
        break;
      case 74:
        pushKeyValue(r, end, span.attributes, 'attributes');
        break;
      case 80:
        span.droppedAttributesCount = r.uint32();
        break;
      case 90: {
        const e = r.lenEnd(end);
        try {
          span.events.push(readEvent(r, e));
        } catch (err) {
          throw atPath(err, `events[${span.events.length}]`);
        }
        break;
      }
      case 96:
        span.droppedEventsCount = r.uint32();
        break;
      case 106: {
        const e = r.lenEnd(end);
        try {
          span.links.push(readLink(r, e));
        } catch (err) {
          throw atPath(err, `links[${span.links.length}]`);
        }
        break;
      }
      case 112:
        span.droppedLinksCount = r.uint32();
        break;
      case 122: {
        const e = r.lenEnd(end);
        try {
          readStatus(r, e, span.status);
        } catch (err) {
          throw atPath(err, 'status');
        }
        break;
      }
      case 133:
        span.flags = r.fixed32();
        break;
      default:
        r.skip(tag, end);
    }
  }
  r.expectEnd(end);
  if (span.parentSpanId === ZERO_SPAN_ID) span.parentSpanId = '';
  return span;
}

/** A bytes id as lowercase hex: empty → '', otherwise exactly `size` bytes. */
function readId(r: ProtobufReader, end: number, size: number, field: string): string {
  const hex = r.hex(end);
  if (hex.length !== 0 && hex.length !== size * 2) {
    throw new DecodeError(`${field} must be ${size} bytes, got ${hex.length / 2}`);
  }
  return hex;
}

function readEvent(r: ProtobufReader, end: number): SpanEvent {
  const event: SpanEvent = { timeUnixNano: 0n, name: '', attributes: [], droppedAttributesCount: 0 };
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 9:
        event.timeUnixNano = r.fixed64();
        break;
      case 18:
        event.name = r.string(end);
        break;
      case 26:
        pushKeyValue(r, end, event.attributes, 'attributes');
        break;
      case 32:
        event.droppedAttributesCount = r.uint32();
        break;
      default:
        r.skip(tag, end);
    }
  }
  r.expectEnd(end);
  return event;
}

function readLink(r: ProtobufReader, end: number): SpanLink {
  const link: SpanLink = {
    traceId: '',
    spanId: '',
    traceState: '',
    attributes: [],
    droppedAttributesCount: 0,
    flags: 0,
  };
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 10:
        link.traceId = readId(r, end, 16, 'link.trace_id');
        break;
      case 18:
        link.spanId = readId(r, end, 8, 'link.span_id');
        break;
      case 26:
        link.traceState = r.string(end);
        break;
      case 34:
        pushKeyValue(r, end, link.attributes, 'attributes');
        break;
      case 40:
        link.droppedAttributesCount = r.uint32();
        break;
      case 53:
        link.flags = r.fixed32();
        break;
      default:
        r.skip(tag, end);
    }
  }
  r.expectEnd(end);
  return link;
}

function readStatus(r: ProtobufReader, end: number, status: SpanStatus): void {
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 18:
        status.message = r.string(end);
        break;
      case 24:
        status.code = r.int32();
        break;
      default:
        r.skip(tag, end);
    }
  }
  r.expectEnd(end);
}

/** Reads one length-delimited KeyValue and appends it to `list`; errors name `field[index]`. */
function pushKeyValue(r: ProtobufReader, end: number, list: KeyValue[], field: string): void {
  const e = r.lenEnd(end);
  try {
    list.push(readKeyValue(r, e, 1));
  } catch (err) {
    throw atPath(err, `${field}[${list.length}]`);
  }
}

function readKeyValue(r: ProtobufReader, end: number, depth: number): KeyValue {
  let key = '';
  let value: AnyValue = null;
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 10) {
      key = r.key(end);
    } else if (tag === 18) {
      const e = r.lenEnd(end);
      value = readAnyValue(r, e, depth);
    } else {
      r.skip(tag, end);
    }
  }
  r.expectEnd(end);
  return { key, value };
}

function readAnyValue(r: ProtobufReader, end: number, depth: number): AnyValue {
  if (depth > MAX_ANY_VALUE_DEPTH) {
    throw new DecodeError(`AnyValue nested deeper than ${MAX_ANY_VALUE_DEPTH} levels`);
  }
  let value: AnyValue = null;
  while (r.pos < end) {
    const tag = r.tag();
    switch (tag) {
      case 10:
        value = r.string(end);
        break;
      case 16:
        value = r.bool();
        break;
      case 24:
        value = r.int64();
        break;
      case 33:
        value = r.double();
        break;
      case 42: {
        const e = r.lenEnd(end);
        value = readArrayValue(r, e, depth);
        break;
      }
      case 50: {
        const e = r.lenEnd(end);
        value = readKeyValueList(r, e, depth);
        break;
      }
      case 58:
        value = r.bytes(end);
        break;
      default:
        r.skip(tag, end);
    }
  }
  r.expectEnd(end);
  return value;
}

function readArrayValue(r: ProtobufReader, end: number, depth: number): AnyValue[] {
  const values: AnyValue[] = [];
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 10) {
      const e = r.lenEnd(end);
      try {
        values.push(readAnyValue(r, e, depth + 1));
      } catch (err) {
        throw atPath(err, `array_value[${values.length}]`);
      }
    } else {
      r.skip(tag, end);
    }
  }
  r.expectEnd(end);
  return values;
}

function readKeyValueList(r: ProtobufReader, end: number, depth: number): KeyValueList {
  const values: KeyValue[] = [];
  while (r.pos < end) {
    const tag = r.tag();
    if (tag === 10) {
      const e = r.lenEnd(end);
      try {
        values.push(readKeyValue(r, e, depth + 1));
      } catch (err) {
        throw atPath(err, `kvlist_value[${values.length}]`);
      }
    } else {
      r.skip(tag, end);
    }
  }
  r.expectEnd(end);
  return new KeyValueList(values);
}
