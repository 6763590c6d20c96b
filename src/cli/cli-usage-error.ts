/** A command line that cannot be run as given; the CLI prints the message and the usage, exit code 2. */
export class CliUsageError extends Error {
  override name = 'CliUsageError';
}

/** Parses a port flag: an integer 0–65535 (0 picks a free port). */
export function parsePort(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new CliUsageError(`--${flag} must be an integer from 0 to 65535, got "${value}"`);
  }
  return port;
}
