import { readFile } from 'node:fs/promises';
import { z } from 'zod';

/** TLS for a receiver: PEM certificate (chain) and private key files. Both or neither. */
export const TlsConfig = z
  .object({
    certFile: z.string().min(1),
    keyFile: z.string().min(1),
  })
  .strict();
export type TlsConfig = z.output<typeof TlsConfig>;

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
}

/** Reads the PEM files, with an error naming the config key and file when one cannot be used. */
export async function loadTlsMaterial(config: TlsConfig, keyPath: string): Promise<TlsMaterial> {
  const read = async (file: string, key: string, marker: RegExp) => {
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      throw new Error(`${keyPath}.${key}: cannot read ${file}: ${(err as Error).message}`);
    }
    if (!marker.test(bytes.toString('latin1'))) throw new Error(`${keyPath}.${key}: ${file} is not a PEM file`);
    return bytes;
  };
  return {
    cert: await read(config.certFile, 'certFile', /-----BEGIN CERTIFICATE-----/),
    key: await read(config.keyFile, 'keyFile', /-----BEGIN [A-Z ]*PRIVATE KEY-----/),
  };
}
