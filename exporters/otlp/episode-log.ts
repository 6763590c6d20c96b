/**
 * Logs a problem once when it starts and once when it ends, with how many times it happened in between
 * — never a line per batch (a destination that is down for an hour is two log lines, not thousands).
 */
export class EpisodeLog {
  private readonly open = new Map<string, { count: number }>();

  constructor(private readonly log: (line: string) => void) {}

  /** Records an occurrence of problem `kind`; logs `message` only when this starts an episode. */
  problem(kind: string, message: string, count = 1): void {
    const episode = this.open.get(kind);
    if (episode !== undefined) {
      episode.count += count;
      return;
    }
    this.open.set(kind, { count });
    this.log(message);
  }

  /** Ends an episode of `kind` if one is open, logging `message(count)`; the next problem logs again. */
  resolved(kind: string, message: (count: number) => string): void {
    const episode = this.open.get(kind);
    if (episode === undefined) return;
    this.open.delete(kind);
    this.log(message(episode.count));
  }

  /** Count so far in the open episode of `kind` (0 when none is open). */
  count(kind: string): number {
    return this.open.get(kind)?.count ?? 0;
  }
}
