import { SqlError, SqlState } from './sql-error.js';
import type { Statement, Token } from './sql-text.js';

/**
 * The statements the endpoint answers itself, because they are about the PostgreSQL session rather than
 * the data: the SETs and SHOWs clients send around a connection, transaction control, DISCARD/DEALLOCATE,
 * and `COPY (query) TO STDOUT` (psql's `\copy`). Everything else goes to DuckDB through the read-only guard.
 */

/** Session parameters reported at startup (ParameterStatus) and by SHOW / current_setting(). */
export function initialSettings(serverVersion: string, user: string, applicationName: string, statementTimeoutMs: number): Map<string, string> {
  return new Map([
    ['server_version', serverVersion],
    ['server_version_num', serverVersionNum(serverVersion)],
    ['server_encoding', 'UTF8'],
    ['client_encoding', 'UTF8'],
    ['datestyle', 'ISO, MDY'],
    ['timezone', 'UTC'],
    ['intervalstyle', 'postgres'],
    ['integer_datetimes', 'on'],
    ['standard_conforming_strings', 'on'],
    ['is_superuser', 'off'],
    ['session_authorization', user],
    ['application_name', applicationName],
    ['default_transaction_read_only', 'on'],
    ['transaction_read_only', 'on'],
    ['transaction_isolation', 'read committed'],
    ['default_transaction_isolation', 'read committed'],
    ['search_path', 'main'],
    ['extra_float_digits', '1'],
    ['statement_timeout', String(statementTimeoutMs)],
    ['bytea_output', 'hex'],
    ['max_identifier_length', '63'],
    ['lc_collate', 'C'],
    ['lc_ctype', 'C'],
    ['lc_messages', 'C'],
    ['client_min_messages', 'notice'],
    ['idle_in_transaction_session_timeout', '0'],
    ['lock_timeout', '0'],
  ]);
}

/** The parameters sent as ParameterStatus after authentication (what libpq, JDBC and pgx read). */
export const REPORTED_PARAMETERS: readonly [key: string, name: string][] = [
  ['server_version', 'server_version'],
  ['server_encoding', 'server_encoding'],
  ['client_encoding', 'client_encoding'],
  ['datestyle', 'DateStyle'],
  ['timezone', 'TimeZone'],
  ['intervalstyle', 'IntervalStyle'],
  ['integer_datetimes', 'integer_datetimes'],
  ['standard_conforming_strings', 'standard_conforming_strings'],
  ['is_superuser', 'is_superuser'],
  ['session_authorization', 'session_authorization'],
  ['application_name', 'application_name'],
  ['default_transaction_read_only', 'default_transaction_read_only'],
];

function serverVersionNum(version: string): string {
  const [major = 15, minor = 0] = (/^(\d+)(?:\.(\d+))?/.exec(version) ?? []).slice(1).map(Number);
  return String(major * 10000 + minor);
}

/** What an intercepted statement does. */
export type Intercepted =
  | { kind: 'command'; tag: string; transaction?: 'begin' | 'commit' | 'rollback'; notice?: string; changed?: [name: string, value: string] }
  | { kind: 'show'; column: string; rows: string[][]; columns?: string[] }
  | { kind: 'copy'; query: string; format: 'text' | 'csv'; header: boolean; delimiter: string; null: string; quote: string };

