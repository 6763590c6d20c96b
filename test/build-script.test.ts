/**
 * scripts/build.mjs on small fake trees: the swap never leaves the output missing or half-written, stale files
 * go, an up-to-date tree is left alone quietly, a failed compile changes nothing, and builds in several
 * processes at once all succeed while a reader keeps finding a complete tree.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';

interface BuildScript {
  STAMP_FILE: string;
  swapIn(fresh: string, target: string, tag?: string): void;
  buildDist(options: {
    root: string;
    outName?: string;
    compile: (outDir: string) => Promise<void>;
    force?: boolean;
    log?: (text: string) => void;
  }): Promise<{ built: boolean }>;
}

/** From dist/test/ to the repository's scripts/ (the script is plain JavaScript, not compiled). */
const SCRIPT = new URL('../../scripts/build.mjs', import.meta.url);
const FILES = 200;

let build: BuildScript;
let dir: string;
before(async () => {
  build = (await import(SCRIPT.href)) as BuildScript;
  dir = await mkdtemp(join(tmpdir(), 'genai-ledger-build-'));
});
after(() => rm(dir, { recursive: true, force: true }));

async function fakeProject(name: string): Promise<string> {
  const root = join(dir, name);
  await mkdir(join(root, 'src'), { recursive: true });
  await writeFile(join(root, 'tsconfig.json'), JSON.stringify({ include: ['src/**/*.ts'] }));
  await writeFile(join(root, 'src', 'a.ts'), 'export const a = 1;\n');
  return root;
}

/** A compile that writes `FILES` files named after the version, pausing now and then like tsc. */
const fakeCompile = (version: string) => async (out: string) => {
  await mkdir(join(out, 'src'), { recursive: true });
  for (let i = 0; i < FILES; i++) {
    await writeFile(join(out, 'src', `f${i}.js`), `// ${version}\n`);
    if (i % 25 === 0) await sleep(2);
  }
};

async function treeNames(root: string): Promise<string[]> {
  return (await readdir(root)).filter((n) => n !== 'tsconfig.json' && n !== 'src').sort();
}

test('swapIn replaces the whole tree: new files in, stale files gone, nothing left beside it', async () => {
  const root = join(dir, 'swap');
  await mkdir(join(root, 'dist'), { recursive: true });
  await mkdir(join(root, 'dist.tmp-1'));
  await writeFile(join(root, 'dist', 'a.js'), 'old');
  await writeFile(join(root, 'dist', 'deleted-source.js'), 'old');
  await writeFile(join(root, 'dist.tmp-1', 'a.js'), 'new');
  await writeFile(join(root, 'dist.tmp-1', 'b.js'), 'new');
  build.swapIn(join(root, 'dist.tmp-1'), join(root, 'dist'));
  assert.deepEqual((await readdir(join(root, 'dist'))).sort(), ['a.js', 'b.js']);
  assert.equal(await readFile(join(root, 'dist', 'a.js'), 'utf8'), 'new');
  assert.deepEqual(await readdir(root), ['dist']);
  // and into a place where there is no tree yet
  await mkdir(join(root, 'dist.tmp-2'));
  build.swapIn(join(root, 'dist.tmp-2'), join(root, 'out'));
  assert.deepEqual((await readdir(root)).sort(), ['dist', 'out']);
});

test('an up-to-date tree is left alone without a word; a changed source rebuilds; a failed compile changes nothing', async () => {
  const root = await fakeProject('incremental');
  const logged: string[] = [];
  const log = (s: string) => logged.push(s);
  assert.equal((await build.buildDist({ root, compile: fakeCompile('v1'), log })).built, true);
  assert.match(logged.join(''), /^genai-ledger: building dist\/ \(TypeScript, ~15 s\)… done in \d+\.\d s\n$/);
  assert.ok((await readdir(join(root, 'dist'))).includes(build.STAMP_FILE));

  logged.length = 0;
  let compiled = false;
  const second = await build.buildDist({ root, compile: async () => void (compiled = true), log });
  assert.equal(second.built, false);
  assert.equal(compiled, false);
  assert.deepEqual(logged, [], 'quiet when there is nothing to do');

  await writeFile(join(root, 'src', 'a.ts'), 'export const a = 2;\n');
  await assert.rejects(
    build.buildDist({
      root,
      log,
      compile: async (out) => {
        await mkdir(out);
        await writeFile(join(out, 'half.js'), '');
        throw new Error('type errors');
      },
    }),
    /type errors/,
  );
  assert.match(logged.join(''), / failed\n$/);
  assert.equal(await readFile(join(root, 'dist', 'src', 'f0.js'), 'utf8'), '// v1\n', 'the old tree stays');
  assert.deepEqual(await treeNames(root), ['dist'], 'the half-written tree is removed');

  assert.equal((await build.buildDist({ root, compile: fakeCompile('v2'), log })).built, true);
  assert.equal(await readFile(join(root, 'dist', 'src', 'f0.js'), 'utf8'), '// v2\n');
});

test('three builds in separate processes at once all succeed, and every look at dist/ meanwhile finds a complete tree', async () => {
  const root = await fakeProject('concurrent');
  await build.buildDist({ root, compile: fakeCompile('v0'), log: () => {} });
  const driver = join(dir, 'driver.mjs');
  await writeFile(
    driver,
    `import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildDist } from ${JSON.stringify(SCRIPT.href)};
const [root, version] = process.argv.slice(2);
await buildDist({ root, force: true, compile: async (out) => {
  await mkdir(join(out, 'src'), { recursive: true });
  for (let i = 0; i < ${FILES}; i++) {
    await writeFile(join(out, 'src', 'f' + i + '.js'), '// ' + version + '\\n');
    if (i % 25 === 0) await sleep(2);
  }
} });
`,
  );
  const run = (version: string) =>
    new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [driver, root, version], { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('close', (code) => resolve({ code, stderr }));
    });
  let running = true;
  let looks = 0;
  let missing = 0;
  const reader = (async () => {
    while (running) {
      try {
        const files = await readdir(join(root, 'dist', 'src'));
        looks++;
        assert.equal(files.length, FILES, 'a tree in dist/ is always complete');
      } catch (err) {
        // Only in the instant between the two renames of a swap.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        missing++;
      }
      await sleep(1);
    }
  })();
  const results = await Promise.all(['v1', 'v2', 'v3'].map(run));
  running = false;
  await reader;
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  assert.ok(looks > 10, `the reader looked ${looks} times`);
  assert.ok(missing <= looks / 10, `dist/ was missing at ${missing} of ${looks + missing} looks`);
  const final = await readFile(join(root, 'dist', 'src', 'f0.js'), 'utf8');
  assert.match(final, /^\/\/ v[123]\n$/);
  for (let i = 0; i < FILES; i++) assert.equal(await readFile(join(root, 'dist', 'src', `f${i}.js`), 'utf8'), final, 'one build\'s tree');
  assert.deepEqual(await treeNames(root), ['dist'], 'no temporary or old trees left');
});
