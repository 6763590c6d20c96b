import { randomBytes } from 'node:crypto';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ConfigFileError } from '../../core/config-file-error.js';
import { MIN_USER_ID_KEY_BYTES } from './user-id-policy.js';

/** Where the generated key lives when no key file is configured: next to the ledger, never inside it. */
export const generatedKeyPath = (ledgerPath: string): string => `${ledgerPath}.userid.key`;

export interface LoadedUserIdKey {
  key: Buffer;
  /** The file the key came from. */
  file: string;
  /** True when this call created the file. */
  generated: boolean;
  /** Non-fatal notices (a key file others can read). */
  warnings: string[];
}

/**
 * The user id pseudonymization key. With `keyFile` configured it is that file's content (trailing newline
 * ignored), at least 32 bytes; an unreadable or short file is a ConfigFileError and the server refuses to
 * start. Without one, `<ledger>.userid.key` is used, created on first start with 32 random bytes (as 64
 * hex characters) and mode 0600, so pseudonyms stay the same across restarts.
 */
export async function loadUserIdKey(keyFile: string | undefined, ledgerPath: string): Promise<LoadedUserIdKey> {
  if (keyFile !== undefined) return readKeyFile(keyFile, false);
  const file = generatedKeyPath(ledgerPath);
  await mkdir(dirname(file), { recursive: true });
  try {
    // 'wx': never overwrite a key another process (or an earlier start) wrote.
    await writeFile(file, `${randomBytes(32).toString('hex')}\n`, { flag: 'wx', mode: 0o600 });
    return { ...(await readKeyFile(file, true)), generated: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new ConfigFileError(file, [`cannot create the user id key file: ${(err as Error).message}`]);
    }
  }
  return readKeyFile(file, false);
}

async function readKeyFile(file: string, generated: boolean): Promise<LoadedUserIdKey> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (err) {
    throw new ConfigFileError(file, [`privacy.userIdKeyFile: cannot read the user id key: ${(err as Error).message}`]);
  }
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d)) end--;
  const key = bytes.subarray(0, end);
  if (key.length < MIN_USER_ID_KEY_BYTES) {
    throw new ConfigFileError(file, [
      `privacy.userIdKeyFile: the user id key is ${key.length} bytes; at least ${MIN_USER_ID_KEY_BYTES} are needed (e.g. openssl rand -hex 32 > ${file})`,
    ]);
  }
  const warnings: string[] = [];
  const mode = (await stat(file)).mode;
  if ((mode & 0o077) !== 0) {
    warnings.push(`${file}: the user id key is readable by other users (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
  }
  return { key, file, generated, warnings };
}
