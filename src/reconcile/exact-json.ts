/**
 * A JSON reader for bills: numbers are kept as the exact decimal text written in the file (`0.8958740000000000`
 * stays that string), never turned into a binary float, and every object remembers where it sits in the source
 * so a line we cannot read can be kept verbatim. JSON.parse can do neither on Node 20 (no source-text access in
 * revivers). Strict RFC 8259 syntax; a BOM is skipped.
 */

export class JsonNumber {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export type ExactJson = null | boolean | string | JsonNumber | ExactJson[] | ExactObject;

/** An object with its source span (`start` inclusive, `end` exclusive, in UTF-16 code units of the source). */
export interface ExactObject {
  readonly kind: 'object';
  readonly fields: ReadonlyMap<string, ExactJson>;
  readonly start: number;
  readonly end: number;
}

export class JsonSyntaxError extends SyntaxError {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(`${message} at offset ${offset}`);
    this.name = 'JsonSyntaxError';
  }
}

const MAX_DEPTH = 200;

export function parseExactJson(source: string): ExactJson {
  const start = source.charCodeAt(0) === 0xfeff ? 1 : 0;
  const parser = new Parser(source, start);
  parser.skipWhitespace();
  const value = parser.value(0);
  parser.skipWhitespace();
  if (parser.pos !== source.length) throw new JsonSyntaxError('unexpected text after the JSON value', parser.pos);
  return value;
}

export const isObject = (v: ExactJson | undefined): v is ExactObject =>
  typeof v === 'object' && v !== null && !(v instanceof JsonNumber) && !Array.isArray(v);

/** A field of an object, or undefined. */
export function field(obj: ExactJson | undefined, key: string): ExactJson | undefined {
  return isObject(obj) ? obj.fields.get(key) : undefined;
}

/** A string field; numbers and booleans as their text; null/absent → null. */
export function text(v: ExactJson | undefined): string | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string') return v;
  if (v instanceof JsonNumber) return v.text;
  if (typeof v === 'boolean') return String(v);
  return null;
}

class Parser {
  constructor(
    private readonly s: string,
    public pos: number,
  ) {}

  skipWhitespace(): void {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.pos++;
      else break;
    }
  }

  value(depth: number): ExactJson {
    if (depth > MAX_DEPTH) throw new JsonSyntaxError('JSON nested too deeply', this.pos);
    const c = this.s[this.pos];
    switch (c) {
      case '{':
        return this.object(depth);
      case '[':
        return this.array(depth);
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default:
        if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
        throw new JsonSyntaxError(c === undefined ? 'unexpected end of JSON' : `unexpected character ${JSON.stringify(c)}`, this.pos);
    }
  }

  private literal<T>(word: string, value: T): T {
    if (!this.s.startsWith(word, this.pos)) throw new JsonSyntaxError(`expected ${word}`, this.pos);
    this.pos += word.length;
    return value;
  }

  private number(): JsonNumber {
    const m = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    m.lastIndex = this.pos;
    const found = m.exec(this.s);
    if (found === null) throw new JsonSyntaxError('invalid number', this.pos);
    this.pos += found[0].length;
    return new JsonNumber(found[0]);
  }

  private string(): string {
    const s = this.s;
    let i = this.pos + 1;
    let out = '';
    let chunk = i;
    for (;;) {
      if (i >= s.length) throw new JsonSyntaxError('unterminated string', this.pos);
      const c = s.charCodeAt(i);
      if (c === 0x22) break;
      if (c < 0x20) throw new JsonSyntaxError('control character in string', i);
      if (c === 0x5c) {
        out += s.slice(chunk, i);
        const e = s[i + 1];
        const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e !== undefined && e in simple) {
          out += simple[e];
          i += 2;
        } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(s.slice(i + 2, i + 6))) {
          out += String.fromCharCode(parseInt(s.slice(i + 2, i + 6), 16));
          i += 6;
        } else {
          throw new JsonSyntaxError('invalid escape in string', i);
        }
        chunk = i;
        continue;
      }
      i++;
    }
    out += s.slice(chunk, i);
    this.pos = i + 1;
    return out;
  }

  private array(depth: number): ExactJson[] {
    this.pos++;
    const items: ExactJson[] = [];
    this.skipWhitespace();
    if (this.s[this.pos] === ']') {
      this.pos++;
      return items;
    }
    for (;;) {
      this.skipWhitespace();
      items.push(this.value(depth + 1));
      this.skipWhitespace();
      const c = this.s[this.pos];
      if (c === ',') this.pos++;
      else if (c === ']') {
        this.pos++;
        return items;
      } else throw new JsonSyntaxError('expected , or ] in array', this.pos);
    }
  }

  private object(depth: number): ExactObject {
    const start = this.pos;
    this.pos++;
    const fields = new Map<string, ExactJson>();
    this.skipWhitespace();
    if (this.s[this.pos] === '}') {
      this.pos++;
      return { kind: 'object', fields, start, end: this.pos };
    }
    for (;;) {
      this.skipWhitespace();
      if (this.s[this.pos] !== '"') throw new JsonSyntaxError('expected a string key', this.pos);
      const key = this.string();
      this.skipWhitespace();
      if (this.s[this.pos] !== ':') throw new JsonSyntaxError('expected :', this.pos);
      this.pos++;
      this.skipWhitespace();
      fields.set(key, this.value(depth + 1));
      this.skipWhitespace();
      const c = this.s[this.pos];
      if (c === ',') this.pos++;
      else if (c === '}') {
        this.pos++;
        return { kind: 'object', fields, start, end: this.pos };
      } else throw new JsonSyntaxError('expected , or } in object', this.pos);
    }
  }
}

/** Plain JavaScript form (numbers as their decimal text), e.g. to render a record as canonical JSON. */
export function toPlain(v: ExactJson): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (v instanceof JsonNumber) return v.text;
  if (Array.isArray(v)) return v.map(toPlain);
  return Object.fromEntries([...v.fields].map(([k, x]) => [k, toPlain(x)]));
}
