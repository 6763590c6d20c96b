/**
 * Just enough of a SQL lexer to split a simple-query string into statements, recognise the statements the
 * endpoint answers itself (SET, SHOW, BEGIN, COPY … TO STDOUT, …), and make the few PostgreSQL-isms
 * clients send understandable to DuckDB (see `rewriteForDuckDb`). It follows PostgreSQL's lexical rules
 * for strings (standard_conforming_strings on, E'' with backslash escapes, $tag$ dollar quoting),
 * quoted identifiers and nested block comments. Whatever it decides, DuckDB parses each statement again
 * and must find exactly one: a disagreement is refused, never run.
 */

export type TokenKind = 'ident' | 'quoted' | 'string' | 'number' | 'param' | 'op';

export interface Token {
  kind: TokenKind;
  /** Source text of the token. */
  text: string;
  start: number;
  end: number;
  /** Lower-case name for `ident`, unquoted name for `quoted`, value for `string`. */
  value: string;
}

export class SqlLexError extends Error {
  override name = 'SqlLexError';
}

const IDENT_START = /[A-Za-z_\u0080-\uffff]/;
const IDENT_PART = /[A-Za-z0-9_$\u0080-\uffff]/;

/** Tokens of `sql` (comments and whitespace dropped). Unterminated strings and comments throw. */
export function tokenize(sql: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = sql.length;
  const push = (kind: TokenKind, start: number, end: number, value: string) => tokens.push({ kind, text: sql.slice(start, end), start, end, value });
  while (i < n) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f' || c === '\v') {
      i++;
    } else if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? n : end + 1;
    } else if (c === '/' && next === '*') {
      let depth = 1;
      i += 2;
      while (depth > 0) {
        if (i >= n) throw new SqlLexError('unterminated /* comment');
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth++;
          i += 2;
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth--;
          i += 2;
        } else i++;
      }
    } else if (c === "'" || ((c === 'E' || c === 'e') && next === "'")) {
      const start = i;
      const escapes = c !== "'";
      i += escapes ? 2 : 1;
      let value = '';
      for (;;) {
        if (i >= n) throw new SqlLexError('unterminated quoted string');
        const ch = sql[i]!;
        if (escapes && ch === '\\') {
          value += sql[i + 1] ?? '';
          i += 2;
        } else if (ch === "'") {
          if (sql[i + 1] === "'") {
            value += "'";
            i += 2;
          } else {
            i++;
            break;
          }
        } else {
          value += ch;
          i++;
        }
      }
      push('string', start, i, value);
    } else if (c === '"') {
      const start = i;
      i++;
      let value = '';
      for (;;) {
        if (i >= n) throw new SqlLexError('unterminated quoted identifier');
        if (sql[i] === '"') {
          if (sql[i + 1] === '"') {
            value += '"';
            i += 2;
          } else {
            i++;
            break;
          }
        } else value += sql[i++];
      }
      push('quoted', start, i, value);
    } else if (c === '$' && next !== undefined && /[0-9]/.test(next)) {
      const start = i;
      i++;
      while (i < n && /[0-9]/.test(sql[i]!)) i++;
      push('param', start, i, sql.slice(start + 1, i));
    } else if (c === '$') {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 66));
      if (!tag) {
        push('op', i, i + 1, c);
        i++;
        continue;
      }
      const start = i;
      const close = sql.indexOf(tag[0], i + tag[0].length);
      if (close < 0) throw new SqlLexError('unterminated dollar-quoted string');
      i = close + tag[0].length;
      push('string', start, i, sql.slice(start + tag[0].length, close));
    } else if (/[0-9]/.test(c) || (c === '.' && next !== undefined && /[0-9]/.test(next))) {
      const m = /^(?:0[xX][0-9a-fA-F_]+|[0-9_]*\.?[0-9_]+(?:[eE][+-]?[0-9]+)?\.?)/.exec(sql.slice(i))!;
      push('number', i, i + m[0].length, m[0]);
      i += m[0].length;
    } else if (IDENT_START.test(c)) {
      const start = i;
      while (i < n && IDENT_PART.test(sql[i]!)) i++;
      push('ident', start, i, sql.slice(start, i).toLowerCase());
    } else {
      const two = sql.slice(i, i + 2);
      const len = ['::', '<=', '>=', '<>', '!=', '||', '->', '=>', ':='].includes(two) ? 2 : 1;
      push('op', i, i + len, sql.slice(i, i + len));
      i += len;
    }
  }
  return tokens;
}

/** One statement of a simple-query string. */
export interface Statement {
  /** Its text, from its first token to its last (comments between them included). */
  text: string;
  tokens: Token[];
}

