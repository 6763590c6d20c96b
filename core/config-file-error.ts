/**
 * A configuration or mapping file that cannot be used. The message lists every problem found, one per
 * line, each as `file:line: key: what is wrong`, so one edit can fix them all. The CLI prints it and
 * refuses to start.
 */
export class ConfigFileError extends Error {
  constructor(
    readonly file: string,
    readonly problems: readonly string[],
  ) {
    super(`${file}: ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigFileError';
  }
}
