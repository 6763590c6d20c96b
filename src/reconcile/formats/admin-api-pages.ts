import { BillFormatError } from '../bill-line.js';
import { field, isObject, JsonSyntaxError, parseExactJson, type ExactJson, type ExactObject } from '../exact-json.js';

/**
 * The admin APIs of OpenAI and Anthropic answer with pages of time buckets:
 * `{"data": [{"start_time"|"starting_at": …, "results": [ … ]}, …], "has_more": …, "next_page": …}`.
 * A file may hold one page, a JSON array of pages, or one page per line (what `reconcile fetch --save` and
 * `curl` loops write).
 */
export interface Bucket {
  /** The bucket object (for its start time). */
  bucket: ExactObject;
  results: ExactJson[];
}

export function readPages(text: string): { source: string; buckets: Bucket[] } {
  const source = text.replace(/^\uFEFF/, '');
  let docs: ExactJson[];
  try {
    const doc = parseExactJson(source);
    docs = Array.isArray(doc) ? doc : [doc];
  } catch (err) {
    if (!(err instanceof JsonSyntaxError)) throw err;
    // One page per line?
    const lines = source.split('\n').filter((l) => l.trim() !== '');
    if (lines.length < 2) throw new BillFormatError(`not JSON: ${err.message}`);
    docs = [];
    let offset = 0;
    for (const line of source.split('\n')) {
      if (line.trim() !== '') {
        try {
          docs.push(shift(parseExactJson(line), offset));
        } catch (lineErr) {
          throw new BillFormatError(`not JSON: ${(lineErr as Error).message} (line starting at offset ${offset})`);
        }
      }
      offset += line.length + 1;
    }
  }
  const buckets: Bucket[] = [];
  for (const doc of docs) {
    const data = field(doc, 'data');
    if (!Array.isArray(data)) throw new BillFormatError('expected an admin API page: an object with a "data" array of time buckets');
    for (const bucket of data) {
      if (!isObject(bucket)) throw new BillFormatError('a "data" entry is not a time bucket object');
      const results = field(bucket, 'results');
      if (!Array.isArray(results)) throw new BillFormatError('a time bucket has no "results" array');
      buckets.push({ bucket, results });
    }
  }
  return { source, buckets };
}

/** Moves an object's source span by `offset` (a line parsed on its own) so slices of the whole file work. */
function shift(v: ExactJson, offset: number): ExactJson {
  if (Array.isArray(v)) return v.map((x) => shift(x, offset));
  if (!isObject(v)) return v;
  const fields = new Map<string, ExactJson>();
  for (const [k, x] of v.fields) fields.set(k, shift(x, offset));
  return { kind: 'object', fields, start: v.start + offset, end: v.end + offset };
}
