import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { rewriteForDuckDb, splitStatements, SqlLexError, tokenize } from './sql-text.js';

describe('splitStatements', () => {
  it('splits at top-level semicolons only', () => {
    const parts = splitStatements(`SELECT 'a;b' AS "x;y"; -- c;d\nSELECT $$e;f$$ /* g; /* h; */ i; */ ; ; SELECT E'\\';' `);
    assert.deepEqual(
      parts.map((p) => p.text),
      [`SELECT 'a;b' AS "x;y"`, `SELECT $$e;f$$`, `SELECT E'\\';'`],
    );
  });

  it('drops statements that are only comments or whitespace', () => {
    assert.deepEqual(splitStatements(' -- ping\n ; /* x */'), []);
  });

  it('reads strings as PostgreSQL does with standard_conforming_strings on', () => {
    const [s] = tokenize(`'it''s \\n'`);
    assert.equal(s!.value, "it's \\n");
    const [e] = tokenize(`E'it\\'s'`);
    assert.equal(e!.value, "it's");
    const [d] = tokenize('$tag$ $x$ $tag$');
    assert.equal(d!.value, ' $x$ ');
  });

  it('tells parameters from dollar quotes', () => {
    assert.deepEqual(
      tokenize('$1 + $12').filter((t) => t.kind === 'param').map((t) => t.value),
      ['1', '12'],
    );
  });

  it('refuses unterminated strings and comments', () => {
    for (const sql of [`SELECT 'x`, 'SELECT "x', 'SELECT /* x', 'SELECT $a$ x']) assert.throws(() => tokenize(sql), SqlLexError);
  });
});

describe('rewriteForDuckDb', () => {
  const context = {
    settings: new Map([
      ['server_version_num', '150000'],
      ['search_path', 'main'],
    ]),
    isTableFunction: (name: string) => ['generate_series', 'range', 'unnest', 'duckdb_tables'].includes(name),
  };
  const rewrite = (sql: string) => rewriteForDuckDb(splitStatements(sql)[0]!, context);

  it('answers current_setting() of PostgreSQL parameters', () => {
    assert.equal(rewrite(`SELECT current_setting('server_version_num')::int/100 AS v`), `SELECT '150000'::int/100 AS v`);
    assert.equal(rewrite(`SELECT current_setting('SEARCH_PATH', true)`), `SELECT 'main'`);
    // Unknown names are left for the guard to refuse.
    assert.equal(rewrite(`SELECT current_setting('memory_limit')`), `SELECT current_setting('memory_limit')`);
  });

  it('drops pg_catalog. before function calls, not before tables', () => {
    assert.equal(rewrite('SELECT pg_catalog.version() FROM pg_catalog.pg_class'), 'SELECT version() FROM pg_catalog.pg_class');
  });

  it('gives numeric without precision 12 decimals, in casts only', () => {
    assert.equal(rewrite(`SELECT '0.000000000001'::numeric, CAST(x AS decimal), 1 AS numeric, y::numeric(10,2)`), `SELECT '0.000000000001'::DECIMAL(38,12), CAST(x AS DECIMAL(38,12)), 1 AS numeric, y::numeric(10,2)`);
  });

  it('turns a scalar function in FROM into a one-row subquery named by its alias', () => {
    assert.equal(
      rewrite(`SELECT s[1] FROM string_to_array('a,b', ',') s`),
      `SELECT s[1] FROM (SELECT string_to_array('a,b', ',') AS s) AS s`,
    );
  });

  it("names a one-column table function's column after its alias", () => {
    assert.equal(rewrite('SELECT i FROM generate_series(1, 3) AS i, duckdb_tables() t'), 'SELECT i FROM generate_series(1, 3) AS i(i), duckdb_tables() t');
  });

  it('leaves FROM inside a function call alone', () => {
    const sql = `SELECT extract(epoch FROM "timestamp") AS t, substring(x FROM 2 FOR 3) FROM genai_calls`;
    assert.equal(rewrite(sql), sql);
  });

  it('never touches strings, quoted identifiers or comments', () => {
    const sql = `SELECT 'current_setting(''search_path'')', "pg_catalog.version()" /* FROM f(x) y */ FROM genai_calls`;
    assert.equal(rewrite(sql), sql);
  });
});
