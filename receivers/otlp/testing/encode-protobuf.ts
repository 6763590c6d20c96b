import {
  KeyValueList,
  type AnyValue,
  type InstrumentationScope,
  type KeyValue,
  type Resource,
  type Span,
  type SpanEvent,
  type SpanLink,
  type TraceRequest,
} from '../../../core/otlp.js';
import { ProtobufWriter } from '../protobuf-writer.js';

/**
 * Encodes a TraceRequest as an OTLP `ExportTraceServiceRequest` protobuf — the inverse of
 * decodeTraceRequestProtobuf, for tests, fuzzing and benchmarks (production never encodes requests).
 *
 * Proto3 conventions: fields holding their default value are omitted, ids are written from hex.
 * AnyValue mapping: string → string_value, boolean → bool_value, safe integer number or bigint →
 * int_value, any other number (fractions, -0, NaN, ±Infinity, integers beyond 2^53) → double_value,
 * Uint8Array → bytes_value, array → array_value, KeyValueList → kvlist_value, null → an empty AnyValue.
 */
export function encodeTraceRequestProtobuf(req: TraceRequest, options: EncodeOptions = {}): Uint8Array {
  const w = new ProtobufWriter(4096);
  extra = options.unknownFields;
  try {
    extra?.(w, 'ExportTraceServiceRequest');
    for (const rs of req.resourceSpans) {
      writeMessage(w, 1, 'ResourceSpans', () => {
        writeMessage(w, 1, 'Resource', () => writeResource(w, rs.resource));
        for (const ss of rs.scopeSpans) {
          writeMessage(w, 2, 'ScopeSpans', () => {
            writeMessage(w, 1, 'InstrumentationScope', () => writeScope(w, ss.scope));
            for (const span of ss.spans) writeMessage(w, 2, 'Span', () => writeSpan(w, span));
            writeString(w, 3, ss.schemaUrl);
          });
        }
        writeString(w, 3, rs.schemaUrl);
      });
    }
    extra?.(w, 'ExportTraceServiceRequest');
  } finally {
    extra = undefined;
  }
  return w.finish();
}

export interface EncodeOptions {
  /**
   * Called at the start and at the end of every message (with the proto message name) to write extra
   * fields, e.g. unknown fields that a decoder must skip. The writer is positioned inside the message.
   */
  unknownFields?: (w: ProtobufWriter, message: string) => void;
}

let extra: EncodeOptions['unknownFields'];

/** Hex (any length, even) → bytes. */
export function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function writeMessage(w: ProtobufWriter, field: number, message: string, body: () => void): void {
  const start = w.tag(field, 2).fork();
  extra?.(w, message);
  body();
  extra?.(w, message);
  w.join(start);
}

function writeString(w: ProtobufWriter, field: number, value: string): void {
  if (value !== '') w.tag(field, 2).string(value);
}

function writeUint32(w: ProtobufWriter, field: number, value: number): void {
  if (value !== 0) w.tag(field, 0).uint32(value);
}

function writeId(w: ProtobufWriter, field: number, hex: string): void {
  if (hex !== '') w.tag(field, 2).bytes(hexToBytes(hex));
}

function writeAttributes(w: ProtobufWriter, field: number, attributes: readonly KeyValue[]): void {
  for (const kv of attributes) writeMessage(w, field, 'KeyValue', () => writeKeyValue(w, kv));
}

function writeResource(w: ProtobufWriter, resource: Resource): void {
  writeAttributes(w, 1, resource.attributes);
  writeUint32(w, 2, resource.droppedAttributesCount);
}

function writeScope(w: ProtobufWriter, scope: InstrumentationScope): void {
  writeString(w, 1, scope.name);
  writeString(w, 2, scope.version);
  writeAttributes(w, 3, scope.attributes);
  writeUint32(w, 4, scope.droppedAttributesCount);
}

function writeSpan(w: ProtobufWriter, span: Span): void {
  writeId(w, 1, span.traceId);
  writeId(w, 2, span.spanId);
  writeString(w, 3, span.traceState);
  writeId(w, 4, span.parentSpanId);
  writeString(w, 5, span.name);
  if (span.kind !== 0) w.tag(6, 0).int32(span.kind);
  if (span.startTimeUnixNano !== 0n) w.tag(7, 1).fixed64(span.startTimeUnixNano);
  if (span.endTimeUnixNano !== 0n) w.tag(8, 1).fixed64(span.endTimeUnixNano);
  writeAttributes(w, 9, span.attributes);
  writeUint32(w, 10, span.droppedAttributesCount);
  for (const event of span.events) writeMessage(w, 11, 'Span.Event', () => writeEvent(w, event));
  writeUint32(w, 12, span.droppedEventsCount);
  for (const link of span.links) writeMessage(w, 13, 'Span.Link', () => writeLink(w, link));
  writeUint32(w, 14, span.droppedLinksCount);
  if (span.status.code !== 0 || span.status.message !== '') {
    writeMessage(w, 15, 'Status', () => {
      writeString(w, 2, span.status.message);
      if (span.status.code !== 0) w.tag(3, 0).int32(span.status.code);
    });
  }
  if (span.flags !== 0) w.tag(16, 5).fixed32(span.flags);
}

function writeEvent(w: ProtobufWriter, event: SpanEvent): void {
  if (event.timeUnixNano !== 0n) w.tag(1, 1).fixed64(event.timeUnixNano);
  writeString(w, 2, event.name);
  writeAttributes(w, 3, event.attributes);
  writeUint32(w, 4, event.droppedAttributesCount);
}

function writeLink(w: ProtobufWriter, link: SpanLink): void {
  writeId(w, 1, link.traceId);
  writeId(w, 2, link.spanId);
  writeString(w, 3, link.traceState);
  writeAttributes(w, 4, link.attributes);
  writeUint32(w, 5, link.droppedAttributesCount);
  if (link.flags !== 0) w.tag(6, 5).fixed32(link.flags);
}

function writeKeyValue(w: ProtobufWriter, kv: KeyValue): void {
  writeString(w, 1, kv.key);
  writeMessage(w, 2, 'AnyValue', () => writeAnyValue(w, kv.value));
}

/** Writes the fields of an AnyValue message (the caller writes its tag and length). */
export function writeAnyValue(w: ProtobufWriter, value: AnyValue): void {
  if (value === null) return;
  switch (typeof value) {
    case 'string':
      w.tag(1, 2).string(value);
      return;
    case 'boolean':
      w.tag(2, 0).bool(value);
      return;
    case 'bigint':
      w.tag(3, 0).int64(value);
      return;
    case 'number':
      if (Number.isSafeInteger(value) && !Object.is(value, -0)) w.tag(3, 0).int64(value);
      else w.tag(4, 1).double(value);
      return;
    default:
      break;
  }
  if (value instanceof Uint8Array) {
    w.tag(7, 2).bytes(value);
  } else if (Array.isArray(value)) {
    writeMessage(w, 5, 'ArrayValue', () => {
      for (const item of value) writeMessage(w, 1, 'AnyValue', () => writeAnyValue(w, item));
    });
  } else if (value instanceof KeyValueList) {
    writeMessage(w, 6, 'KeyValueList', () => {
      for (const kv of value.values) writeMessage(w, 1, 'KeyValue', () => writeKeyValue(w, kv));
    });
  }
}
