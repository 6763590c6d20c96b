import { invalidPayload, PipelineError } from '../../core/pipeline-errors.js';
import { DecodeError } from './decode-error.js';
import { ProtobufReader } from './protobuf-reader.js';
import { ProtobufWriter } from './protobuf-writer.js';

/**
 * Encoders (and, for tests and clients, decoders) for what the OTLP receivers answer:
 * - `ExportTraceServiceResponse` { partial_success (1): ExportTracePartialSuccess { rejected_spans (1)
 *   int64, error_message (2) string } } on success — empty when everything was accepted;
 * - `google.rpc.Status` { code (1) int32, message (2) string, details (3) repeated Any — never sent }
 *   as the body of an OTLP/HTTP error response.
 * JSON follows proto3 JSON: lowerCamelCase names, int64 as a string, fields with default values omitted.
 */

/** The partial-success part of an export response (the shape of ConsumeResult). */
export interface ExportResponse {
  rejectedSpans: number;
  errorMessage: string;
}

/** A google.rpc.Status without details. */
export interface RpcStatus {
  code: number;
  message: string;
}

const EMPTY = new Uint8Array(0);

export function encodeExportResponseProtobuf({ rejectedSpans, errorMessage }: ExportResponse): Uint8Array {
  if (rejectedSpans === 0 && errorMessage === '') return EMPTY;
  const w = new ProtobufWriter(16 + errorMessage.length * 3);
  w.tag(1, 2);
  const start = w.fork();
  if (rejectedSpans !== 0) w.tag(1, 0).int64(rejectedSpans);
  if (errorMessage !== '') w.tag(2, 2).string(errorMessage);
  w.join(start);
  return w.finish();
}

export function encodeExportResponseJson({ rejectedSpans, errorMessage }: ExportResponse): string {
  if (rejectedSpans === 0 && errorMessage === '') return '{}';
  const partialSuccess: { rejectedSpans?: string; errorMessage?: string } = {};
  if (rejectedSpans !== 0) partialSuccess.rejectedSpans = String(rejectedSpans);
  if (errorMessage !== '') partialSuccess.errorMessage = errorMessage;
  return JSON.stringify({ partialSuccess });
}

export function encodeStatusProtobuf(code: number, message: string): Uint8Array {
  const w = new ProtobufWriter(16 + message.length * 3);
  if (code !== 0) w.tag(1, 0).int32(code);
  if (message !== '') w.tag(2, 2).string(message);
  return w.finish();
}

export function encodeStatusJson(code: number, message: string): string {
  const status: { code?: number; message?: string } = {};
  if (code !== 0) status.code = code;
  if (message !== '') status.message = message;
  return JSON.stringify(status);
}

/** Decodes an ExportTraceServiceResponse; throws PipelineError 'invalid' on malformed input. */
export function decodeExportResponseProtobuf(bytes: Uint8Array): ExportResponse {
  const result: ExportResponse = { rejectedSpans: 0, errorMessage: '' };
  const r = new ProtobufReader(bytes);
  try {
    while (r.pos < bytes.length) {
      const tag = r.tag();
      if (tag !== 10) {
        r.skip(tag, bytes.length);
        continue;
      }
      const end = r.lenEnd(bytes.length);
      while (r.pos < end) {
        const inner = r.tag();
        if (inner === 8) result.rejectedSpans = Number(r.int64());
        else if (inner === 18) result.errorMessage = r.string(end);
        else r.skip(inner, end);
      }
      r.expectEnd(end);
    }
  } catch (err) {
    throw wrap(err, 'ExportTraceServiceResponse');
  }
  return result;
}

/** Decodes a google.rpc.Status (details are skipped); throws PipelineError 'invalid' on malformed input. */
export function decodeStatusProtobuf(bytes: Uint8Array): RpcStatus {
  const result: RpcStatus = { code: 0, message: '' };
  const r = new ProtobufReader(bytes);
  try {
    while (r.pos < bytes.length) {
      const tag = r.tag();
      if (tag === 8) result.code = r.int32();
      else if (tag === 18) result.message = r.string(bytes.length);
      else r.skip(tag, bytes.length);
    }
  } catch (err) {
    throw wrap(err, 'google.rpc.Status');
  }
  return result;
}

function wrap(err: unknown, what: string): PipelineError {
  if (err instanceof PipelineError) return err;
  const reason = err instanceof DecodeError ? err.reason : err instanceof Error ? err.message : String(err);
  return invalidPayload(`invalid protobuf ${what}: ${reason}`, err);
}
