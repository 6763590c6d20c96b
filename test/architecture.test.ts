/**
 * The architecture as the folders say it (DESIGN.md): core/ holds the types and contracts every component
 * imports and imports nothing of ours; the import graph between our modules has no cycles.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const FOLDERS = ['core', 'src', 'receivers', 'processors', 'exporters'];
const IMPORT = /(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)\.js['"]/g;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

const graph = new Map<string, string[]>();
for (const folder of FOLDERS) {
  for (const file of sources(join(ROOT, folder))) {
    const from = relative(ROOT, file);
    const deps = [...readFileSync(file, 'utf8').matchAll(IMPORT)].map((m) => normalize(join(dirname(from), `${m[1]}.ts`)));
    graph.set(from, deps);
  }
}

test('core/ imports nothing of ours outside core/', () => {
  const outside = [...graph].flatMap(([from, deps]) => (from.startsWith('core/') ? deps.filter((d) => !d.startsWith('core/')).map((d) => `${from} → ${d}`) : []));
  assert.deepEqual(outside, []);
});

test('the import graph has no cycles', () => {
  const state = new Map<string, 'visiting' | 'done'>();
  const cycles: string[] = [];
  const visit = (node: string, path: string[]): void => {
    if (state.get(node) === 'done') return;
    if (state.get(node) === 'visiting') {
      cycles.push([...path.slice(path.indexOf(node)), node].join(' → '));
      return;
    }
    state.set(node, 'visiting');
    for (const dep of graph.get(node) ?? []) if (graph.has(dep)) visit(dep, [...path, node]);
    state.set(node, 'done');
  };
  for (const node of graph.keys()) visit(node, []);
  assert.deepEqual(cycles, []);
});