/** Settings a client may change; the function checks (and normalizes) the value or throws. */
const SETTABLE: Record<string, (value: string, limits: { statementTimeoutMs: number }) => string> = {
  application_name: (v) => v.slice(0, 63),
  extra_float_digits: (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < -15 || n > 3) throw invalidValue('extra_float_digits', v);
    return String(n);
  },
  datestyle: (v) => {
    if (!/\biso\b/i.test(v) && !/^\s*(mdy|dmy|ymd|us|european|noneuropean)\s*$/i.test(v)) {
      throw new SqlError(SqlState.featureNotSupported, `DateStyle "${v}" is not supported: dates are sent in ISO format`);
    }
    return 'ISO, MDY';
  },
  client_encoding: (v) => {
    if (!/^(utf-?8|unicode)$/i.test(v.trim())) throw new SqlError(SqlState.featureNotSupported, `client_encoding "${v}" is not supported: only UTF8`);
    return 'UTF8';
  },
  timezone: (v) => {
    if (!/^(utc|etc\/utc|gmt|etc\/gmt|z|zulu|uct|universal|\+?0+(:00)?|[+-]00(:00)?|local|default)$/i.test(v.trim())) {
      throw new SqlError(SqlState.featureNotSupported, `TimeZone "${v}" is not supported: timestamps are sent in UTC`, {
        hint: `convert in the query instead, e.g. "timestamp" AT TIME ZONE '${v}'`,
      });
    }
    return 'UTC';
  },
  search_path: (v) => v,
  statement_timeout: (v, limits) => {
    const ms = durationMs(v);
    if (ms === null) throw invalidValue('statement_timeout', v);
    // 0 (no timeout) and anything above the server's limit mean the server's limit.
    return String(ms === 0 ? limits.statementTimeoutMs : Math.min(ms, limits.statementTimeoutMs));
  },
  intervalstyle: (v) => {
    if (!/^postgres$/i.test(v.trim())) throw new SqlError(SqlState.featureNotSupported, `IntervalStyle "${v}" is not supported`);
    return 'postgres';
  },
  bytea_output: (v) => {
    if (!/^hex$/i.test(v.trim())) throw new SqlError(SqlState.featureNotSupported, `bytea_output "${v}" is not supported`);
    return 'hex';
  },
  standard_conforming_strings: (v) => {
    if (!/^(on|true|1|yes)$/i.test(v.trim())) throw new SqlError(SqlState.featureNotSupported, 'standard_conforming_strings must stay on');
    return 'on';
  },
  default_transaction_read_only: (v) => {
    if (!/^(on|true|1|yes)$/i.test(v.trim())) throw readOnly('read-write transactions');
    return 'on';
  },
  default_transaction_isolation: (v) => v.toLowerCase(),
  transaction_isolation: (v) => v.toLowerCase(),
  lc_messages: (v) => v,
  lc_monetary: (v) => v,
  lc_numeric: (v) => v,
  lc_time: (v) => v,
  client_min_messages: (v) => v.toLowerCase(),
  idle_in_transaction_session_timeout: (v) => v,
  lock_timeout: (v) => v,
  idle_session_timeout: (v) => v,
  jit: (v) => v,
  geqo: (v) => v,
  row_security: (v) => v,
};

const invalidValue = (name: string, v: string) => new SqlError(SqlState.invalidParameterValue, `invalid value for parameter "${name}": "${v}"`);
const readOnly = (what: string) =>
  new SqlError(SqlState.readOnlySqlTransaction, `cannot run ${what}: the genai-ledger SQL endpoint is read-only`);

/** `5000`, `'5s'`, `'2min'`, `'1h'` → milliseconds (PostgreSQL's unit is ms). */
function durationMs(v: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|min|h|d)?\s*$/i.exec(v);
  if (!m) return null;
  const factor = { ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 'ms').toLowerCase() as 'ms'] ?? 1;
  return Math.round(Number(m[1]) * factor);
}

const word = (t: Token | undefined): string => (t?.kind === 'ident' ? t.value : '');
const words = (tokens: readonly Token[]): string[] => tokens.map((t) => (t.kind === 'ident' ? t.value : t.text.toLowerCase()));

/** The value of `SET x TO <value>`: a list's items joined with ", " (as SHOW prints it), signs kept on numbers. */
function settingValue(tokens: readonly Token[]): string {
  const items: string[][] = [[]];
  for (const t of tokens) {
    if (t.kind === 'op' && t.text === ',') items.push([]);
    else items[items.length - 1]!.push(t.kind === 'string' || t.kind === 'quoted' ? t.value : t.text);
  }
  return items.map((parts) => parts.join(' ').replace(/^([+-]) /, '$1')).join(', ');
}

/**
 * What the endpoint does with `statement` itself, or null when it is for DuckDB. Throws a SqlError for a
 * session statement it refuses (e.g. `SET memory_limit = ...`).
 */
