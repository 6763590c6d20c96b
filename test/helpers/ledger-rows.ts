import { DuckDBInstance } from '@duckdb/node-api';

/**
 * Reads `genai_calls` with every value as text (money exactly as DECIMAL renders it, timestamps as
 * epoch microseconds) so assertions compare exact values, not floats. Opens the file read-only.
 */
export async function readLedgerRows(dbPath: string, where = 'true'): Promise<Record<string, string | null>[]> {
  const instance = await DuckDBInstance.create(dbPath, { access_mode: 'READ_ONLY' });
  try {
    const connection = await instance.connect();
    const result = await connection.runAndReadAll(`
      SELECT epoch_us("timestamp")::VARCHAR AS timestamp_us, * EXCLUDE ("timestamp") REPLACE (
        request_cost_usd::VARCHAR AS request_cost_usd, input_cost_usd::VARCHAR AS input_cost_usd,
        cached_input_cost_usd::VARCHAR AS cached_input_cost_usd, cache_write_cost_usd::VARCHAR AS cache_write_cost_usd,
        output_cost_usd::VARCHAR AS output_cost_usd)
      FROM genai_calls WHERE ${where} ORDER BY trace_id, span_id`);
    const rows = result.getRowObjectsJS();
    connection.closeSync();
    return rows.map((row) =>
      Object.fromEntries(
        Object.entries(row).map(([k, v]) => [k, v === null || v === undefined ? null : Array.isArray(v) ? JSON.stringify(v) : String(v)]),
      ),
    );
  } finally {
    instance.closeSync();
  }
}

/** Billed rows (`genai_calls`) and duplicates (`genai_duplicate_spans`) in a ledger, optionally filtered. */
export async function countLedgerSpans(dbPath: string, where = 'true'): Promise<{ billed: number; duplicates: number }> {
  const instance = await DuckDBInstance.create(dbPath, { access_mode: 'READ_ONLY' });
  try {
    const connection = await instance.connect();
    const [r] = (
      await connection.runAndReadAll(
        `SELECT count(*) FILTER (WHERE NOT is_duplicate)::INT AS billed, count(*) FILTER (WHERE is_duplicate)::INT AS duplicates
         FROM genai_all_spans WHERE ${where}`,
      )
    ).getRowObjectsJS();
    connection.closeSync();
    return { billed: Number(r!['billed']), duplicates: Number(r!['duplicates']) };
  } finally {
    instance.closeSync();
  }
}
