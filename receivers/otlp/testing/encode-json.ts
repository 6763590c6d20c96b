import { KeyValueList, type AnyValue, type KeyValue, type Span, type TraceRequest } from '../../../core/otlp.js';

/**
 * Encodes a TraceRequest as OTLP/JSON — the inverse of decodeTraceRequestJson, for tests and benchmarks.
 * Default output follows the spec (lowerCamelCase, int64 as strings, enums as integers, lowercase hex
 * ids, base64 bytes); the options produce the variants a lenient receiver must also accept.
 */
export interface JsonEncodeOptions {
  /** Use the proto field names (`start_time_unix_nano`) instead of lowerCamelCase. */
  snakeCase?: boolean;
  /** Write 64-bit integers as bare JSON numbers (exact digits, even beyond 2^53). */
  int64AsNumbers?: boolean;
  /** Write span kind and status code as enum names (`SPAN_KIND_CLIENT`). */
  enumNames?: boolean;
  /** Write ids in upper-case hex. */
  upperCaseIds?: boolean;
}

const SPAN_KIND_NAMES = ['SPAN_KIND_UNSPECIFIED', 'SPAN_KIND_INTERNAL', 'SPAN_KIND_SERVER', 'SPAN_KIND_CLIENT', 'SPAN_KIND_PRODUCER', 'SPAN_KIND_CONSUMER'];
const STATUS_NAMES = ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'];
const INT_MARK = '\u0001int:';

export function encodeTraceRequestJson(req: TraceRequest, options: JsonEncodeOptions = {}): string {
  const name = options.snakeCase ? (camel: string) => camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) : (camel: string) => camel;
  const int64 = (v: number | bigint): string => (options.int64AsNumbers ? `${INT_MARK}${v}` : String(v));
  const id = (hex: string) => (options.upperCaseIds ? hex.toUpperCase() : hex);
  const obj = (entries: [string, unknown][]): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of entries) out[name(k)] = v;
    return out;
  };
  const anyValue = (v: AnyValue): Record<string, unknown> => {
    if (v === null) return {};
    if (typeof v === 'string') return obj([['stringValue', v]]);
    if (typeof v === 'boolean') return obj([['boolValue', v]]);
    if (typeof v === 'bigint') return obj([['intValue', int64(v)]]);
    if (typeof v === 'number') {
      if (Number.isSafeInteger(v) && !Object.is(v, -0)) return obj([['intValue', int64(v)]]);
      return obj([['doubleValue', Number.isFinite(v) && !Object.is(v, -0) ? v : Object.is(v, -0) ? '-0' : String(v)]]);
    }
    if (v instanceof Uint8Array) return obj([['bytesValue', Buffer.from(v).toString('base64')]]);
    if (Array.isArray(v)) return obj([['arrayValue', { values: v.map(anyValue) }]]);
    if (v instanceof KeyValueList) return obj([['kvlistValue', { values: v.values.map(keyValue) }]]);
    throw new Error('unreachable');
  };
  const keyValue = (kv: KeyValue) => ({ key: kv.key, value: anyValue(kv.value) });
  const span = (s: Span) =>
    obj([
      ['traceId', id(s.traceId)],
      ['spanId', id(s.spanId)],
      ['traceState', s.traceState],
      ['parentSpanId', id(s.parentSpanId)],
      ['flags', s.flags],
      ['name', s.name],
      ['kind', options.enumNames && SPAN_KIND_NAMES[s.kind] !== undefined ? SPAN_KIND_NAMES[s.kind] : s.kind],
      ['startTimeUnixNano', int64(s.startTimeUnixNano)],
      ['endTimeUnixNano', int64(s.endTimeUnixNano)],
      ['attributes', s.attributes.map(keyValue)],
      ['droppedAttributesCount', s.droppedAttributesCount],
      [
        'events',
        s.events.map((e) =>
          obj([
            ['timeUnixNano', int64(e.timeUnixNano)],
            ['name', e.name],
            ['attributes', e.attributes.map(keyValue)],
            ['droppedAttributesCount', e.droppedAttributesCount],
          ]),
        ),
      ],
      ['droppedEventsCount', s.droppedEventsCount],
      [
        'links',
        s.links.map((l) =>
          obj([
            ['traceId', id(l.traceId)],
            ['spanId', id(l.spanId)],
            ['traceState', l.traceState],
            ['attributes', l.attributes.map(keyValue)],
            ['droppedAttributesCount', l.droppedAttributesCount],
            ['flags', l.flags],
          ]),
        ),
      ],
      ['droppedLinksCount', s.droppedLinksCount],
      [
        'status',
        obj([
          ['code', options.enumNames && STATUS_NAMES[s.status.code] !== undefined ? STATUS_NAMES[s.status.code] : s.status.code],
          ['message', s.status.message],
        ]),
      ],
    ]);
  const body = obj([
    [
      'resourceSpans',
      req.resourceSpans.map((rs) =>
        obj([
          ['resource', obj([['attributes', rs.resource.attributes.map(keyValue)], ['droppedAttributesCount', rs.resource.droppedAttributesCount]])],
          [
            'scopeSpans',
            rs.scopeSpans.map((ss) =>
              obj([
                [
                  'scope',
                  obj([
                    ['name', ss.scope.name],
                    ['version', ss.scope.version],
                    ['attributes', ss.scope.attributes.map(keyValue)],
                    ['droppedAttributesCount', ss.scope.droppedAttributesCount],
                  ]),
                ],
                ['spans', ss.spans.map(span)],
                ['schemaUrl', ss.schemaUrl],
              ]),
            ),
          ],
          ['schemaUrl', rs.schemaUrl],
        ]),
      ),
    ],
  ]);
  const text = JSON.stringify(body);
  return options.int64AsNumbers ? text.replace(/"\\u0001int:(-?\d+)"/g, '$1') : text;
}
