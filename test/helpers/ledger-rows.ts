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
