import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';

/**
 * Optional bearer-token authentication for both OTLP receivers (`receivers.otlp.auth`). When configured,
 * every request must carry `Authorization: Bearer <token>` (gRPC: `authorization` metadata) matching one of
 * the accepted tokens; otherwise OTLP/HTTP answers 401 and OTLP/gRPC `UNAUTHENTICATED`.
 *
 * Tokens come from a file (one per line, `#` comments and blank lines ignored: rotate by adding the new
 * token, moving clients, removing the old one) and/or an environment variable, never from the config file
 * itself, so the config can be committed.
 */
export const BearerAuthConfig = z
  .object({
    /** File with the accepted tokens, one per line. */
    tokenFile: z.string().min(1).optional(),
    /** Name of an environment variable holding an accepted token, e.g. GENAI_LEDGER_TOKEN. */
    tokenEnv: z.string().min(1).optional(),
  })
  .strict();
export type BearerAuthConfig = z.output<typeof BearerAuthConfig>;

/** Shortest token accepted: anything shorter is guessable. */
export const MIN_TOKEN_LENGTH = 16;

/**
 * Checks `Authorization` header values in constant time with respect to the token's content: both sides are
 * hashed to SHA-256 first (equal-length digests, as timingSafeEqual needs), and every accepted token is
 * compared, with no early exit, so neither the length nor the position of a mismatch leaks.
 */
export class BearerTokenVerifier {
  private readonly digests: Buffer[];

  constructor(tokens: readonly string[]) {
    if (tokens.length === 0) throw new Error('bearer authentication needs at least one token');
    this.digests = tokens.map(digest);
  }

  /** True when `authorization` is `Bearer <one of the tokens>` (scheme case-insensitive). */
  verify(authorization: string | undefined): boolean {
    const match = /^\s*bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    const presented = digest(match?.[1] ?? '');
    let ok = false;
    for (const d of this.digests) ok = timingSafeEqual(d, presented) || ok;
    return ok && match !== null;
  }
}

const digest = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/**
 * Reads the configured tokens; null when authentication is not configured. Errors name the file and line
 * or the variable, and the program refuses to start.
 */
export async function loadBearerTokenVerifier(
  config: BearerAuthConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<BearerTokenVerifier | null> {
  if (config.tokenFile === undefined && config.tokenEnv === undefined) return null;
  const tokens: string[] = [];
  const problems: string[] = [];
  if (config.tokenFile !== undefined) {
    let text = '';
    try {
      text = await readFile(config.tokenFile, 'utf8');
    } catch (err) {
      problems.push(`receivers.otlp.auth.tokenFile: cannot read ${config.tokenFile}: ${(err as Error).message}`);
    }
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      if (/\s/.test(line)) problems.push(`${config.tokenFile}:${i + 1}: a token must not contain spaces`);
      else if (line.length < MIN_TOKEN_LENGTH) problems.push(`${config.tokenFile}:${i + 1}: token shorter than ${MIN_TOKEN_LENGTH} characters`);
      else tokens.push(line);
    });
    if (text !== '' && tokens.length === 0 && problems.length === 0) problems.push(`${config.tokenFile}: no token in the file`);
  }
  if (config.tokenEnv !== undefined) {
    const value = env[config.tokenEnv]?.trim() ?? '';
    if (value === '') problems.push(`receivers.otlp.auth.tokenEnv: environment variable ${config.tokenEnv} is not set`);
    else if (/\s/.test(value) || value.length < MIN_TOKEN_LENGTH) {
      problems.push(`receivers.otlp.auth.tokenEnv: ${config.tokenEnv} must be one token of at least ${MIN_TOKEN_LENGTH} characters without spaces`);
    } else tokens.push(value);
  }
  if (problems.length > 0) throw new Error(`bearer authentication is misconfigured:\n  ${problems.join('\n  ')}`);
  return new BearerTokenVerifier(tokens);
}
