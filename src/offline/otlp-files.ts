import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import type { TraceRequest } from '../../core/otlp.js';
import { decodeTraceRequestJson } from '../../receivers/otlp/decode-json.js';
import { decodeTraceRequestProtobuf } from '../../receivers/otlp/decode-protobuf.js';

/**
 * OTLP trace files as they are found on disk, decoded with the receivers' own decoders:
 * - the OpenTelemetry Collector's file exporter, `format: json`: one OTLP/JSON `TracesData` object per line
 *   (JSON Lines, the OTLP file spec's form) — `.json`/`.jsonl`, rotated files included;
 * - the file exporter, `format: proto`: each `TracesData` message preceded by its length as a 4-byte
 *   big-endian unsigned integer (fileexporter's `exportMessageAsBuffer`);
 * - a single OTLP/JSON document (one export request, pretty-printed or not), or a single raw protobuf
 *   `ExportTraceServiceRequest` (an HTTP request body saved to a file);
 * - any of these gzip-compressed (`.gz`).
 * The file exporter's own `compression: zstd` is not readable on Node 20 (no zstd in node:zlib): such files
 * are refused with a message saying so. Lines holding metrics or logs are counted and skipped.
 */

export type OtlpFileKind = 'json-lines' | 'json-document' | 'proto-length-delimited' | 'proto-message';

export interface OtlpFileChunk {
  /** 0-based line or message number. */
  index: number;
  request: TraceRequest | null;
  bytes: number;
  /** Why the chunk was skipped: not traces (`metrics`, `logs`) or undecodable (the decoder's message). */
  skipped: string | null;
}

export interface OtlpFile {
  kind: OtlpFileKind;
  gzip: boolean;
  chunks: OtlpFileChunk[];
}

export class OtlpFileError extends Error {
  override name = 'OtlpFileError';
}

const GZIP = [0x1f, 0x8b];
const ZSTD = [0x28, 0xb5, 0x2f, 0xfd];
const startsWith = (b: Uint8Array, magic: readonly number[], at = 0) => magic.every((m, i) => b[at + i] === m);

export async function readOtlpFile(path: string): Promise<OtlpFile> {
  return parseOtlpFile(await readFile(path));
}

export function parseOtlpFile(input: Uint8Array): OtlpFile {
  let bytes = input;
  let gzip = false;
  if (startsWith(bytes, GZIP)) {
    bytes = gunzipSync(bytes);
    gzip = true;
  }
  if (startsWith(bytes, ZSTD)) {
    throw new OtlpFileError('zstd-compressed (the file exporter\'s compression: zstd): Node 20 cannot read zstd; decompress it first (zstd -d)');
  }
  const first = firstNonWhitespace(bytes);
  if (first === 0x7b /* { */) return { gzip, ...readJson(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) };
  return { gzip, ...readProto(bytes) };
}

function firstNonWhitespace(bytes: Uint8Array): number | undefined {
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) i++;
  return bytes[i];
}

const SIGNAL_OF_LINE = /^\s*\{\s*"(resourceSpans|resource_spans|resourceMetrics|resource_metrics|resourceLogs|resource_logs|resourceProfiles)"/;

function readJson(text: string): { kind: OtlpFileKind; chunks: OtlpFileChunk[] } {
  const lines = text.split('\n');
  const nonEmpty = lines.filter((l) => l.trim() !== '');
  // A pretty-printed single document has lines that are not JSON values on their own.
  if (nonEmpty.length > 1 && !nonEmpty.every((l) => /^\s*\{.*\}\s*$/.test(l))) {
    return { kind: 'json-document', chunks: [decodeJsonChunk(text, 0)] };
  }
  const chunks: OtlpFileChunk[] = [];
  let index = 0;
  for (const line of lines) {
    if (line.trim() === '') continue;
    chunks.push(decodeJsonChunk(line, index++));
  }
  return { kind: nonEmpty.length === 1 ? 'json-document' : 'json-lines', chunks };
}

function decodeJsonChunk(text: string, index: number): OtlpFileChunk {
  const bytes = Buffer.byteLength(text);
  const signal = SIGNAL_OF_LINE.exec(text)?.[1];
  if (signal !== undefined && !/spans/i.test(signal)) {
    return { index, request: null, bytes, skipped: /metrics/i.test(signal) ? 'metrics' : /logs/i.test(signal) ? 'logs' : 'profiles' };
  }
  try {
    return { index, request: decodeTraceRequestJson(text), bytes, skipped: null };
  } catch (err) {
    return { index, request: null, bytes, skipped: (err as Error).message };
  }
}

function readProto(bytes: Uint8Array): { kind: OtlpFileKind; chunks: OtlpFileChunk[] } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const frames: Uint8Array[] = [];
  let offset = 0;
  let framed = bytes.length >= 4;
  while (framed && offset < bytes.length) {
    if (offset + 4 > bytes.length) {
      framed = false;
      break;
    }
    const length = view.getUint32(offset, false);
    if (offset + 4 + length > bytes.length) {
      framed = false;
      break;
    }
    frames.push(bytes.subarray(offset + 4, offset + 4 + length));
    offset += 4 + length;
  }
  if (!framed || frames.length === 0) {
    // Not length-delimited: one raw ExportTraceServiceRequest (e.g. an HTTP body saved to a file).
    try {
      return { kind: 'proto-message', chunks: [{ index: 0, request: decodeTraceRequestProtobuf(bytes), bytes: bytes.length, skipped: null }] };
    } catch (err) {
      throw new OtlpFileError(
        `neither OTLP/JSON nor OTLP protobuf (length-delimited as the Collector's file exporter writes it, or a single message): ${(err as Error).message}`,
      );
    }
  }
  return {
    kind: 'proto-length-delimited',
    chunks: frames.map((frame, index) => {
      if (startsWith(frame, ZSTD)) {
        return { index, request: null, bytes: frame.length, skipped: 'a zstd-compressed message (file exporter compression: zstd), which Node 20 cannot read' };
      }
      try {
        return { index, request: decodeTraceRequestProtobuf(frame), bytes: frame.length, skipped: null };
      } catch (err) {
        return { index, request: null, bytes: frame.length, skipped: (err as Error).message };
      }
    }),
  };
}