/** Splits at top-level semicolons; statements with no tokens (only comments/whitespace) are dropped. */
export function splitStatements(sql: string): Statement[] {
  const tokens = tokenize(sql);
  const out: Statement[] = [];
  let current: Token[] = [];
  let depth = 0;
  const flush = () => {
    if (current.length > 0) out.push(statementOf(sql, current));
    current = [];
  };
  for (const t of tokens) {
    if (t.kind === 'op' && t.text === ';' && depth === 0) {
      flush();
      continue;
    }
    if (t.kind === 'op' && t.text === '(') depth++;
    if (t.kind === 'op' && t.text === ')') depth = Math.max(0, depth - 1);
    current.push(t);
  }
  flush();
  return out;
}

function statementOf(sql: string, tokens: Token[]): Statement {
  const first = tokens[0]!;
  const last = tokens[tokens.length - 1]!;
  const base = first.start;
  return {
    text: sql.slice(base, last.end),
    tokens: tokens.map((t) => ({ ...t, start: t.start - base, end: t.end - base })),
  };
}

/** `'...'` with quotes doubled. */
export const quoteLiteral = (s: string): string => `'${s.replaceAll("'", "''")}'`;

// ---- rewriting for DuckDB ------------------------------------------------------------------------------

/** What the rewrite needs to know about the session. */
export interface RewriteContext {
  /** PostgreSQL parameters `current_setting('name')` answers from (lower-case names). */
  settings: ReadonlyMap<string, string>;
  /** Whether DuckDB has a table function or table macro of this (lower-case) name. */
  isTableFunction(name: string): boolean;
}

/**
 * PostgreSQL's one-column set-returning functions: `f(...) AS x` names their column `x`, as PostgreSQL does
 * (DuckDB would name it after the function). DuckDB's own `range` keeps DuckDB's naming (`a.range`).
 */
const SINGLE_COLUMN_TABLE_FUNCTIONS = new Set(['generate_series', 'unnest', 'generate_subscripts']);

/** Words that end a FROM item's alias position (an alias cannot be one of them). */
const NOT_AN_ALIAS = new Set([
  'where', 'group', 'having', 'window', 'qualify', 'order', 'limit', 'offset', 'union', 'intersect', 'except', 'fetch',
  'for', 'join', 'inner', 'left', 'right', 'full', 'cross', 'natural', 'positional', 'asof', 'anti', 'semi', 'on', 'using',
  'lateral', 'returning', 'select', 'tablesample', 'using', 'pivot', 'unpivot', 'with',
]);
const CLAUSE_AFTER_FROM = new Set([
  'where', 'group', 'having', 'window', 'qualify', 'order', 'limit', 'offset', 'union', 'intersect', 'except', 'fetch',
  'for', 'returning', 'select', 'values',
]);

interface Replacement {
  start: number;
  end: number;
  text: string;
}

/**
 * Makes a statement written for PostgreSQL runnable by DuckDB where the two differ in ways clients rely on:
 * - `pg_catalog.f(...)` calls `f(...)` (DuckDB would read `pg_catalog.f()` as a method call on a column);
 * - `current_setting('name')` of a PostgreSQL parameter is that parameter's value (DuckDB only knows its own);
 * - `numeric` / `decimal` without precision is DECIMAL(38,12), not DuckDB's DECIMAL(18,3), which would round
 *   `'0.000000000001'::numeric` to 0 (PostgreSQL's unbounded numeric keeps it; 12 decimals keep pico-dollars);
 * - a function in FROM with a table alias follows PostgreSQL: a scalar function yields one row whose column is
 *   named by the alias (`FROM string_to_array(x, ',') s`), and a one-column table function's column takes the
 *   alias too (`FROM generate_series(1, 3) AS i` then `s[i]`).
 * Tokens inside strings, quoted identifiers and comments are never touched.
 */
