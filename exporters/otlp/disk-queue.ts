import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  fsync,
  ftruncateSync,
  openSync,
  readFileSync,
  writeFileSync,
  writevSync,
  close,
  unlink,
  unlinkSync,
  constants as fsConstants,
} from 'node:fs';
import { mkdir, readdir, readFile, unlink as unlinkAsync } from 'node:fs/promises';
import { join } from 'node:path';
import * as zlib from 'node:zlib';

/**
 * The persistent queue's storage: append-only segment files in one directory, so that requests accepted
 * while the destination is down survive a restart or a crash (kill -9, OOM kill) and are sent afterwards.
 *
 * Why this shape: `append` runs inside `forward()`, on the ingest path, so it must be cheap and must not
 * wait. It is one `writev` into the page cache of an already-open file (measured: bench/forward-bench.ts); data in the page cache survives the process being killed, only
 * an OS crash or power loss can take it, and for that an `fdatasync` runs off the event loop at most
 * `fsyncIntervalMs` after a write — that interval is the power-loss window (0 = fdatasync inside append).
 *
 * Format (version 1): a segment `NNNNNNNNNNNN.otlpq` starts with the 8 bytes `GLQ\x01\0\0\0\0`, then
 * records `[u32le length][u32le spans][u32le crc32(length, spans, payload)][payload]`. A torn or corrupt
 * record (a crash in the middle of a write, a power loss) ends the segment when it is read back; what
 * came before is kept. Files of another version are left alone and reported.
 *
 * Records are released (delivered, or given up) oldest first. A segment is deleted when all its records
 * are released; the segment being written is truncated back to its header instead, so an idle queue
 * costs no file churn. At least once: after a crash, records delivered but not yet released — at most
 * one segment's worth — are sent again.
 */
export interface DiskQueueOptions {
  /** Rotate to a new segment beyond this size (a record bigger than it gets a segment of its own). */
  segmentBytes: number;
  /** fdatasync at most this long after a write; 0 = in append itself. */
  fsyncIntervalMs: number;
  log: (line: string) => void;
}

/** Where one record lives: released through DiskQueue.release. */
export interface DiskRecord {
  readonly segment: Segment;
}

export interface RecoveredRecord {
  bytes: Uint8Array;
  spans: number;
  ref: DiskRecord;
}

const MAGIC = Buffer.from([0x47, 0x4c, 0x51, 0x01, 0, 0, 0, 0]); // "GLQ" v1
const HEADER = MAGIC.length;
const RECORD_HEADER = 12;
const SEGMENT_NAME = /^(\d{12})\.otlpq$/;
const LOCK_FILE = 'lock';

class Segment {
  fd: number | null = null;
  size = HEADER;
  /** Records written or recovered and not yet released. */
  live = 0;
  /** Written since the last fdatasync. */
  dirty = false;
  /** The fdatasync in progress, if any (closing waits for it). */
  syncing: Promise<void> | null = null;

  constructor(
    readonly seq: number,
    readonly path: string,
  ) {}
}

export class DiskQueue {
  private active: Segment | null = null;
  private nextSeq: number;
  private syncTimer: NodeJS.Timeout | null = null;
  private dirNeedsSync = false;
  private readonly pending = new Set<Promise<void>>();
  private closed = false;

  private constructor(
    readonly directory: string,
    private readonly options: DiskQueueOptions,
    lastSeq: number,
  ) {
    this.nextSeq = lastSeq + 1;
  }

  /**
   * Opens (creating) the directory, takes its lock, and reads back every record still queued, oldest
   * first. Throws when the directory cannot be used or another live process holds it.
   */
  static async open(directory: string, options: DiskQueueOptions): Promise<{ queue: DiskQueue; recovered: RecoveredRecord[] }> {
    await mkdir(directory, { recursive: true });
    takeLock(directory);
    const names = (await readdir(directory)).filter((n) => SEGMENT_NAME.test(n)).sort();
    const lastSeq = names.length === 0 ? 0 : Number(SEGMENT_NAME.exec(names.at(-1)!)![1]);
    const queue = new DiskQueue(directory, options, lastSeq);
    const recovered: RecoveredRecord[] = [];
    for (const name of names) {
      const path = join(directory, name);
      const segment = new Segment(Number(SEGMENT_NAME.exec(name)![1]), path);
      const data = await readFile(path);
      const { records, problem } = parseSegment(data);
      if (problem === 'unknown-format') {
        options.log(`${path}: not a queue segment of this version; left alone`);
        continue;
      }
      if (problem !== null) options.log(`${path}: ${problem}; the records before it are kept`);
      for (const r of records) recovered.push({ bytes: r.bytes, spans: r.spans, ref: { segment } });
      segment.live = records.length;
      segment.size = data.length;
      if (segment.live === 0) await unlinkAsync(path).catch(() => undefined);
    }
    return { queue, recovered };
  }

