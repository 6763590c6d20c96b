import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (these tests run from dist/test/deploy/). */
export const REPO_ROOT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'deploy'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('repository root (package.json next to deploy/) not found');
    dir = up;
  }
  return dir;
})();

export const repoPath = (...parts: string[]) => join(REPO_ROOT, ...parts);

/**
 * The path of a command these tests need. A missing tool fails the test with the command that installs
 * it: the deploy files are only proven by the real tools, so a skip would prove nothing.
 */
export function requireTool(name: string, install: string): string {
  const found = findTool(name);
  if (found === null) throw new Error(`${name} is not installed: install it: ${install}`);
  return found;
}

export function findTool(name: string): string | null {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir !== '' && existsSync(join(dir, name))) return join(dir, name);
  }
  return null;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (bounded by `timeoutMs`), never throwing for a non-zero exit. */
export function run(command: string, args: readonly string[], options: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { cwd: options.cwd ?? REPO_ROOT, timeout: options.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024, env: options.env ?? process.env },
      (err, stdout, stderr) => {
        if (err !== null && typeof err.code !== 'number') {
          reject(new Error(`${command} ${args.join(' ')}: ${err.message}\n${stderr}`));
          return;
        }
        resolve({ code: err === null ? 0 : (err.code as number), stdout, stderr });
      },
    );
  });
}

/** `label: stdout+stderr` for assertion messages. */
export const output = (r: RunResult) => `exit ${r.code}\n${r.stdout}\n${r.stderr}`;
