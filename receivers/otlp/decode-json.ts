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
import { MAX_ANY_VALUE_DEPTH } from './decode-protobuf.js';

/**
 * Decodes an OTLP/JSON `ExportTraceServiceRequest` (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding)
 * into the shared model, with the same results and the same validation as the protobuf decoder.
 *
 * Accepted, as the reference collector does:
 * - lowerCamelCase keys and the original snake_case proto names; unknown keys are ignored; `null` means
 *   "not set";
 * - trace/span ids as hex in any letter case (the output is lowercase);
 * - 64-bit integers (`intValue`, `timeUnixNano`, …) as decimal strings or as JSON numbers; 32-bit integers
 *   as numbers or decimal strings;
 * - enums (`kind`, `status.code`) as integers or by name (`SPAN_KIND_SERVER`, also just `SERVER`,
 *   any letter case);
 * - `bytesValue` as standard or URL-safe base64; `doubleValue` as a number or `"NaN"`/`"Infinity"`/
 *   `"-Infinity"`/a numeric string.
 *
 * Precision: JSON.parse turns every number into a double, which would silently round an int64 sent as a
 * bare JSON number past 2^53 (e.g. `"timeUnixNano": 1700000000123456789`). Such integers (16+ digits,
 * outside strings) are quoted before parsing so they are read exactly; the check is one regex test and
 * costs nothing for payloads that send int64 as strings, as the spec says to.
 *
 * Errors are PipelineError 'invalid' naming the path, e.g.
 * `invalid OTLP/JSON: resourceSpans[0].scopeSpans[0].spans[3].startTimeUnixNano: expected integer string`.
 */
