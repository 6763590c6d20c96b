#!/usr/bin/env node
/**
 * `npm run build`: compiles the TypeScript into dist/ without ever leaving dist/ missing or half-written, so a
 * build (npm install's `prepare`, `npm start`, `npm test`, `npx genai-ledger`) can run while a server, a test
 * run or another build is using dist/.
 *
 * - Up to date (same sources, tsconfig, lockfile and TypeScript version as the stamp in dist/): nothing to
 *   do, prints nothing. `--force` builds anyway.
 * - Otherwise tsc compiles into a fresh `dist.tmp-<pid>/` beside dist/, and the complete new tree is swapped
 *   in with two renames (dist/ → `dist.old-<pid>-<n>/`, `dist.tmp-<pid>/` → dist/), after which the old one
 *   is removed. Files of deleted sources go with the old tree. A process that is loading modules meanwhile
 *   gets them from one complete tree or the other. Two builds at once each swap in a complete tree; the last
 *   one stays. A failed compile leaves dist/ as it was.
 *
 * Plain Node, no dependencies beyond TypeScript itself. The test is test/build-script.test.ts.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** Written into the built tree; its fingerprint says which inputs the tree was built from. */
export const STAMP_FILE = '.build-stamp.json';
const DEFAULT_ESTIMATE_SECONDS = 15;

/**
 * Moves the complete tree `fresh` to `target`, replacing whatever is there. Never deletes `target` before
 * the new tree is in place: the old one is renamed aside first and removed after. Safe against another
 * process doing the same at the same time (each attempt moves the current target aside and retries).
 */
export function swapIn(fresh, target, tag = String(process.pid)) {
  const aside = [];
  try {
    for (let attempt = 0; ; attempt++) {
      const old = `${target}.old-${tag}-${attempt}`;
      try {
        renameSync(target, old);
        aside.push(old);
      } catch (err) {
        if (err.code !== 'ENOENT') throw err;
      }
      try {
        renameSync(fresh, target);
        return;
      } catch (err) {
        // Another build put its tree in between our two renames: move that one aside too and retry.
        if ((err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') || attempt >= 100) throw err;
      }
    }
  } finally {
    for (const old of aside) rmSync(old, { recursive: true, force: true });
  }
}

/**
 * A hash of everything the compiled output depends on: the `.ts`/`.json` files under the tsconfig's
 * `include` roots, tsconfig.json, package-lock.json and the compiler's version.
 */
export function inputFingerprint(root, compilerVersion = '') {
  const hash = createHash('sha256');
  hash.update(`compiler ${compilerVersion}\n`);
  for (const name of ['tsconfig.json', 'package-lock.json']) {
    const file = join(root, name);
    if (existsSync(file)) hash.update(`${name}\n`).update(readFileSync(file));
  }
  const tsconfig = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8'));
  const roots = [...new Set((tsconfig.include ?? ['.']).map((pattern) => pattern.split('/')[0]))].sort();
  for (const dir of roots) {
    for (const file of listFiles(join(root, dir))) {
      if (!/\.(?:[cm]?ts|json)$/.test(file)) continue;
      hash.update(`\n${relative(root, file)}\n`).update(readFileSync(file));
    }
  }
  return hash.digest('hex');
}

function listFiles(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return [];
    throw err;
  }
  const files = [];
  for (const entry of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...listFiles(path));
    else if (entry.isFile()) files.push(path);
  }
  return files;
}

function readStamp(dist) {
  try {
    return JSON.parse(readFileSync(join(dist, STAMP_FILE), 'utf8'));
  } catch {
    return null;
  }
}

/** Removes `dist.tmp-<pid>` and `dist.old-<pid>-<n>` left by builds that were killed. */
function removeAbandoned(root, outName) {
  const pattern = new RegExp(`^${outName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(?:tmp|old)-(\\d+)(?:-\\d+)?$`);
  for (const name of readdirSync(root)) {
    const pid = Number(pattern.exec(name)?.[1]);
    if (!Number.isInteger(pid) || pid === process.pid || isRunning(pid)) continue;
    rmSync(join(root, name), { recursive: true, force: true });
  }
}

function isRunning(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/**
 * Builds `root/outName` unless it is up to date. `compile(outDir)` writes the complete output into the empty
 * directory it is given and resolves, or rejects (then nothing is swapped in). Returns what happened.
 */
export async function buildDist({ root, outName = 'dist', compile, compilerVersion = '', force = false, log = (s) => process.stderr.write(s) }) {
  const target = join(root, outName);
  const fingerprint = inputFingerprint(root, compilerVersion);
  const stamp = readStamp(target);
  if (!force && stamp?.fingerprint === fingerprint) return { built: false };
  removeAbandoned(root, outName);
  const estimate = Math.max(1, Math.round(stamp?.seconds ?? DEFAULT_ESTIMATE_SECONDS));
  log(`genai-ledger: building ${outName}/ (TypeScript, ~${estimate} s)…`);
  const started = performance.now();
  const fresh = `${target}.tmp-${process.pid}`;
  rmSync(fresh, { recursive: true, force: true });
  try {
    await compile(fresh);
    const seconds = (performance.now() - started) / 1000;
    writeFileSync(join(fresh, STAMP_FILE), `${JSON.stringify({ fingerprint, seconds: Math.round(seconds * 10) / 10 })}\n`);
    swapIn(fresh, target);
    log(` done in ${seconds.toFixed(1)} s\n`);
    return { built: true, seconds };
  } catch (err) {
    log(' failed\n');
    rmSync(fresh, { recursive: true, force: true });
    throw err;
  }
}

/** Runs this project's tsc with `--outDir outDir`; its diagnostics go to stdout, as tsc's do. */
function tscInto(root, tscPath) {
  return (outDir) =>
    new Promise((resolveDone, reject) => {
      const child = spawn(process.execPath, [tscPath, '-p', join(root, 'tsconfig.json'), '--outDir', outDir], {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const output = [];
      child.stdout.on('data', (d) => output.push(d));
      child.stderr.on('data', (d) => output.push(d));
      child.once('error', reject);
      child.once('close', (code, signal) => {
        if (code === 0) {
          // The bin entry point must be executable (npx, a global install).
          chmodSync(join(outDir, 'src/cli/main.js'), 0o755);
          return resolveDone();
        }
        const error = new Error(`tsc failed (${signal ?? `exit code ${code}`})`);
        error.output = Buffer.concat(output).toString();
        error.exitCode = code ?? 1;
        reject(error);
      });
    });
}

async function main(argv) {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
  const require = createRequire(join(root, 'package.json'));
  const tsPackage = require.resolve('typescript/package.json');
  const { version } = JSON.parse(readFileSync(tsPackage, 'utf8'));
  const tscPath = join(dirname(tsPackage), 'bin', 'tsc');
  try {
    await buildDist({ root, compile: tscInto(root, tscPath), compilerVersion: version, force: argv.includes('--force') });
    return 0;
  } catch (err) {
    if (err.output !== undefined) {
      process.stdout.write(err.output);
      process.stderr.write(`genai-ledger: ${err.message}; dist/ was left as it was\n`);
      return err.exitCode;
    }
    process.stderr.write(`genai-ledger: build failed: ${err.stack ?? err}\n`);
    return 1;
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = await main(process.argv.slice(2));
}