export function intercept(
  statement: Statement,
  settings: ReadonlyMap<string, string>,
  limits: { statementTimeoutMs: number },
  inTransaction: boolean,
): Intercepted | null {
  const { tokens } = statement;
  const w = words(tokens);
  const first = w[0] ?? '';
  switch (first) {
    case 'set':
      return interceptSet(tokens.slice(1), limits);
    case 'reset': {
      const name = w.slice(1).join(' ');
      if (name === 'all' || name === 'session authorization' || name in SETTABLE) {
        return { kind: 'command', tag: 'RESET', ...(name in SETTABLE ? { changed: [name, ''] as [string, string] } : {}) };
      }
      throw notSettable(name);
    }
    case 'show': {
      const name = w.slice(1).join(' ');
      if (name === 'all') return { kind: 'show', column: 'name', columns: ['name', 'setting'], rows: [...settings].map(([k, v]) => [k, v]) };
      if (name === 'transaction isolation level') return { kind: 'show', column: 'transaction_isolation', rows: [[settings.get('transaction_isolation')!]] };
      if (name === 'time zone') return { kind: 'show', column: 'TimeZone', rows: [[settings.get('timezone')!]] };
      const value = settings.get(name);
      // Anything else (SHOW TABLES, SHOW <table>) is DuckDB's.
      return value === undefined ? null : { kind: 'show', column: tokens[1]?.text ?? name, rows: [[value]] };
    }
    case 'begin':
    case 'start': {
      if (first === 'start' && w[1] !== 'transaction') return null;
      if (w.includes('write') && w[w.indexOf('write') - 1] === 'read') throw readOnly('READ WRITE transactions');
      return {
        kind: 'command',
        tag: 'BEGIN',
        transaction: 'begin',
        ...(inTransaction ? { notice: 'there is already a transaction in progress' } : {}),
      };
    }
    case 'commit':
    case 'end':
      if (w[1] === 'prepared') throw new SqlError(SqlState.featureNotSupported, 'two-phase commit is not supported');
      return { kind: 'command', tag: 'COMMIT', transaction: 'commit', ...(inTransaction ? {} : { notice: 'there is no transaction in progress' }) };
    case 'rollback':
    case 'abort':
      if (w.includes('to')) return { kind: 'command', tag: 'ROLLBACK' };
      if (w[1] === 'prepared') throw new SqlError(SqlState.featureNotSupported, 'two-phase commit is not supported');
      return { kind: 'command', tag: 'ROLLBACK', transaction: 'rollback', ...(inTransaction ? {} : { notice: 'there is no transaction in progress' }) };
    case 'savepoint':
      return { kind: 'command', tag: 'SAVEPOINT' };
    case 'release':
      return { kind: 'command', tag: 'RELEASE' };
    case 'discard':
      return { kind: 'command', tag: `DISCARD ${(w[1] ?? 'all').toUpperCase()}` };
    case 'deallocate':
      return { kind: 'command', tag: w.includes('all') ? 'DEALLOCATE ALL' : 'DEALLOCATE' };
    case 'unlisten':
      return { kind: 'command', tag: 'UNLISTEN' };
    case 'listen':
    case 'notify':
      throw new SqlError(SqlState.featureNotSupported, `${first.toUpperCase()} is not supported by the genai-ledger SQL endpoint`);
    case 'declare':
    case 'fetch':
    case 'move':
      throw new SqlError(SqlState.featureNotSupported, 'server-side cursors are not supported', {
        hint: 'use a client-side cursor (the default in psycopg2, pandas and JDBC without fetchSize)',
      });
    case 'close':
      return { kind: 'command', tag: 'CLOSE CURSOR' };
    case 'copy':
      return interceptCopy(statement);
    default:
      return null;
  }
}

const notSettable = (name: string) =>
  new SqlError(SqlState.insufficientPrivilege, `cannot change "${name}": the genai-ledger SQL endpoint is read-only`, {
    hint: `client settings accepted: ${Object.keys(SETTABLE).join(', ')}`,
  });