export function decodeTraceRequestJson(text: string | Uint8Array): TraceRequest {
  let source = typeof text === 'string' ? text : textDecoder.decode(text);
  if (source.charCodeAt(0) === 0xfeff) source = source.slice(1);
  let root: unknown;
  try {
    root = JSON.parse(BARE_LONG_INTEGER.test(source) ? quoteLongIntegers(source) : source);
  } catch (err) {
    throw invalidPayload(`invalid OTLP/JSON: ${err instanceof Error ? err.message : String(err)}`, err);
  }
  try {
    return readRequest(root);
  } catch (err) {
    if (err instanceof PipelineError) throw err;
    if (err instanceof DecodeError) {
      const where = err.location;
      throw invalidPayload(`invalid OTLP/JSON: ${where === '' ? '' : `${where}: `}${err.reason}`, err);
    }
    throw invalidPayload(`invalid OTLP/JSON: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}

type JsonObject = Record<string, unknown>;

const textDecoder = new TextDecoder('utf-8');
/** A JSON number of 16+ integer digits in value position, i.e. possibly beyond 2^53. */
const BARE_LONG_INTEGER = /[:,[]\s*-?\d{16}/;
const HEX_LOWER = /^[0-9a-f]*$/;
const HEX_ANY = /^[0-9a-fA-F]*$/;
const UNSIGNED = /^\d+$/;
const SIGNED = /^-?\d+$/;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const ZERO_SPAN_ID = '0'.repeat(16);
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

const SPAN_KINDS: Record<string, number> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};
const STATUS_CODES: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };

/**
 * Wraps in quotes every integer literal with 16+ digits that is outside a string, so JSON.parse keeps
 * it exact (as a string, which every integer field accepts). Linear; strings are skipped with indexOf.
 */
export function quoteLongIntegers(text: string): string {
  const n = text.length;
  let out = '';
  let last = 0;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      let from = i + 1;
      for (;;) {
        const q = text.indexOf('"', from);
        if (q < 0) return text; // unterminated string: let JSON.parse report it
        let backslashes = 0;
        for (let b = q - 1; b >= from && text.charCodeAt(b) === 92; b--) backslashes++;
        from = q + 1;
        if ((backslashes & 1) === 0) break;
      }
      i = from;
    } else if (c === 45 /* - */ || (c >= 48 && c <= 57)) {
      const start = i;
      i++;
      while (i < n && isDigit(text.charCodeAt(i))) i++;
      const next = text.charCodeAt(i);
      if (next === 46 /* . */ || next === 101 /* e */ || next === 69 /* E */) {
        // A fractional/exponent number stays a number: skip the rest of it.
        while (i < n && isNumberChar(text.charCodeAt(i))) i++;
        continue;
      }
      const digits = i - start - (c === 45 ? 1 : 0);
      if (digits >= 16) {
        out += `${text.slice(last, start)}"${text.slice(start, i)}"`;
        last = i;
      }
    } else {
      i++;
    }
  }
  return last === 0 ? text : out + text.slice(last);
}

const isDigit = (c: number) => c >= 48 && c <= 57;
const isNumberChar = (c: number) => isDigit(c) || c === 43 || c === 45 || c === 46 || c === 101 || c === 69;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A DecodeError located at `field` (the last path segment). */
function fail(field: string, reason: string): DecodeError {
  const err = new DecodeError(reason);
  err.path.push(field);
  return err;
}

function readRequest(root: unknown): TraceRequest {
  if (!isObject(root)) throw new DecodeError('expected a JSON object at the top level');
  const resourceSpans: ResourceSpans[] = [];
  for (const key in root) {
    if (key === 'resourceSpans' || key === 'resource_spans') {
      const list = array(root[key], 'resourceSpans');
      for (let i = 0; i < list.length; i++) {
        try {
          resourceSpans.push(readResourceSpans(list[i]));
        } catch (err) {
          throw atPath(err, `resourceSpans[${i}]`);
        }
      }
    }
  }
  return { resourceSpans };
}

function readResourceSpans(v: unknown): ResourceSpans {
  const o = object(v);
  const rs: ResourceSpans = {
    resource: { attributes: [], droppedAttributesCount: 0 },
    scopeSpans: [],
    schemaUrl: '',
  };
  for (const key in o) {
    const value = o[key];
    switch (key) {
      case 'resource':
        if (value != null) rs.resource = within('resource', readResource, value);
        break;
      case 'scopeSpans':
      case 'scope_spans': {
        const list = array(value, 'scopeSpans');
        for (let i = 0; i < list.length; i++) {
          try {
            rs.scopeSpans.push(readScopeSpans(list[i]));
          } catch (err) {
            throw atPath(err, `scopeSpans[${i}]`);
          }
        }
        break;
      }
      case 'schemaUrl':
      case 'schema_url':
        rs.schemaUrl = string(value, 'schemaUrl');
        break;
    }
  }
  return rs;
}

function readResource(v: unknown): Resource {
  const o = object(v);
  const resource: Resource = { attributes: [], droppedAttributesCount: 0 };
  for (const key in o) {
    const value = o[key];
    switch (key) {
      case 'attributes':
        resource.attributes = keyValues(value, 'attributes', 1);
        break;
      case 'droppedAttributesCount':
      case 'dropped_attributes_count':
        resource.droppedAttributesCount = uint32(value, 'droppedAttributesCount');
        break;
    }
  }
  return resource;
}

function readScopeSpans(v: unknown): ScopeSpans {
  const o = object(v);
  const ss: ScopeSpans = {
    scope: { name: '', version: '', attributes: [], droppedAttributesCount: 0 },
    spans: [],
    schemaUrl: '',
  };
  for (const key in o) {
    const value = o[key];
    switch (key) {
      case 'scope':
        if (value != null) ss.scope = within('scope', readScope, value);
        break;
      case 'spans': {
        const list = array(value, 'spans');
        for (let i = 0; i < list.length; i++) {
          try {
            ss.spans.push(readSpan(list[i]));
          } catch (err) {
            throw atPath(err, `spans[${i}]`);
          }
        }
        break;
      }
      case 'schemaUrl':
      case 'schema_url':
        ss.schemaUrl = string(value, 'schemaUrl');
        break;
    }
  }
  return ss;
}

function readScope(v: unknown): InstrumentationScope {
  const o = object(v);
  const scope: InstrumentationScope = { name: '', version: '', attributes: [], droppedAttributesCount: 0 };
  for (const key in o) {
    const value = o[key];
    switch (key) {
      case 'name':
        scope.name = string(value, 'name');
        break;
      case 'version':
        scope.version = string(value, 'version');
        break;
      case 'attributes':
        scope.attributes = keyValues(value, 'attributes', 1);
        break;
      case 'droppedAttributesCount':
      case 'dropped_attributes_count':
        scope.droppedAttributesCount = uint32(value, 'droppedAttributesCount');
        break;
    }
  }
  return scope;
}

function readSpan(v: unknown): Span {
  const o = object(v);
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
  for (const key in o) {
    const value = o[key];
    switch (key) {
      case 'traceId':
      case 'trace_id':
        span.traceId = id(value, 'traceId', 16);
        break;
      case 'spanId':
      case 'span_id':
        span.spanId = id(value, 'spanId', 8);
        break;
      case 'traceState':
      case 'trace_state':
        span.traceState = string(value, 'traceState');
        break;
      case 'parentSpanId':
      case 'parent_span_id':
        span.parentSpanId = id(value, 'parentSpanId', 8);
        break;
      case 'flags':
        span.flags = uint32(value, 'flags');
        break;
      case 'name':
        span.name = string(value, 'name');
        break;
      case 'kind':
        span.kind = enumValue(value, 'kind', SPAN_KINDS, 'SPAN_KIND_');
        break;
      case 'startTimeUnixNano':
      case 'start_time_unix_nano':
        span.startTimeUnixNano = fixed64(value, 'startTimeUnixNano');
        break;
      case 'endTimeUnixNano':
      case 'end_time_unix_nano':
        span.endTimeUnixNano = fixed64(value, 'endTimeUnixNano');
        break;
      case 'attributes':
        span.attributes = keyValues(value, 'attributes', 1);
        break;
      case 'droppedAttributesCount':
      case 'dropped_attributes_count':
        span.droppedAttributesCount = uint32(value, 'droppedAttributesCount');
        break;
      case 'events': {
        const list = array(value, 'events');
        for (let i = 0; i < list.length; i++) {
          try {
            span.events.push(readEvent(list[i]));
          } catch (err) {
            throw atPath(err, `events[${i}]`);
          }
        }
        break;
      }
      case 'droppedEventsCount':
      case 'dropped_events_count':
        span.droppedEventsCount = uint32(value, 'droppedEventsCount');
        break;
      case 'links': {
        const list = array(value, 'links');
        for (let i = 0; i < list.length; i++) {
          try {
            span.links.push(readLink(list[i]));
          } catch (err) {
            throw atPath(err, `links[${i}]`);
          }
        }
        break;
      }
      case 'droppedLinksCount':
      case 'dropped_links_count':
        span.droppedLinksCount = uint32(value, 'droppedLinksCount');
        break;
      case 'status':
        if (value != null) span.status = within('status', readStatus, value);
        break;
    }
  }
  if (span.parentSpanId === ZERO_SPAN_ID) span.parentSpanId = '';
  return span;
}

function readEvent(v: unknown): SpanEvent {
  const o = object(v);
  const event: SpanEvent = { timeUnixNano: 0n, name: '', attributes: [], droppedAttributesCount: 0 };
  for (const key in o) {
    const value = o[key];
    switch (key) {
      case 'timeUnixNano':
      case 'time_unix_nano':
        event.timeUnixNano = fixed64(value, 'timeUnixNano');
        break;
      case 'name':
        event.name = string(value, 'name');
        break;
      case 'attributes':
        event.attributes = keyValues(value, 'attributes', 1);
        break;
      case 'droppedAttributesCount':
      case 'dropped_attributes_count':
        event.droppedAttributesCount = uint32(value, 'droppedAttributesCount');
        break;
    }
  }
  return event;
}

function readLink(v: unknown): SpanLink {
  const o = object(v);
  const link: SpanLink = { traceId: '', spanId: '', traceState: '', attributes: [], droppedAttributesCount: 0, flags: 0 };
  for (const key in o) {
    const value = o[key];
    switch (key) {
      case 'traceId':
      case 'trace_id':
        link.traceId = id(value, 'traceId', 16);
        break;
      case 'spanId':
      case 'span_id':
        link.spanId = id(value, 'spanId', 8);
        break;
      case 'traceState':
      case 'trace_state':
        link.traceState = string(value, 'traceState');
        break;
      case 'attributes':
        link.attributes = keyValues(value, 'attributes', 1);
        break;
      case 'droppedAttributesCount':
      case 'dropped_attributes_count':
        link.droppedAttributesCount = uint32(value, 'droppedAttributesCount');
        break;
      case 'flags':
        link.flags = uint32(value, 'flags');
        break;
    }
  }
  return link;
}

function readStatus(v: unknown): SpanStatus {
  const o = object(v);
  const status: SpanStatus = { code: 0, message: '' };
  for (const key in o) {
    const value = o[key];
    switch (key) {
      case 'code':
        status.code = enumValue(value, 'code', STATUS_CODES, 'STATUS_CODE_');
        break;
      case 'message':
        status.message = string(value, 'message');
        break;
    }
  }
  return status;
}

function keyValues(v: unknown, field: string, depth: number): KeyValue[] {
  const list = array(v, field);
  const out: KeyValue[] = new Array<KeyValue>(list.length);
  for (let i = 0; i < list.length; i++) {
    try {
      out[i] = readKeyValue(list[i], depth);
    } catch (err) {
      throw atPath(err, `${field}[${i}]`);
    }
  }
  return out;
}

function readKeyValue(v: unknown, depth: number): KeyValue {
  const o = object(v);
  let key = '';
  let value: AnyValue = null;
  for (const k in o) {
    if (k === 'key') key = string(o[k], 'key');
    else if (k === 'value') value = within('value', readAnyValue, o[k], depth);
  }
  return { key, value };
}

function readAnyValue(v: unknown, depth: number): AnyValue {
  if (depth > MAX_ANY_VALUE_DEPTH) throw new DecodeError(`AnyValue nested deeper than ${MAX_ANY_VALUE_DEPTH} levels`);
  if (v == null) return null;
  if (!isObject(v)) throw new DecodeError(`expected an AnyValue object, got ${describe(v)}`);
  let result: AnyValue = null;
  for (const key in v) {
    const value = v[key];
    if (value == null) continue;
    switch (key) {
      case 'stringValue':
      case 'string_value':
        result = string(value, 'stringValue');
        break;
      case 'boolValue':
      case 'bool_value':
        if (typeof value !== 'boolean') throw fail('boolValue', `expected boolean, got ${describe(value)}`);
        result = value;
        break;
      case 'intValue':
      case 'int_value':
        result = int64(value, 'intValue');
        break;
      case 'doubleValue':
      case 'double_value':
        result = double(value, 'doubleValue');
        break;
      case 'bytesValue':
      case 'bytes_value':
        result = base64(value, 'bytesValue');
        break;
      case 'arrayValue':
      case 'array_value': {
        const values = array(object(value, 'arrayValue').values, 'arrayValue.values');
        const out: AnyValue[] = new Array<AnyValue>(values.length);
        for (let i = 0; i < values.length; i++) {
          try {
            out[i] = readAnyValue(values[i], depth + 1);
          } catch (err) {
            throw atPath(err, `arrayValue.values[${i}]`);
          }
        }
        result = out;
        break;
      }
      case 'kvlistValue':
      case 'kvlist_value':
        result = new KeyValueList(keyValues(object(value, 'kvlistValue').values, 'kvlistValue.values', depth + 1));
        break;
    }
  }
  return result;
}

/** Calls `read(value, …)`, prefixing `field` to the path of any error. */
function within<T, A extends unknown[]>(field: string, read: (v: unknown, ...rest: A) => T, value: unknown, ...rest: A): T {
  try {
    return read(value, ...rest);
  } catch (err) {
    throw atPath(err, field);
  }
}

function object(v: unknown, field?: string): JsonObject {
  if (isObject(v)) return v;
  const reason = `expected object, got ${describe(v)}`;
  throw field === undefined ? new DecodeError(reason) : fail(field, reason);
}

function array(v: unknown, field: string): unknown[] {
  if (v == null) return [];
  if (Array.isArray(v)) return v;
  throw fail(field, `expected array, got ${describe(v)}`);
}

function string(v: unknown, field: string): string {
  if (typeof v === 'string') return v;
  if (v == null) return '';
  throw fail(field, `expected string, got ${describe(v)}`);
}

/** A hex id of `size` bytes, lowercased; '' when absent or empty. */
function id(v: unknown, field: string, size: number): string {
  if (v == null || v === '') return '';
  if (typeof v !== 'string') throw fail(field, `expected hex string, got ${describe(v)}`);
  let hex = v;
  if (!HEX_LOWER.test(hex)) {
    if (!HEX_ANY.test(hex)) throw fail(field, `expected ${size * 2} hex characters, got ${JSON.stringify(truncate(v))}`);
    hex = hex.toLowerCase();
  }
  if (hex.length !== size * 2) throw fail(field, `expected ${size * 2} hex characters (${size} bytes), got ${hex.length}`);
  return hex;
}

function uint32(v: unknown, field: string): number {
  if (v == null) return 0;
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= 0 && v <= 0xffffffff) return v;
  } else if (typeof v === 'string' && UNSIGNED.test(v)) {
    const n = Number(v);
    if (n <= 0xffffffff) return n;
  }
  throw fail(field, `expected unsigned 32-bit integer, got ${describe(v)}`);
}

/** An enum: an int32, or its name (with or without the `prefix`, any letter case). */
function enumValue(v: unknown, field: string, names: Record<string, number>, prefix: string): number {
  if (v == null) return 0;
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff) return v;
  } else if (typeof v === 'string') {
    const upper = v.toUpperCase();
    const known = names[upper] ?? names[prefix + upper];
    if (known !== undefined) return known;
    if (SIGNED.test(v)) {
      const n = Number(v);
      if (n >= -0x80000000 && n <= 0x7fffffff) return n;
    }
  }
  throw fail(field, `expected ${prefix}* name or integer, got ${describe(v)}`);
}

/** A fixed64 (timestamps): decimal string or integer number, 0 ≤ v < 2^64. */
function fixed64(v: unknown, field: string): bigint {
  if (v == null) return 0n;
  if (typeof v === 'string') {
    if (UNSIGNED.test(v)) {
      const n = BigInt(v);
      if (n <= UINT64_MAX) return n;
    }
  } else if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= 0 && v < 2 ** 64) return BigInt(v);
  }
  throw fail(field, `expected integer string, got ${describe(v)}`);
}

/**
 * An int64: decimal string or integer number; a number when |v| <= 2^53 - 1, else a bigint.
 * An integer beyond the int64 range is kept as a double (a number) rather than refused: the
 * OpenTelemetry JS JSON serializer writes every integral JS number as `intValue`, including 2^64 or
 * 1.7976931348623157e308, which its protobuf serializer sends as `double_value` — this keeps both
 * encodings of the same span equal instead of failing the whole request for one attribute.
 */
function int64(v: unknown, field: string): number | bigint {
  if (typeof v === 'number') {
    if (Number.isSafeInteger(v)) return v;
    if (Number.isInteger(v)) return v >= -(2 ** 63) && v < 2 ** 63 ? BigInt(v) : v;
  } else if (typeof v === 'string' && SIGNED.test(v)) {
    if (v.length <= 15) return Number(v);
    const n = BigInt(v);
    if (n < INT64_MIN || n > INT64_MAX) return Number(v);
    return n >= -9007199254740991n && n <= 9007199254740991n ? Number(n) : n;
  }
  throw fail(field, `expected 64-bit integer string, got ${describe(v)}`);
}

function double(v: unknown, field: string): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string') {
    if (v === 'NaN') return NaN;
    if (v === 'Infinity') return Infinity;
    if (v === '-Infinity') return -Infinity;
    const n = Number(v);
    if (v.trim() !== '' && !Number.isNaN(n)) return n;
  }
  throw fail(field, `expected number, got ${describe(v)}`);
}

function base64(v: unknown, field: string): Uint8Array {
  if (typeof v !== 'string' || !BASE64.test(v)) throw fail(field, `expected base64 string, got ${describe(v)}`);
  return new Uint8Array(Buffer.from(v, 'base64'));
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'string') return `string ${JSON.stringify(truncate(v))}`;
  if (typeof v === 'number' || typeof v === 'boolean') return `${typeof v} ${String(v)}`;
  return typeof v;
}

function truncate(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
