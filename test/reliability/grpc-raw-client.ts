import { credentials as grpcCredentials, makeGenericClientConstructor, Metadata, type ChannelCredentials, type ServiceError } from '@grpc/grpc-js';

/** A raw-bytes OTLP/gRPC TraceService client, so tests send exactly the bytes they mean to. */
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

export interface GrpcOutcome {
  error: ServiceError | null;
  response: Buffer | undefined;
}

type ExportFn = (b: Buffer, m: Metadata, cb: (e: ServiceError | null, r?: Buffer) => void) => void;

export class RawGrpcClient {
  private readonly client: InstanceType<typeof Client>;

  constructor(address: string, options: { credentials?: ChannelCredentials; channelOptions?: Record<string, unknown> } = {}) {
    this.client = new Client(address, options.credentials ?? grpcCredentials.createInsecure(), {
      'grpc.max_send_message_length': 512 * 1024 * 1024,
      ...options.channelOptions,
    });
  }

  export(body: Uint8Array, metadata: Record<string, string> = {}): Promise<GrpcOutcome> {
    const md = new Metadata();
    for (const [k, v] of Object.entries(metadata)) md.set(k, v);
    return new Promise((resolve) => {
      (this.client as unknown as { Export: ExportFn }).Export(Buffer.from(body), md, (error, response) => resolve({ error, response }));
    });
  }

  close(): void {
    this.client.close();
  }
}

/** One export on a fresh client (optionally gzip-compressed by grpc-js), closed after the answer. */
export async function exportRaw(address: string, body: Uint8Array, gzip = false): Promise<GrpcOutcome> {
  const client = new RawGrpcClient(address, gzip ? { channelOptions: { 'grpc.default_compression_algorithm': 2 } } : {});
  try {
    return await client.export(body);
  } finally {
    client.close();
  }
}
