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
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigFileError(
      file,
      doc.errors.map((e) => `${file}:${lineCounter.linePos(e.pos[0]).line}: invalid YAML: ${e.message.split('\n')[0]}`),
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