export function rewriteForDuckDb(statement: Statement, context: RewriteContext): string {
  const { text, tokens } = statement;
  const replacements: Replacement[] = [];
  const isOp = (t: Token | undefined, op: string) => t !== undefined && t.kind === 'op' && t.text === op;
  const isWord = (t: Token | undefined, w: string) => t !== undefined && t.kind === 'ident' && t.value === w;

  /** Index of the `)` closing the `(` at `open`, or -1. */
  const closing = (open: number): number => {
    let depth = 0;
    for (let k = open; k < tokens.length; k++) {
      if (isOp(tokens[k], '(')) depth++;
      else if (isOp(tokens[k], ')') && --depth === 0) return k;
    }
    return -1;
  };

  // Frames per parenthesis depth: whether a SELECT was seen at that level (so FROM starts a clause there,
  // unlike `extract(epoch FROM x)`), and whether we are inside its FROM clause.
  const frames: { select: boolean; inFrom: boolean; cast: boolean }[] = [{ select: false, inFrom: false, cast: false }];
  let itemStart = false;
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k]!;
    const frame = frames[frames.length - 1]!;

    if (t.kind === 'ident' && t.value === 'pg_catalog' && isOp(tokens[k + 1], '.') && tokens[k + 2]?.kind === 'ident' && isOp(tokens[k + 3], '(')) {
      replacements.push({ start: t.start, end: tokens[k + 1]!.end, text: '' });
    }

    if (isWord(t, 'current_setting') && isOp(tokens[k + 1], '(') && tokens[k + 2]?.kind === 'string' && !isOp(tokens[k - 1], '.')) {
      const close = closing(k + 1);
      const value = context.settings.get(tokens[k + 2]!.value.toLowerCase());
      // current_setting('x') or current_setting('x', missing_ok)
      if (value !== undefined && close > 0 && (close === k + 3 || isOp(tokens[k + 3], ','))) {
        replacements.push({ start: t.start, end: tokens[close]!.end, text: quoteLiteral(value) });
        k = close;
        continue;
      }
    }

    if (itemStart && frame.inFrom && t.kind === 'ident' && !NOT_AN_ALIAS.has(t.value) && isOp(tokens[k + 1], '(') && !isOp(tokens[k - 1], '.')) {
      itemStart = false;
      const close = closing(k + 1);
      if (close > 0) {
        let aliasAt = close + 1;
        if (isWord(tokens[aliasAt], 'as')) aliasAt++;
        const alias = tokens[aliasAt];
        const hasAlias = alias !== undefined && (alias.kind === 'quoted' || (alias.kind === 'ident' && !NOT_AN_ALIAS.has(alias.value)));
        const hasColumnList = hasAlias && isOp(tokens[aliasAt + 1], '(');
        const name = t.value;
        // Edits around the call, never over it: what is inside (e.g. current_setting()) is rewritten too.
        if (!context.isTableFunction(name) && !hasColumnList) {
          const aliasText = hasAlias ? alias.text : `"${name}"`;
          replacements.push({ start: t.start, end: t.start, text: '(SELECT ' });
          replacements.push({ start: tokens[close]!.end, end: hasAlias ? alias.end : tokens[close]!.end, text: ` AS ${aliasText}) AS ${aliasText}` });
        } else if (SINGLE_COLUMN_TABLE_FUNCTIONS.has(name) && hasAlias && !hasColumnList) {
          replacements.push({ start: alias.end, end: alias.end, text: `(${alias.text})` });
        }
      }
    }

    if (
      t.kind === 'ident' &&
      (t.value === 'numeric' || t.value === 'decimal') &&
      !isOp(tokens[k + 1], '(') &&
      (isOp(tokens[k - 1], '::') || (isWord(tokens[k - 1], 'as') && frame.cast))
    ) {
      replacements.push({ start: t.start, end: t.end, text: 'DECIMAL(38,12)' });
      continue;
    }

    if (isOp(t, '(')) {
      const opener = tokens[k - 1];
      frames.push({ select: false, inFrom: false, cast: isWord(opener, 'cast') || isWord(opener, 'try_cast') });
      itemStart = false;
      continue;
    }
    if (isOp(t, ')')) {
      if (frames.length > 1) frames.pop();
      itemStart = false;
      continue;
    }
    if (t.kind === 'ident') {
      if (t.value === 'select') {
        frame.select = true;
        frame.inFrom = false;
      }
      if (t.value === 'from' && (frame.select || k === 0 || isOp(tokens[k - 1], '('))) {
        frame.inFrom = true;
        itemStart = true;
        continue;
      }
      if (frame.inFrom && (t.value === 'join' || t.value === 'lateral')) {
        itemStart = true;
        continue;
      }
      if (frame.inFrom && CLAUSE_AFTER_FROM.has(t.value)) frame.inFrom = false;
    }
    if (frame.inFrom && isOp(t, ',')) {
      itemStart = true;
      continue;
    }
    itemStart = false;
  }

  if (replacements.length === 0) return text;
  replacements.sort((a, b) => a.start - b.start);
  let out = '';
  let at = 0;
  for (const r of replacements) {
    out += text.slice(at, r.start) + r.text;
    at = r.end;
  }
  return out + text.slice(at);
}
