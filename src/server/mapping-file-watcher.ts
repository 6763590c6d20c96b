import { unwatchFile, watchFile, type Stats } from 'node:fs';

/**
 * Calls `onChange` when any of the files changes (modified, replaced, created or deleted). Polls with
 * fs.watchFile, which survives editors and config tools that replace a file instead of writing it in place;
 * changes within one poll interval of each other are reported once.
 */
export class MappingFileWatcher {
  private readonly files: string[];
  private timer: NodeJS.Timeout | null = null;
  private watching = false;

  constructor(
    files: readonly (string | undefined)[],
    private readonly onChange: () => void,
    private readonly intervalMs: number,
  ) {
    this.files = files.filter((f): f is string => f !== undefined);
  }

  start(): void {
    if (this.watching) return;
    this.watching = true;
    for (const file of this.files) {
      watchFile(file, { interval: this.intervalMs, persistent: false }, (curr: Stats, prev: Stats) => {
        if (curr.mtimeMs === prev.mtimeMs && curr.size === prev.size && curr.ino === prev.ino) return;
        if (this.timer !== null) clearTimeout(this.timer);
        this.timer = setTimeout(() => {
          this.timer = null;
          this.onChange();
        }, this.intervalMs);
      });
    }
  }

  stop(): void {
    if (!this.watching) return;
    this.watching = false;
    if (this.timer !== null) clearTimeout(this.timer);
    for (const file of this.files) unwatchFile(file);
  }
}
