import { DuckDBInstance } from '@duckdb/node-api';
import { countSpans, type ResourceSpans, type TraceRequest } from '../../core/otlp.js';
import { inspectLedgerFile, isLockConflict } from '../../exporters/duckdb/ledger-file.js';
import type { LedgerConfig } from '../config/ledger-config.js';
import { LedgerServer } from '../server/ledger-server.js';
import { readOtlpFile, type OtlpFileKind } from './otlp-files.js';

/**
 * `genai-ledger ingest`: OTLP trace files into a ledger through the server's own pipeline — the
 * `LedgerServer` assembled from the same config, with its receivers switched off, fed with
 * `pipeline.consume` — so a call is detected, counted once (duplicates, ancestors across the file), attributed
 * and priced exactly as if the spans had been sent to a running server. Ingesting a file again adds nothing:
 * the ledger's key (trace_id, span_id) keeps the first copy.
 *
 * DuckDB lets one process write a ledger, so ingest refuses a ledger a running server holds (`LedgerBusy`).
 */

export interface FileIngestSummary {
  file: string;
  kind: OtlpFileKind | null;
  gzip: boolean;
  /** Lines / messages decoded as trace requests. */
  requests: number;
  spans: number;
  /** GenAI calls handed to the ledger (billed rows), duplicates (counted once) and spans refused. */
  calls: number;
  duplicates: number;
  rejectedSpans: number;
  /** Sum of the calls' costs, pico-USD (priced calls only). */
  costPicoUsd: bigint;
  unpricedCalls: number;
  /** Chunks skipped: metrics/logs lines, undecodable lines (first reasons kept). */
  skipped: number;
  skipReasons: string[];
  /** The file could not be read at all. */
  error: string | null;
}

export interface IngestResult {
  files: FileIngestSummary[];
  /** Rows in genai_calls before and after: the difference is what this run added. */
  rowsBefore: number;
  rowsAfter: number;
}

export class LedgerBusyForIngest extends Error {
  override name = 'LedgerBusyForIngest';
}

/** Requests are merged up to this many spans per pipeline call: one ledger commit per batch, not per line. */
const BATCH_SPANS = 5000;

export async function ingestFiles(
  config: LedgerConfig,
  files: readonly string[],
  onFile?: (index: number, file: string) => void,
): Promise<IngestResult> {
  const dbPath = config.exporters.duckdb.path;
  const rowsBefore = await countRows(dbPath);
  config.receivers.otlp.http.enabled = false;
  config.receivers.otlp.grpc.enabled = false;
  // Offline ingest fills the ledger only: no /metrics or SQL listener, no forwarding of old files to live
  // backends, no alerts.
  config.exporters.prometheus.enabled = false;
  config.sql.enabled = false;
  config.exporters.otlp = {};
  config.alerts.enabled = false;
  const server = await LedgerServer.create(config);
  try {
    await server.start();
  } catch (err) {
    await server.shutdown().catch(() => undefined);
    if (/in use by another process/.test((err as Error).message) || isLockConflict(err)) {
      throw new LedgerBusyForIngest(
        `${dbPath} is held by a running genai-ledger server, and DuckDB lets one process write a ledger: ingest cannot write to it now. ` +
          'Stop the server and run ingest again, or send the files to the running server over OTLP instead ' +
          '(e.g. an OpenTelemetry Collector with the otlpjsonfile receiver and an otlp exporter pointed at it).',
        { cause: err },
      );
    }
    throw err;
  }
  const summaries: FileIngestSummary[] = [];
  let current: FileIngestSummary | null = null;
  server.pipeline.observe((batch) => {
    if (current === null) return;
    current.calls += batch.rows.length;
    current.duplicates += batch.changes?.duplicates.length ?? 0;
    for (const row of batch.rows) {
      if (row.requestCostPicoUsd === null) current.unpricedCalls++;
      else current.costPicoUsd += row.requestCostPicoUsd;
    }
  });
  try {
    for (const [i, file] of files.entries()) {
      onFile?.(i, file);
      const summary: FileIngestSummary = {
        file,
        kind: null,
        gzip: false,
        requests: 0,
        spans: 0,
        calls: 0,
        duplicates: 0,
        rejectedSpans: 0,
        costPicoUsd: 0n,
        unpricedCalls: 0,
        skipped: 0,
        skipReasons: [],
        error: null,
      };
      summaries.push(summary);
      current = summary;
      let parsed;
      try {
        parsed = await readOtlpFile(file);
      } catch (err) {
        summary.error = (err as Error).message;
        continue;
      }
      summary.kind = parsed.kind;
      summary.gzip = parsed.gzip;
      let pending: ResourceSpans[] = [];
      let pendingSpans = 0;
      let pendingBytes = 0;
      const flush = async () => {
        if (pending.length === 0) return;
        const request: TraceRequest = { resourceSpans: pending };
        pending = [];
        pendingSpans = 0;
        const bytes = pendingBytes;
        pendingBytes = 0;
        const result = await server.pipeline.consume(request, { bytes, transport: 'http' });
        summary.rejectedSpans += result.rejectedSpans;
      };
      for (const chunk of parsed.chunks) {
        if (chunk.request === null) {
          summary.skipped++;
          if (chunk.skipped !== null && summary.skipReasons.length < 3) summary.skipReasons.push(`#${chunk.index}: ${chunk.skipped}`);
          continue;
        }
        summary.requests++;
        const spans = countSpans(chunk.request);
        summary.spans += spans;
        pending.push(...chunk.request.resourceSpans);
        pendingSpans += spans;
        pendingBytes += chunk.bytes;
        if (pendingSpans >= BATCH_SPANS) await flush();
      }
      await flush();
    }
  } finally {
    current = null;
    await server.shutdown();
  }
  return { files: summaries, rowsBefore, rowsAfter: await countRows(dbPath) };
}

async function countRows(dbPath: string): Promise<number> {
  if ((await inspectLedgerFile(dbPath)) !== 'duckdb') return 0;
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(dbPath, { access_mode: 'READ_ONLY' });
  } catch (err) {
    if (isLockConflict(err)) return 0; // start() reports the busy ledger with the full explanation
    throw err;
  }
  try {
    const connection = await instance.connect();
    try {
      const tables = await connection.runAndReadAll(`SELECT 1 FROM duckdb_tables() WHERE table_name = 'genai_calls'`);
      if (tables.currentRowCount === 0) return 0;
      return Number((await connection.runAndReadAll('SELECT count(*) FROM genai_calls')).getRows()[0]![0]);
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}
