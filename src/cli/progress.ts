/**
 * Progress of a long CLI command, on stderr (stdout stays the command's result, fit for a pipe).
 *
 * On a terminal (stderr or stdout is a TTY) a one-line bar is redrawn in place, at most every 100 ms; anywhere
 * else (CI logs, cron mail) nothing is printed while the work runs and `finish` prints one summary line, so a
 * log holds one line per command rather than hundreds of redraws.
 */
export interface Progress {
  /** `done` units out of `total` (null when the total is unknown: a count is shown instead of a bar). */
  update(done: number, total?: number | null, detail?: string): void;
  /** Clears the bar and prints `summary` as the last line. */
  finish(summary: string): void;
}

export interface ProgressOptions {
  /** Where to write; default process.stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Force the terminal (bar) or plain (summary only) behaviour; default: detected. */
  tty?: boolean;
  /** Units for the count, e.g. `rows`, `files`. */
  unit?: string;
}

const BAR_WIDTH = 24;
const REDRAW_MS = 100;

export function isInteractive(): boolean {
  return process.stderr.isTTY === true || process.stdout.isTTY === true;
}

export function progress(label: string, options: ProgressOptions = {}): Progress {
  const stream = options.stream ?? process.stderr;
  const tty = options.tty ?? isInteractive();
  const unit = options.unit ?? '';
  let drawn = false;
  let lastDraw = 0;
  return {
    update(done, total = null, detail = '') {
      if (!tty) return;
      const now = Date.now();
      const complete = total !== null && done >= total;
      if (!complete && now - lastDraw < REDRAW_MS) return;
      lastDraw = now;
      const count = `${done}${total === null ? '' : `/${total}`}${unit === '' ? '' : ` ${unit}`}`;
      let bar = '';
      if (total !== null && total > 0) {
        const filled = Math.min(BAR_WIDTH, Math.round((done / total) * BAR_WIDTH));
        bar = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${String(Math.floor((done / total) * 100)).padStart(3)}% `;
      }
      let line = `${label} ${bar}${count}${detail === '' ? '' : ` ${detail}`}`;
      const width = (stream as { columns?: number }).columns;
      if (width !== undefined && line.length >= width) line = line.slice(0, width - 1);
      stream.write(`\r\x1b[2K${line}`);
      drawn = true;
    },
    finish(summary) {
      if (drawn) stream.write('\r\x1b[2K');
      drawn = false;
      stream.write(`${summary}\n`);
    },
  };
}
