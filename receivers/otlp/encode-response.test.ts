import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { PipelineError } from '../../core/pipeline-errors.js';
import {
  decodeExportResponseProtobuf,
  decodeStatusProtobuf,
  encodeExportResponseJson,
  encodeExportResponseProtobuf,
  encodeStatusJson,
  encodeStatusProtobuf,
} from './encode-response.js';
import { ProtobufWriter } from './protobuf-writer.js';

describe('export response', () => {
  it('is empty when everything was accepted', () => {
    assert.equal(encodeExportResponseProtobuf({ rejectedSpans: 0, errorMessage: '' }).length, 0);
    assert.equal(encodeExportResponseJson({ rejectedSpans: 0, errorMessage: '' }), '{}');
    assert.deepEqual(ProtobufTraceSerializer.deserializeResponse(new Uint8Array(0)), {});
  });

  it('carries partial success in protobuf as the official client reads it', () => {
    const cases = [
      { rejectedSpans: 3, errorMessage: 'spans without trace id' },
      { rejectedSpans: 2 ** 40, errorMessage: '' },
      { rejectedSpans: 0, errorMessage: 'warning: unpriced model ✓' },
      { rejectedSpans: 1, errorMessage: 'x'.repeat(300) },
    ];
    for (const c of cases) {
      const bytes = encodeExportResponseProtobuf(c);
      assert.deepEqual(decodeExportResponseProtobuf(bytes), c);
      const official = ProtobufTraceSerializer.deserializeResponse(bytes);
      assert.equal(Number(official.partialSuccess?.rejectedSpans ?? 0), c.rejectedSpans);
      assert.equal(official.partialSuccess?.errorMessage ?? '', c.errorMessage);
    }
  });

  it('carries partial success in JSON with int64 as a string', () => {
    const text = encodeExportResponseJson({ rejectedSpans: 3, errorMessage: 'bad "spans"' });
    assert.equal(text, '{"partialSuccess":{"rejectedSpans":"3","errorMessage":"bad \\"spans\\""}}');
    assert.deepEqual(JsonTraceSerializer.deserializeResponse(new TextEncoder().encode(text)), {
      partialSuccess: { rejectedSpans: '3', errorMessage: 'bad "spans"' },
    });
    assert.equal(encodeExportResponseJson({ rejectedSpans: 0, errorMessage: 'w' }), '{"partialSuccess":{"errorMessage":"w"}}');
  });

  it('decodes responses with unknown fields and rejects malformed ones', () => {
    const w = new ProtobufWriter();
    w.tag(9, 0).uint32(1);
    const ps = w.tag(1, 2).fork();
    w.tag(5, 5).fixed32(1).tag(1, 0).int64(7).tag(2, 2).string('m');
    w.join(ps);
    assert.deepEqual(decodeExportResponseProtobuf(w.finish()), { rejectedSpans: 7, errorMessage: 'm' });
    assert.throws(() => decodeExportResponseProtobuf(new Uint8Array([0x0a, 0x05, 0x08])), (e: unknown) => e instanceof PipelineError && e.kind === 'invalid' && /ExportTraceServiceResponse/.test(e.message));
  });
});

describe('google.rpc.Status', () => {
  it('round-trips code and message in protobuf, omitting defaults', () => {
    for (const [code, message] of [
      [3, 'invalid protobuf: truncated varint at byte 7'],
      [14, ''],
      [0, ''],
      [-1, 'negative codes are sign-extended'],
    ] as const) {
      const bytes = encodeStatusProtobuf(code, message);
      assert.deepEqual(decodeStatusProtobuf(bytes), { code, message });
    }
    assert.deepEqual([...encodeStatusProtobuf(3, 'x')], [0x08, 0x03, 0x12, 0x01, 0x78]);
    assert.equal(encodeStatusProtobuf(0, '').length, 0);
    assert.equal(encodeStatusProtobuf(-1, '').length, 11);
  });

  it('skips details and unknown fields when decoding', () => {
    const w = new ProtobufWriter();
    w.tag(1, 0).int32(8);
    const any = w.tag(3, 2).fork();
    w.tag(1, 2).string('type.googleapis.com/google.rpc.RetryInfo').tag(2, 2).bytes(new Uint8Array([1, 2]));
    w.join(any);
    w.tag(2, 2).string('slow down');
    assert.deepEqual(decodeStatusProtobuf(w.finish()), { code: 8, message: 'slow down' });
    assert.throws(() => decodeStatusProtobuf(new Uint8Array([0x12, 0x09])), PipelineError);
  });

  it('encodes JSON with lowerCamelCase and defaults omitted', () => {
    assert.equal(encodeStatusJson(3, 'bad'), '{"code":3,"message":"bad"}');
    assert.equal(encodeStatusJson(0, ''), '{}');
    assert.deepEqual(JSON.parse(encodeStatusJson(14, 'storage unavailable')), { code: 14, message: 'storage unavailable' });
  });
});