function interceptSet(rest: readonly Token[], limits: { statementTimeoutMs: number }): Intercepted {
  let tokens = rest;
  if (word(tokens[0]) === 'session' && word(tokens[1]) === 'characteristics') {
    if (words(tokens).join(' ').includes('read write')) throw readOnly('READ WRITE transactions');
    return { kind: 'command', tag: 'SET' };
  }
  if (word(tokens[0]) === 'session' || word(tokens[0]) === 'local') tokens = tokens.slice(1);
  if (word(tokens[0]) === 'transaction') {
    if (words(tokens).join(' ').includes('read write')) throw readOnly('READ WRITE transactions');
    return { kind: 'command', tag: 'SET' };
  }
  if (word(tokens[0]) === 'time' && word(tokens[1]) === 'zone') {
    return { kind: 'command', tag: 'SET', changed: ['timezone', SETTABLE.timezone!(settingValue(tokens.slice(2)), limits)] };
  }
  if (word(tokens[0]) === 'names') {
    return { kind: 'command', tag: 'SET', changed: ['client_encoding', SETTABLE.client_encoding!(settingValue(tokens.slice(1)), limits)] };
  }
  // SET [GLOBAL] name {TO | =} value — DuckDB's own SET forms (GLOBAL, VARIABLE) are not client settings.
  const nameToken = tokens[0];
  const name = nameToken?.kind === 'ident' || nameToken?.kind === 'quoted' ? nameToken.value.toLowerCase() : '';
  const check = SETTABLE[name];
  if (check === undefined) throw notSettable(name === '' ? words(tokens).join(' ') : name);
  const sep = tokens[1];
  if (!(word(sep) === 'to' || (sep?.kind === 'op' && sep.text === '='))) {
    throw new SqlError(SqlState.syntaxError, `syntax error in SET ${name}: expected TO or =`);
  }
  const valueTokens = tokens.slice(2);
  const raw = settingValue(valueTokens);
  if (valueTokens.length === 0) throw new SqlError(SqlState.syntaxError, `SET ${name} needs a value`);
  if (word(valueTokens[0]) === 'default' && valueTokens.length === 1) return { kind: 'command', tag: 'SET', changed: [name, ''] };
  return { kind: 'command', tag: 'SET', changed: [name, check(raw, limits)] };
}

/**
 * `COPY (query) TO STDOUT [WITH] (FORMAT csv, HEADER, DELIMITER ',', NULL '', QUOTE '"')`, the older
 * `WITH CSV HEADER DELIMITER ','` form, and `COPY table [(columns)] TO STDOUT`. COPY from a client
 * (FROM STDIN) writes, and COPY to or from a server file or program touches the file system: both refused.
 */
