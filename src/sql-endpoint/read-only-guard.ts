import { SqlError, SqlState } from './sql-error.js';
import type { Statement } from './sql-text.js';

/**
 * Which statements reach DuckDB. The database itself is sealed first (external access off, no extension
 * loading, configuration locked: exporters/duckdb/read-only-query.ts's LOCKDOWN_SETTINGS) and every query
 * runs in a READ ONLY transaction, so writes and file access fail inside DuckDB anyway. This guard is the
 * layer in front, and it is what covers the server's database being writable by its own writer:
 *
 * 1. DuckDB's own parser must serialize the statement as a query (`json_serialize_sql`, which accepts
 *    SELECT-like statements only: SELECT, WITH, VALUES, FROM-first, TABLE, SHOW, DESCRIBE, SUMMARIZE, PIVOT
 *    with listed values); INSERT, CREATE, ATTACH, PRAGMA, CALL, SET, … are refused by kind, with the
 *    SQLSTATE a PostgreSQL client expects. EXPLAIN [ANALYZE] is allowed around such a query.
 * 2. Every table function in the query must be on a list of read-only ones: no `read_csv`, `glob`,
 *    `query()`, `checkpoint()`, `enable_logging()` (which would abort the process), …
 * 3. A few scalar functions are refused: sequences (they write) and `current_setting` of anything but the
 *    PostgreSQL parameters (rewritten before this check; DuckDB's settings include paths).
 * 4. The statement is then prepared, and DuckDB's statement type must be SELECT (or EXPLAIN).
 */

/** Table functions a query may use: generators, DuckDB's catalog, and read-only inspection. */
const ALLOWED_TABLE_FUNCTIONS = new Set([
  'range',
  'generate_series',
  'unnest',
  'generate_subscripts',
  'repeat',
  'repeat_row',
  'json_each',
  'json_tree',
  'histogram',
  'histogram_values',
  'pg_timezone_names',
  'icu_calendar_names',
  'duckdb_columns',
  'duckdb_constraints',
  'duckdb_databases',
  'duckdb_dependencies',
  'duckdb_functions',
  'duckdb_indexes',
  'duckdb_keywords',
  'duckdb_schemas',
  'duckdb_sequences',
  'duckdb_tables',
  'duckdb_types',
  'duckdb_views',
  'pragma_table_info',
  'pragma_show',
  'pragma_version',
  'pragma_platform',
  'pragma_database_size',
  'pragma_storage_info',
  'pragma_collations',
]);

/** Table functions that read files or URLs: refused as file-system access (42501), not as unknown. */
const FILE_FUNCTION = /^(read_|parquet_|sniff_csv|glob|iceberg_|delta_scan|sqlite_|postgres_|mysql_|json_execute_serialized_sql|query|query_table|arrow_scan)/;

/** Scalar functions that write or reach outside the ledger. */
const REFUSED_FUNCTIONS: ReadonlyMap<string, SqlError> = new Map([
  ['nextval', readOnly('nextval() writes a sequence')],
  ['setval', readOnly('setval() writes a sequence')],
  ['currval', readOnly('sequences are not available')],
  ['getenv', new SqlError(SqlState.insufficientPrivilege, 'getenv() is not available: the SQL endpoint cannot read the environment')],
  ['write_log', new SqlError(SqlState.insufficientPrivilege, 'write_log() is not available')],
  [
    'current_setting',
    new SqlError(SqlState.undefinedObject, 'unrecognized configuration parameter', {
      hint: 'current_setting() answers PostgreSQL parameters only (server_version, search_path, TimeZone, …)',
    }),
  ],
]);

function readOnly(what: string): SqlError {
  return new SqlError(SqlState.readOnlySqlTransaction, `${what}: the genai-ledger SQL endpoint is read-only`);
}

