import { readFile } from 'node:fs/promises';
import { isMap, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { ConfigFileError } from '../../core/config-file-error.js';

/**
 * Reads a YAML (or JSON, which is YAML) file and validates it against a zod schema. Every problem is
 * reported with the file, line and dotted key path, e.g.
 * `genai-ledger.yaml:12: receivers.otlp.http.port: expected a number, got "4318x"`.
 */
export async function loadYamlFile<S extends z.ZodType>(file: string, schema: S): Promise<z.output<S>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigFileError(file, [`cannot read file: ${(err as Error).message}`]);
  }
  return parseYamlText(text, file, schema);
}

export function parseYamlText<S extends z.ZodType>(text: string, file: string, schema: S): z.output<S> {
  // JSON is YAML, but YAML is laxer (a trailing comma in a flow mapping is fine there): a .json file must be JSON.
  if (/\.json$/i.test(file) && text.trim() !== '') {
    const error = jsonSyntaxError(text);
    if (error !== null) {
      const { line, col } = lineAndColumn(text, error.offset);
      throw new ConfigFileError(file, [`${file}:${line}:${col}: invalid JSON: ${error.message}`]);
    }
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigFileError(
      file,
      doc.errors.map((e) => {
        const { line, col } = lineAndColumn(text, e.pos[0]);
        return `${file}:${line}:${col}: invalid YAML: ${e.message.split('\n')[0]}`;
      }),
    );
  }
  const data: unknown = doc.toJS() ?? {};
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const problems = result.error.issues.flatMap((issue) => {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => {
        const line = lineOfKey(doc, lineCounter, path, key);
        return `${file}:${line}: ${[...path, key].join('.')}: unknown key (check the spelling; see docs/configuration.md)`;
      });
    }
    const line = lineOfPath(doc, lineCounter, path);
    return [`${file}:${line}: ${path.length > 0 ? path.join('.') : '(top level)'}: ${issue.message}`];
  });
  throw new ConfigFileError(file, problems);
}

/** Line of the value at `path`, falling back to the nearest ancestor that exists in the file. */
function lineOfPath(doc: Document, lineCounter: LineCounter, path: (string | number)[]): number {
  for (let depth = path.length; depth >= 0; depth--) {
    const node = doc.getIn(path.slice(0, depth), true) as { range?: [number, number, number] } | undefined;
    if (node?.range !== undefined) return lineCounter.linePos(node.range[0]).line;
  }
  return 1;
}

function lineOfKey(doc: Document, lineCounter: LineCounter, path: (string | number)[], key: string): number {
  const parent = path.length === 0 ? doc.contents : doc.getIn(path, true);
  if (isMap(parent)) {
    for (const pair of parent.items) {
      const k = pair.key as { value?: unknown; range?: [number, number, number] } | null;
      if (k?.value === key && k.range !== undefined) return lineCounter.linePos(k.range[0]).line;
    }
  }
  return lineOfPath(doc, lineCounter, path);
}

/**
 * 1-based line and column of a character offset. An offset at or past the end of the text's last
 * non-blank character (the parser reached the end of the file looking for a closing quote or bracket) is
 * reported at that last character, so the line named is one the file has.
 */
function lineAndColumn(text: string, offset: number): { line: number; col: number } {
  const lastChar = text.trimEnd().length - 1;
  const at = Math.max(0, Math.min(offset, lastChar));
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < at; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, col: at - lineStart + 1 };
}

/**
 * The first JSON syntax error in `text` (RFC 8259; a leading byte order mark is allowed), with its offset, or
 * null. Written out rather than taken from JSON.parse, whose messages carry a position only for some errors.
 */
export function jsonSyntaxError(text: string): { offset: number; message: string } | null {
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const fail = (message: string, at = i): never => {
    throw new JsonSyntaxError(at, message);
  };
  const describe = (at: number) => (at >= text.length ? 'the end of the file' : `'${text[at]}'`);
  const skipSpace = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const string = () => {
    const start = i++;
    for (;;) {
      if (i >= text.length) fail('unterminated string', start);
      const c = text.charCodeAt(i);
      if (c === 0x22) return void i++;
      if (c < 0x20) fail('control character in a string (escape it, e.g. \\n)');
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail('invalid \\u escape');
          i += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else fail(`invalid escape \\${e ?? ''}`);
      } else i++;
    }
  };
  const value = (): void => {
    skipSpace();
    const c = text[i];
    if (c === '{') return container('}', true);
    if (c === '[') return container(']', false);
    if (c === '"') return string();
    const literal = /^(?:true|false|null|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)/.exec(text.slice(i, i + 400));
    if (literal === null || /[\w.+-]/.test(text[i + literal[0].length] ?? '')) {
      fail(c === undefined ? 'unexpected end of the file' : `unexpected ${describe(i)}; expected a value`);
    }
    i += literal![0].length;
  };
  const container = (close: string, object: boolean): void => {
    i++;
    skipSpace();
    if (text[i] === close) return void i++;
    for (;;) {
      if (object) {
        skipSpace();
        if (text[i] !== '"') fail(`unexpected ${describe(i)}; expected a "quoted" key`);
        string();
        skipSpace();
        if (text[i] !== ':') fail(`unexpected ${describe(i)}; expected ':' after the key`);
        i++;
      }
      value();
      skipSpace();
      if (text[i] === close) return void i++;
      if (text[i] !== ',') fail(`unexpected ${describe(i)}; expected ',' or '${close}'`);
      const comma = i++;
      skipSpace();
      if (text[i] === close) fail(`trailing comma before '${close}' (JSON allows none; remove it)`, comma);
    }
  };
  try {
    value();
    skipSpace();
    if (i < text.length) fail(`unexpected ${describe(i)} after the end of the JSON value`);
    return null;
  } catch (err) {
    if (err instanceof JsonSyntaxError) return { offset: err.offset, message: err.message };
    throw err;
  }
}

class JsonSyntaxError extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}