function interceptCopy(statement: Statement): Intercepted {
  const { tokens, text } = statement;
  let k = 1;
  let query: string;
  if (tokens[k]?.kind === 'op' && tokens[k]!.text === '(') {
    let depth = 0;
    let close = -1;
    for (let j = k; j < tokens.length; j++) {
      const t = tokens[j]!;
      if (t.kind === 'op' && t.text === '(') depth++;
      if (t.kind === 'op' && t.text === ')' && --depth === 0) {
        close = j;
        break;
      }
    }
    if (close < 0) throw new SqlError(SqlState.syntaxError, 'syntax error in COPY: unbalanced parentheses');
    query = text.slice(tokens[k + 1]!.start, tokens[close - 1]!.end);
    k = close + 1;
  } else {
    // table name, possibly qualified, then an optional column list
    const nameStart = tokens[k];
    if (nameStart === undefined) throw new SqlError(SqlState.syntaxError, 'syntax error in COPY');
    let nameEnd = k;
    while (tokens[nameEnd + 1]?.kind === 'op' && tokens[nameEnd + 1]!.text === '.' && tokens[nameEnd + 2] !== undefined) nameEnd += 2;
    const table = text.slice(nameStart.start, tokens[nameEnd]!.end);
    k = nameEnd + 1;
    let columns = '*';
    if (tokens[k]?.kind === 'op' && tokens[k]!.text === '(') {
      let close = k;
      while (close < tokens.length && !(tokens[close]!.kind === 'op' && tokens[close]!.text === ')')) close++;
      columns = text.slice(tokens[k + 1]!.start, tokens[close - 1]!.end);
      k = close + 1;
    }
    query = `SELECT ${columns} FROM ${table}`;
  }
  const direction = word(tokens[k]);
  const target = tokens[k + 1];
  if (direction === 'from') {
    throw readOnly('COPY FROM');
  }
  if (direction !== 'to') throw new SqlError(SqlState.syntaxError, 'syntax error in COPY: expected TO STDOUT');
  if (!(target?.kind === 'ident' && target.value === 'stdout')) {
    throw new SqlError(SqlState.insufficientPrivilege, 'COPY to a file or program is not allowed: the SQL endpoint cannot touch the file system', {
      hint: "use COPY (...) TO STDOUT, or psql's \\copy, to receive the rows in the client",
    });
  }
  const options = { format: 'text' as 'text' | 'csv', header: false, delimiter: '', null: '', quote: '"' };
  let nullSet = false;
  const rest = tokens.slice(k + 2);
  const flat = rest.filter((t) => !(t.kind === 'op' && (t.text === '(' || t.text === ')' || t.text === ',')));
  for (let j = 0; j < flat.length; j++) {
    const opt = word(flat[j]);
    const next = flat[j + 1];
    const nextValue = next?.kind === 'string' || next?.kind === 'ident' ? next.value : undefined;
    switch (opt) {
      case 'with':
      case 'binary':
        if (opt === 'binary') throw new SqlError(SqlState.featureNotSupported, 'COPY in binary format is not supported; use text or csv');
        break;
      case 'csv':
        options.format = 'csv';
        break;
      case 'format':
        if (nextValue === 'csv' || nextValue === 'text') options.format = nextValue;
        else throw new SqlError(SqlState.featureNotSupported, `COPY format "${nextValue ?? ''}" is not supported; use text or csv`);
        j++;
        break;
      case 'header':
        if (nextValue !== undefined && /^(true|on|1|false|off|0|match)$/i.test(nextValue)) {
          options.header = /^(true|on|1)$/i.test(nextValue);
          j++;
        } else options.header = true;
        break;
      case 'delimiter':
        if (next?.kind !== 'string' || next.value.length !== 1) throw new SqlError(SqlState.syntaxError, 'COPY delimiter must be a single character');
        options.delimiter = next.value;
        j++;
        break;
      case 'null':
        if (next?.kind !== 'string') throw new SqlError(SqlState.syntaxError, 'COPY NULL needs a string');
        options.null = next.value;
        nullSet = true;
        j++;
        break;
      case 'quote':
        if (next?.kind !== 'string' || next.value.length !== 1) throw new SqlError(SqlState.syntaxError, 'COPY quote must be a single character');
        options.quote = next.value;
        j++;
        break;
      case 'encoding':
      case 'force_quote':
      case 'escape':
        j++;
        break;
      default:
        if (opt === '' && flat[j]?.kind !== 'ident') break;
        throw new SqlError(SqlState.syntaxError, `COPY option "${flat[j]?.text ?? ''}" is not supported`);
    }
  }
  if (options.delimiter === '') options.delimiter = options.format === 'csv' ? ',' : '\t';
  if (!nullSet) options.null = options.format === 'csv' ? '' : '\\N';
  return { kind: 'copy', query, ...options };
}

/** One COPY row (without the line end), from the values' PostgreSQL text forms (null = SQL NULL). */
export function copyRow(values: readonly (string | null)[], options: { format: 'text' | 'csv'; delimiter: string; null: string; quote: string }): string {
  if (options.format === 'text') {
    return values
      .map((v) => (v === null ? options.null : v.replace(/[\\\n\r\t]/g, (c) => ({ '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' })[c]!).split(options.delimiter).join(`\\${options.delimiter}`)))
      .join(options.delimiter);
  }
  const q = options.quote;
  return values
    .map((v) => {
      if (v === null) return options.null;
      const needs = v === options.null || v.includes(options.delimiter) || v.includes(q) || /[\r\n]/.test(v) || v === '\\.';
      return needs ? `${q}${v.split(q).join(q + q)}${q}` : v;
    })
    .join(options.delimiter);
}
