import { KeyValueList, type AnyValue } from '../../core/otlp.js';

/**
 * Lenient reading of attribute values that carry a nested structure: an OpenInference `metadata` JSON
 * string, a Langfuse `langfuse.observation.usage_details` JSON string, an AI SDK
 * `ai.response.providerMetadata` JSON string, LiteLLM's nested metadata sent as Python `repr` text
 * (`{'team_id': 'search', 'tags': None}`), or a real OTLP `kvlist_value`.
 *
 * Only ever called for spans already detected as GenAI calls, so the parse cost never touches the
 * non-GenAI hot path.
 */

/** A parsed structure: plain JSON-like data. */
export type Structured = null | boolean | number | string | Structured[] | { [key: string]: Structured };

/** Upper bound on text we try to parse: metadata blobs are small; a huge one is not worth the time. */
const MAX_STRUCTURED_TEXT = 64 * 1024;

/**
 * The structure inside an attribute value, or undefined when there is none. Strings are parsed as JSON
 * first, then as a Python literal (single quotes, `True`/`False`/`None`, tuples as lists). Anything that
 * does not parse is undefined — never an error: a malformed blob must not cost the call its row.
 */
export function structuredValue(value: AnyValue | undefined): Structured | undefined {
  if (value === undefined || value === null) return undefined;
  if (value instanceof KeyValueList) return fromAnyValue(value);
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (text.length < 2 || text.length > MAX_STRUCTURED_TEXT) return undefined;
  const first = text.charCodeAt(0);
  if (first !== 0x7b /* { */ && first !== 0x5b /* [ */) return undefined;
  try {
    return JSON.parse(text) as Structured;
  } catch {
    return parsePythonLiteral(text);
  }
}

/** Walks `path` (object keys) into a structure; undefined when any step is missing. */
export function structuredAt(root: Structured | undefined, path: readonly string[]): Structured | undefined {
  let node: Structured | undefined = root;
  for (const key of path) {
    if (node === null || node === undefined || typeof node !== 'object' || Array.isArray(node)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(node, key)) return undefined;
    node = node[key];
  }
  return node;
}

function fromAnyValue(value: AnyValue): Structured | undefined {
  if (value === null) return null;
  if (value instanceof KeyValueList) {
    const out: { [key: string]: Structured } = {};
    for (const { key, value: inner } of value.values) {
      const converted = fromAnyValue(inner);
      if (converted !== undefined && !Object.prototype.hasOwnProperty.call(out, key)) out[key] = converted;
    }
    return out;
  }
  if (Array.isArray(value)) return value.map((v) => fromAnyValue(v) ?? null);
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'number':
      return value;
    case 'bigint':
      return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : String(value);
    default:
      return undefined; // bytes
  }
}

/**
 * A small recursive-descent parser for the subset of Python literals that `str(dict)` produces: dicts,
 * lists, tuples, strings in single or double quotes with backslash escapes, ints, floats, True, False,
 * None. Anything else (e.g. `datetime.datetime(...)`, `<object at 0x...>`) makes the whole parse fail.
 */
export function parsePythonLiteral(text: string): Structured | undefined {
  let pos = 0;
  const fail = (): never => {
    throw new SyntaxError(`python literal: unexpected input at ${pos}`);
  };
  const skipSpace = () => {
    while (pos < text.length && /\s/.test(text[pos]!)) pos++;
  };
  const parseString = (): string => {
    const quote = text[pos];
    pos++;
    let out = '';
    while (pos < text.length) {
      const ch = text[pos]!;
      if (ch === quote) {
        pos++;
        return out;
      }
      if (ch === '\\') {
        const next = text[pos + 1];
        pos += 2;
        switch (next) {
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'r': out += '\r'; break;
          case 'x': {
            out += String.fromCharCode(parseInt(text.slice(pos, pos + 2), 16));
            pos += 2;
            break;
          }
          case 'u': {
            out += String.fromCharCode(parseInt(text.slice(pos, pos + 4), 16));
            pos += 4;
            break;
          }
          case undefined: fail(); break;
          default: out += next;
        }
        continue;
      }
      out += ch;
      pos++;
    }
    return fail();
  };
  const parseSequence = (close: string): Structured[] => {
    pos++;
    const items: Structured[] = [];
    skipSpace();
    while (text[pos] !== close) {
      items.push(parseValue());
      skipSpace();
      if (text[pos] === ',') {
        pos++;
        skipSpace();
      } else if (text[pos] !== close) fail();
    }
    pos++;
    return items;
  };
  const parseDict = (): { [key: string]: Structured } => {
    pos++;
    const out: { [key: string]: Structured } = {};
    skipSpace();
    while (text[pos] !== '}') {
      const key = parseValue();
      skipSpace();
      if (text[pos] !== ':') fail();
      pos++;
      const value = parseValue();
      const name = typeof key === 'string' ? key : JSON.stringify(key);
      if (!Object.prototype.hasOwnProperty.call(out, name)) out[name] = value;
      skipSpace();
      if (text[pos] === ',') {
        pos++;
        skipSpace();
      } else if (text[pos] !== '}') fail();
    }
    pos++;
    return out;
  };
  const parseValue = (): Structured => {
    skipSpace();
    const ch = text[pos];
    if (ch === '{') return parseDict();
    if (ch === '[') return parseSequence(']');
    if (ch === '(') return parseSequence(')');
    if (ch === "'" || ch === '"') return parseString();
    const rest = text.slice(pos);
    for (const [word, value] of [['True', true], ['False', false], ['None', null]] as const) {
      if (rest.startsWith(word)) {
        pos += word.length;
        return value;
      }
    }
    const number = /^-?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?/.exec(rest);
    if (number === null) return fail();
    pos += number[0].length;
    return Number(number[0]);
  };
  try {
    const value = parseValue();
    skipSpace();
    return pos === text.length ? value : undefined;
  } catch {
    return undefined;
  }
}

/** A structured leaf as AnyValue for the ordinary text/count parsers (objects and arrays are not leaves). */
export function leafValue(node: Structured | undefined): AnyValue | undefined {
  if (node === undefined || node === null) return undefined;
  if (typeof node === 'object') return undefined;
  return node;
}
