import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import fc from 'fast-check';
import { DiskQueue, type DiskRecord } from './disk-queue.js';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fwd-diskq-'));
  dirs.push(dir);
  return dir;
}

const payload = (i: number, size = 100) => new Uint8Array(size).fill(i % 251);
const segments = async (dir: string) => (await readdir(dir)).filter((n) => n.endsWith('.otlpq')).sort();

async function open(dir: string, segmentBytes = 1 << 20, fsyncIntervalMs = 5) {
  const lines: string[] = [];
  const result = await DiskQueue.open(dir, { segmentBytes, fsyncIntervalMs, log: (l) => lines.push(l) });
  return { ...result, lines };
}

describe('DiskQueue', () => {
  it('gives back every appended record, in order, after a reopen', async () => {
    const dir = await tempDir();
    const { queue } = await open(dir, 1000);
    for (let i = 0; i < 25; i++) queue.append(payload(i), i + 1);
    assert.ok((await segments(dir)).length > 1, 'rotated into several segments');
    await queue.close();
    const again = await open(dir, 1000);
    assert.deepEqual(
      again.recovered.map((r) => [r.spans, Buffer.from(r.bytes).equals(Buffer.from(payload(r.spans - 1)))]),
      Array.from({ length: 25 }, (_, i) => [i + 1, true]),
    );
    await again.queue.close();
  });

  it('deletes segments whose records are all released, and empties the active one instead of deleting it', async () => {
    const dir = await tempDir();
    const { queue } = await open(dir, 1000);
    const refs: DiskRecord[] = [];
    for (let i = 0; i < 25; i++) refs.push(queue.append(payload(i), 1));
    const before = await segments(dir);
    for (const ref of refs.slice(0, 20)) queue.release(ref);
    await queue.close();
    const after20 = await segments(dir);
    assert.ok(after20.length < before.length);
    const again = await open(dir, 1000);
    // Whole segments go; records of a partly released segment come back (at least once).
    assert.ok(again.recovered.length >= 5 && again.recovered.length < 25, String(again.recovered.length));
    assert.deepEqual(again.recovered.at(-1)!.bytes, payload(24));
    for (const r of again.recovered) again.queue.release(r.ref);
    const r = again.queue.append(payload(1), 1);
    again.queue.release(r);
    await again.queue.close();
    const left = await segments(dir);
    assert.equal(left.length, 1, 'the segment written last stays, empty');
    assert.equal((await stat(join(dir, left[0]!))).size, 8);
    assert.deepEqual((await open(dir)).recovered, []);
  });

  it('keeps the records before a torn or corrupt one, and says so', async () => {
    const dir = await tempDir();
    const { queue } = await open(dir);
    for (let i = 0; i < 3; i++) queue.append(payload(i), 1);
    await queue.close();
    const [name] = await segments(dir);
    const path = join(dir, name!);
    await truncate(path, 8 + 2 * 112 + 50); // a crash in the middle of writing the third record
    const torn = await open(dir);
    assert.equal(torn.recovered.length, 2);
    assert.match(torn.lines.join('\n'), /torn record at byte 232; the records before it are kept/);
    await torn.queue.close();

    const bytes = await readFile(path);
    bytes[8 + 112 + 20]! ^= 0xff; // a flipped bit in the second record's payload
    await writeFile(path, bytes);
    const corrupt = await open(dir);
    assert.equal(corrupt.recovered.length, 1);
    assert.match(corrupt.lines.join('\n'), /corrupt record at byte 120/);
    await corrupt.queue.close();
  });

  it('leaves files of an unknown format alone', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, '000000000001.otlpq'), 'something else entirely');
    const { recovered, lines, queue } = await open(dir);
    assert.deepEqual(recovered, []);
    assert.match(lines.join('\n'), /not a queue segment of this version; left alone/);
    queue.append(payload(1), 1);
    await queue.close();
    assert.deepEqual(await segments(dir), ['000000000001.otlpq', '000000000002.otlpq']);
  });

  it('refuses a directory held by another live process, and takes over from a dead one', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, 'lock'), String(process.ppid));
    await assert.rejects(open(dir), new RegExp(`in use by process ${process.ppid}`));
    await writeFile(join(dir, 'lock'), '2147483646'); // no such process
    const { queue } = await open(dir);
    assert.equal(await readFile(join(dir, 'lock'), 'utf8'), String(process.pid));
    await queue.close();
    assert.ok(!(await readdir(dir)).includes('lock'));
  });

  it('with fsyncIntervalMs 0 syncs inside append (and still reads back)', async () => {
    const dir = await tempDir();
    const { queue } = await open(dir, 1 << 20, 0);
    queue.append(payload(7, 10_000), 3);
    await queue.close();
    const again = await open(dir);
    assert.deepEqual(again.recovered.map((r) => [r.spans, r.bytes.length]), [[3, 10_000]]);
    await again.queue.close();
  });

  it('model check: after any appends, releases (oldest first) and reopens, what comes back is what was live, at least once', async () => {
    const dir = await tempDir();
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.record({ op: fc.constant('append' as const), size: fc.integer({ min: 0, max: 700 }) }), fc.constant({ op: 'release' as const }), fc.constant({ op: 'reopen' as const })), { maxLength: 40 }),
        async (ops) => {
          await rm(dir, { recursive: true, force: true });
          let { queue } = await open(dir, 1500);
          let live: { id: number; ref: DiskRecord }[] = [];
          let id = 0;
          for (const step of ops) {
            if (step.op === 'append') {
              const n = id++;
              const bytes = new Uint8Array(step.size + 4);
              new DataView(bytes.buffer).setUint32(0, n);
              live.push({ id: n, ref: queue.append(bytes, n) });
            } else if (step.op === 'release') {
              const first = live.shift();
              if (first !== undefined) queue.release(first.ref);
            } else {
              await queue.close();
              const again = await open(dir, 1500);
              queue = again.queue;
              const ids = again.recovered.map((r) => r.spans);
              const liveIds = live.map((l) => l.id);
              // Everything live is back, in order, possibly after some already released (duplicates).
              assert.deepEqual(ids.slice(ids.length - liveIds.length), liveIds);
              assert.deepEqual([...ids].sort((a, b) => a - b), ids);
              live = again.recovered.map((r) => ({ id: r.spans, ref: r.ref }));
            }
          }
          await queue.close();
        },
      ),
      { numRuns: 60 },
    );
  });
});