  /**
   * Appends a record durably against a process crash (see the class comment for power loss). Synchronous
   * by design. Throws on an I/O error (disk full…); the segment is then closed and the next append starts
   * a new one, so a torn record never has records after it.
   */
  append(bytes: Uint8Array, spans: number): DiskRecord {
    if (this.closed) throw new Error('disk queue is closed');
    const recordSize = RECORD_HEADER + bytes.length;
    let segment = this.active;
    if (segment !== null && segment.live > 0 && segment.size + recordSize > this.options.segmentBytes) {
      this.seal(segment);
      segment = null;
    }
    if (segment === null) segment = this.createSegment();
    const header = Buffer.allocUnsafe(RECORD_HEADER);
    header.writeUInt32LE(bytes.length, 0);
    header.writeUInt32LE(spans, 4);
    header.writeUInt32LE(crc32(bytes, crc32(header.subarray(0, 8))), 8);
    try {
      writeFully(segment.fd!, [header, bytes], segment.size);
    } catch (err) {
      this.seal(segment);
      throw err;
    }
    segment.size += recordSize;
    segment.live++;
    segment.dirty = true;
    if (this.options.fsyncIntervalMs === 0) {
      fdatasyncSync(segment.fd!);
      segment.dirty = false;
      if (this.dirNeedsSync) this.syncDirectorySync();
    } else {
      this.scheduleSync();
    }
    return { segment };
  }

  /** The record was delivered (or given up): once a segment has no live record left, its space goes. */
  release(ref: DiskRecord): void {
    const segment = ref.segment;
    segment.live--;
    if (segment.live > 0) return;
    if (segment === this.active) {
      // Idle again: start the file over rather than delete and recreate it for the next request.
      try {
        ftruncateSync(segment.fd!, HEADER);
        segment.size = HEADER;
        return;
      } catch {
        this.seal(segment);
      }
    }
    this.track(this.closeFd(segment).then(() => new Promise<void>((resolve) => unlink(segment.path, () => resolve()))));
  }

  /** fdatasyncs what was written, closes the files and releases the lock. Records still live stay on disk. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.syncTimer !== null) clearTimeout(this.syncTimer);
    this.syncTimer = null;
    if (this.active !== null) this.seal(this.active);
    this.active = null;
    while (this.pending.size > 0) await Promise.all([...this.pending]);
    if (this.dirNeedsSync) this.syncDirectorySync();
    try {
      unlinkLock(this.directory);
    } catch {
      // The lock is taken over by the next process anyway (its pid is gone).
    }
  }

  private createSegment(): Segment {
    const seq = this.nextSeq++;
    const segment = new Segment(seq, join(this.directory, `${String(seq).padStart(12, '0')}.otlpq`));
    const fd = openSync(segment.path, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY, 0o600);
    try {
      writeFully(fd, [MAGIC], 0);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    segment.fd = fd;
    this.active = segment;
    this.dirNeedsSync = true;
    return segment;
  }

  /** No more appends to `segment`: sync and close it (it stays until its records are released). */
  private seal(segment: Segment): void {
    if (this.active === segment) this.active = null;
    this.track(this.closeFd(segment, true));
  }

  private async closeFd(segment: Segment, syncFirst = false): Promise<void> {
    while (segment.syncing !== null) await segment.syncing;
    const fd = segment.fd;
    if (fd === null) return;
    segment.fd = null;
    if (syncFirst && segment.dirty) await new Promise<void>((resolve) => fdatasync(fd, () => resolve()));
    segment.dirty = false;
    await new Promise<void>((resolve) => close(fd, () => resolve()));
  }

