import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DuckDBDecimalValue, DuckDBListValue, DuckDBTimestampTZValue } from '@duckdb/node-api';
import { formatCsv, formatJson, formatTable } from './format-result.js';

const result = {
  columns: ['team_id', 'calls', 'cost_usd', 'note'],
  rows: [
    ['team-search', 12n, new DuckDBDecimalValue(123_450_000n, 18, 12), 'plain'],
    [null, 3n, null, 'has, comma and "quotes"\nand a newline'],
  ],
};

describe('formatTable', () => {
  it('aligns columns, right-aligns numbers, shows NULL and the row count', () => {
    assert.equal(
      formatTable(result),
      [
        'team_id     | calls | cost_usd       | note',
        '------------+-------+----------------+---------------------------------------',
        'team-search |    12 | 0.000123450000 | plain',
        'NULL        |     3 |           NULL | has, comma and "quotes"\\nand a newline',
        '(2 rows)',
        '',
      ].join('\n'),
    );
  });
  it('handles an empty result', () => {
    assert.equal(formatTable({ columns: ['a'], rows: [] }), 'a\n-\n(0 rows)\n');
  });
});

describe('formatCsv', () => {
  it('quotes per RFC 4180 with CRLF line ends; NULL is an empty field', () => {
    assert.equal(
      formatCsv(result),
      'team_id,calls,cost_usd,note\r\n' +
        'team-search,12,0.000123450000,plain\r\n' +
        ',3,,"has, comma and ""quotes""\nand a newline"\r\n',
    );
  });
});

describe('formatJson', () => {
  it('keeps decimals exact as strings, bigints as numbers when safe', () => {
    const parsed = JSON.parse(
      formatJson({
        columns: ['cost', 'n', 'big', 'ts', 'list', 'n'],
        rows: [
          [
            new DuckDBDecimalValue(1n, 18, 12),
            42n,
            2n ** 63n - 1n,
            new DuckDBTimestampTZValue(1_735_732_800_123_456n),
            new DuckDBListValue(['missing_team', 'unpriced_model']),
            null,
          ],
        ],
      }),
    );
    assert.deepEqual(parsed, [
      {
        cost: '0.000000000001',
        n: 42,
        big: '9223372036854775807',
        ts: '2025-01-01 12:00:00.123456+00',
        list: ['missing_team', 'unpriced_model'],
        n_2: null,
      },
    ]);
  });
  it('prints [] for no rows', () => {
    assert.equal(formatJson({ columns: ['a'], rows: [] }), '[]\n');
  });
});