/** Statements refused by kind: their first words, the SQLSTATE and a reason. */
export function refusedKind(words: readonly string[]): SqlError {
  const first = words[0] ?? '';
  const both = `${first} ${words[1] ?? ''}`;
  const privilege = (msg: string, hint?: string) => new SqlError(SqlState.insufficientPrivilege, msg, hint === undefined ? {} : { hint });
  switch (first) {
    case 'insert':
    case 'update':
    case 'delete':
    case 'merge':
    case 'upsert':
    case 'truncate':
    case 'create':
    case 'drop':
    case 'alter':
    case 'comment':
    case 'grant':
    case 'revoke':
    case 'vacuum':
    case 'analyze':
    case 'checkpoint':
    case 'force':
      if (both === 'force install') return privilege('INSTALL is not allowed: the SQL endpoint cannot load extensions');
      if (both === 'force checkpoint') return readOnly('CHECKPOINT is not allowed');
      return readOnly(`${first.toUpperCase()} is not allowed`);
    case 'attach':
    case 'detach':
      return privilege(`${first.toUpperCase()} is not allowed: the SQL endpoint sees the ledger and nothing else`);
    case 'install':
    case 'load':
    case 'update_extensions':
      return privilege(`${first.toUpperCase()} is not allowed: the SQL endpoint cannot load extensions`);
    case 'export':
    case 'import':
    case 'copy':
      return privilege(`${first.toUpperCase()} is not allowed: the SQL endpoint cannot touch the file system`, 'use COPY (query) TO STDOUT');
    case 'pragma':
      return privilege('PRAGMA is not allowed', `for information pragmas use the table function, e.g. SELECT * FROM pragma_${words[1] ?? 'version'}()`);
    case 'call':
      return privilege('CALL is not allowed', `use SELECT * FROM ${words[1] ?? 'f'}(...) for read-only table functions`);
    case 'set':
    case 'reset':
    case 'use':
      return privilege(`${first.toUpperCase()} is not allowed: the SQL endpoint's settings are locked`);
    case 'prepare':
    case 'execute':
      return new SqlError(SqlState.featureNotSupported, 'SQL-level PREPARE/EXECUTE is not supported; use the extended query protocol (parameters $1, $2, …)');
    default:
      return new SqlError(SqlState.featureNotSupported, `${first.toUpperCase() || 'this statement'} is not allowed: only read-only queries (SELECT, WITH, VALUES, EXPLAIN, SHOW, DESCRIBE, SUMMARIZE) are`);
  }
}

/** What `json_serialize_sql` returns. */
interface SerializedSql {
  error: boolean;
  error_type?: string;
  error_message?: string;
  statements?: unknown[];
}

/** The text of the query an EXPLAIN wraps, or null if `statement` is not an EXPLAIN. */
export function explainedQuery(statement: Statement): string | null {
  const { tokens, text } = statement;
  if (tokens[0]?.value !== 'explain' || tokens[0].kind !== 'ident') return null;
  let k = 1;
  if (tokens[k]?.kind === 'ident' && tokens[k]!.value === 'analyze') k++;
  if (tokens[k]?.kind === 'op' && tokens[k]!.text === '(') {
    while (k < tokens.length && !(tokens[k]!.kind === 'op' && tokens[k]!.text === ')')) k++;
    k++;
  }
  const inner = tokens[k];
  return inner === undefined ? '' : text.slice(inner.start);
}

/**
 * Checks one statement (already rewritten for DuckDB) with DuckDB's parser; throws a SqlError when refused.
 * `serialize` runs `json_serialize_sql` on a DuckDB connection.
 */
export async function checkReadOnly(sql: string, firstWords: readonly string[], serialize: (sql: string) => Promise<string>): Promise<void> {
  let parsed: SerializedSql;
  try {
    parsed = JSON.parse(await serialize(sql)) as SerializedSql;
  } catch (err) {
    throw new SqlError(SqlState.internalError, `could not check the statement: ${(err as Error).message}`, { cause: err });
  }
  if (parsed.error) {
    if (parsed.error_type === 'parser') {
      throw new SqlError(SqlState.syntaxError, parsed.error_message ?? 'syntax error');
    }
    // "Only SELECT statements can be serialized": not a query.
    throw refusedKind(firstWords);
  }
  if ((parsed.statements?.length ?? 0) !== 1) throw new SqlError(SqlState.syntaxError, 'one statement at a time');
  walk(parsed.statements, (node) => {
    if (node.type === 'TABLE_FUNCTION') {
      const fn = node.function as { function_name?: string } | undefined;
      const name = (fn?.function_name ?? '').toLowerCase();
      if (ALLOWED_TABLE_FUNCTIONS.has(name)) return;
      if (FILE_FUNCTION.test(name)) {
        throw new SqlError(SqlState.insufficientPrivilege, `${name}() is not allowed: the SQL endpoint cannot read files, URLs or other queries`);
      }
      throw new SqlError(SqlState.insufficientPrivilege, `table function ${name}() is not available on the SQL endpoint`, {
        hint: `available: ${[...ALLOWED_TABLE_FUNCTIONS].join(', ')}`,
      });
    }
    if (node.class === 'FUNCTION' && typeof node.function_name === 'string') {
      const refused = REFUSED_FUNCTIONS.get(node.function_name.toLowerCase());
      if (refused) throw refused;
    }
  });
}

function walk(node: unknown, visit: (node: Record<string, unknown>) => void): void {
  if (Array.isArray(node)) {
    for (const child of node) walk(child, visit);
  } else if (node !== null && typeof node === 'object') {
    const record = node as Record<string, unknown>;
    visit(record);
    for (const value of Object.values(record)) walk(value, visit);
  }
}

