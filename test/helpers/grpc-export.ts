/**
 * A raw OTLP/gRPC client: the bytes sent are exactly what the test says (no SDK in between), so tests can send
 * hand-made and hostile payloads.
 */
import { credentials, makeGenericClientConstructor, Metadata, type ServiceError } from '@grpc/grpc-js';

const Client = makeGenericClientConstructor(
  {
    Export: {
      path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
      requestStream: false,
      responseStream: false,
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: (b: Buffer) => b,
      responseDeserialize: (b: Buffer) => b,
    },
  },
  'TraceService',
);

export interface ExportOutcome {
  error: ServiceError | null;
  response: Buffer | undefined;
}

export function exportRaw(address: string, body: Uint8Array, gzip = false): Promise<ExportOutcome> {
  const client = new Client(address, credentials.createInsecure(), {
    'grpc.max_send_message_length': 512 * 1024 * 1024,
    ...(gzip ? { 'grpc.default_compression_algorithm': 2 } : {}),
  });
  return new Promise((resolve) => {
    (client as unknown as { Export: (b: Buffer, m: Metadata, cb: (e: ServiceError | null, r?: Buffer) => void) => void }).Export(
      Buffer.from(body),
      new Metadata(),
      (error, response) => {
        client.close();
        resolve({ error, response });
      },
    );
  });
}

