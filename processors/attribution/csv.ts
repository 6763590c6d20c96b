/**
 * A small RFC 4180 CSV reader for the FinOps mapping files (spreadsheet exports).
 *
 * - fields separated by `,`, records by LF, CRLF or a lone CR;
 * - quoted fields may contain commas, line breaks and doubled quotes (`""` → `"`);
 * - a leading UTF-8 BOM is dropped; a trailing line break does not make an extra record;
 * - blank lines, and rows whose fields are all empty (`,,,` — what spreadsheets export for empty rows),
 *   are skipped;
 * - lenient where spreadsheets are sloppy: spaces around a quoted field (`a, "b" ,c`) are allowed, and a
 *   quote inside an unquoted field is kept literally.
 * Field values are returned as written (no trimming): the caller decides what whitespace means.
 * Syntax errors are collected, not thrown, so that a file's errors can be reported all at once.
 */

export interface CsvRecord {
  /** 1-based physical line on which the record starts. */
  line: number;
  fields: string[];
}

export interface CsvIssue {
  /** 1-based physical line of the problem. */
  line: number;
  /** 0-based index of the field the problem is in. */
  fieldIndex: number;
  message: string;
}

export interface CsvParseResult {
  records: CsvRecord[];
  issues: CsvIssue[];
}

const QUOTE = 0x22; // "
const COMMA = 0x2c; // ,
const LF = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;

export function parseCsv(input: string): CsvParseResult {
  const text = input.charCodeAt(0) === 0xfeff ? input.slice(1) : input;
  const records: CsvRecord[] = [];
  const issues: CsvIssue[] = [];
  const n = text.length;

  let i = 0;
  let line = 1;
  let recordLine = 1;
  let fields: string[] = [];
  let anyQuoted = false;

  const endRecord = (): void => {
    const blank = !anyQuoted && fields.every((field) => field.trim() === '');
    if (!blank) records.push({ line: recordLine, fields });
    fields = [];
    anyQuoted = false;
  };

  /** Consumes a line break at `i` if there is one; returns whether it did. */
  const lineBreak = (): boolean => {
    const c = text.charCodeAt(i);
    if (c === LF) {
      i++;
    } else if (c === CR) {
      i += text.charCodeAt(i + 1) === LF ? 2 : 1;
    } else {
      return false;
    }
    line++;
    return true;
  };

  if (n === 0) return { records, issues };

  for (;;) {
    // At the start of a field.
    if (fields.length === 0) recordLine = line;
    let start = i;
    while (i < n && (text.charCodeAt(i) === SPACE || text.charCodeAt(i) === TAB)) i++;

    if (i < n && text.charCodeAt(i) === QUOTE) {
      // Quoted field.
      anyQuoted = true;
      const openLine = line;
      i++;
      let value = '';
      let chunk = i;
      let closed = false;
      while (i < n) {
        const c = text.charCodeAt(i);
        if (c === QUOTE) {
          if (text.charCodeAt(i + 1) === QUOTE) {
            value += text.slice(chunk, i + 1);
            i += 2;
            chunk = i;
            continue;
          }
          value += text.slice(chunk, i);
          i++;
          closed = true;
          break;
        }
        if (c === LF || (c === CR && text.charCodeAt(i + 1) !== LF)) line++;
        i++;
      }
      if (!closed) {
        issues.push({ line: openLine, fieldIndex: fields.length, message: 'unterminated quoted field (no closing ")' });
        fields.push(value + text.slice(chunk));
        endRecord();
        break;
      }
      // Only spaces may follow the closing quote before the delimiter.
      while (i < n && (text.charCodeAt(i) === SPACE || text.charCodeAt(i) === TAB)) i++;
      if (i < n && text.charCodeAt(i) !== COMMA && text.charCodeAt(i) !== LF && text.charCodeAt(i) !== CR) {
        issues.push({
          line,
          fieldIndex: fields.length,
          message: 'unexpected text after closing quote (quotes inside a quoted field must be doubled: "")',
        });
        // Recover: keep the rest of the field as text.
        start = i;
        while (i < n && text.charCodeAt(i) !== COMMA && text.charCodeAt(i) !== LF && text.charCodeAt(i) !== CR) i++;
        value += text.slice(start, i);
      }
      fields.push(value);
    } else {
      // Unquoted field: up to the next comma or line break.
      while (i < n) {
        const c = text.charCodeAt(i);
        if (c === COMMA || c === LF || c === CR) break;
        i++;
      }
      fields.push(text.slice(start, i));
    }

    if (i >= n) {
      endRecord();
      break;
    }
    if (text.charCodeAt(i) === COMMA) {
      i++;
      continue;
    }
    lineBreak();
    endRecord();
    if (i >= n) break;
  }
  return { records, issues };
}