  private scheduleSync(): void {
    if (this.syncTimer !== null) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = null;
      this.syncActive();
    }, this.options.fsyncIntervalMs);
    this.syncTimer.unref();
  }

  private syncActive(): void {
    const segment = this.active;
    if (segment !== null && segment.fd !== null && segment.dirty && segment.syncing === null) {
      segment.dirty = false;
      const fd = segment.fd;
      const done = new Promise<void>((resolve) =>
        fdatasync(fd, (err) => {
          if (err) this.options.log(`fdatasync of ${segment.path} failed: ${err.message}`);
          resolve();
        }),
      ).then(() => {
        segment.syncing = null;
      });
      segment.syncing = done;
      this.track(done);
    }
    if (this.dirNeedsSync) {
      this.dirNeedsSync = false;
      this.track(syncDirectory(this.directory));
    }
  }

  private syncDirectorySync(): void {
    this.dirNeedsSync = false;
    try {
      const fd = openSync(this.directory, 'r');
      try {
        fdatasyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } catch {
      // Some file systems refuse to sync a directory; the files themselves are synced.
    }
  }

  private track(p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }
}

/** Makes new segment names durable (a power loss could otherwise lose the file while keeping its data). */
function syncDirectory(directory: string): Promise<void> {
  return new Promise((resolve) => {
    let fd: number;
    try {
      fd = openSync(directory, 'r');
    } catch {
      return resolve();
    }
    fsync(fd, () => close(fd, () => resolve()));
  });
}

/** Writes all of `buffers` at `position`, looping over short writes. */
function writeFully(fd: number, buffers: Uint8Array[], position: number): void {
  let pos = position;
  let rest = buffers.filter((b) => b.length > 0);
  while (rest.length > 0) {
    let n = writevSync(fd, rest, pos);
    pos += n;
    const next: Uint8Array[] = [];
    for (const b of rest) {
      if (n >= b.length) {
        n -= b.length;
        continue;
      }
      next.push(n > 0 ? b.subarray(n) : b);
      n = 0;
    }
    rest = next;
  }
}

/** Records of a segment file, up to the first torn or corrupt one. */
export function parseSegment(data: Buffer): {
  records: { bytes: Uint8Array; spans: number }[];
  problem: string | null;
} {
  if (data.length < HEADER || !data.subarray(0, 4).equals(MAGIC.subarray(0, 4))) {
    return { records: [], problem: data.length < HEADER ? 'truncated header' : 'unknown-format' };
  }
  const records: { bytes: Uint8Array; spans: number }[] = [];
  let pos = HEADER;
  while (pos < data.length) {
    if (pos + RECORD_HEADER > data.length) return { records, problem: `torn record at byte ${pos}` };
    const length = data.readUInt32LE(pos);
    const spans = data.readUInt32LE(pos + 4);
    const sum = data.readUInt32LE(pos + 8);
    const end = pos + RECORD_HEADER + length;
    if (end > data.length) return { records, problem: `torn record at byte ${pos}` };
    const payload = new Uint8Array(data.buffer, data.byteOffset + pos + RECORD_HEADER, length);
    if (crc32(payload, crc32(data.subarray(pos, pos + 8))) !== sum) return { records, problem: `corrupt record at byte ${pos}` };
    records.push({ bytes: payload, spans });
    pos = end;
  }
  return { records, problem: null };
}

/** One process per queue directory: a lock file with the owner's pid, taken over when that pid is gone. */
function takeLock(directory: string): void {
  const path = join(directory, LOCK_FILE);
  try {
    writeFileSync(path, String(process.pid), { flag: 'wx', mode: 0o600 });
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const owner = Number(readFileSync(path, 'utf8').trim());
  if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
    throw new Error(`queue directory ${directory} is in use by process ${owner} (${path})`);
  }
  writeFileSync(path, String(process.pid), { mode: 0o600 });
}

function unlinkLock(directory: string): void {
  const path = join(directory, LOCK_FILE);
  if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

type Crc32 = (data: Uint8Array, value?: number) => number;

/** zlib.crc32 (Node >= 20.15), else a table-driven fallback. */
const crc32: Crc32 = (zlib as unknown as { crc32?: Crc32 }).crc32 ?? crc32Fallback();

function crc32Fallback(): Crc32 {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return (data, value = 0) => {
    let c = ~value >>> 0;
    for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
    return ~c >>> 0;
  };
}
