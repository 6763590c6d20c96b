/**
 * The forwarder's queue: encoded requests waiting to be sent, oldest first, bounded in bytes. When it is
 * full the NEW request is refused (the caller drops and counts it): what was accepted first is delivered
 * first, and memory never grows past `maxBytes`.
 */
export interface QueuedBatch<Ref = unknown> {
  /** An encoded ExportTraceServiceRequest. */
  bytes: Uint8Array;
  spans: number;
  /** When it was queued (the forwarder's clock), for `retry.maxElapsedMs`. */
  queuedAt: number;
  /** Failed attempts so far. */
  attempts: number;
  /** Where it is stored on disk (persistent queue), or null. */
  ref: Ref | null;
}

export class BatchQueue<Ref = unknown> {
  private items: (QueuedBatch<Ref> | undefined)[] = [];
  private head = 0;
  private queuedBytes = 0;
  private queuedSpans = 0;
  private waiter: (() => void) | null = null;

  constructor(readonly maxBytes: number) {}

  get bytes(): number {
    return this.queuedBytes;
  }

  get spans(): number {
    return this.queuedSpans;
  }

  get length(): number {
    return this.items.length - this.head;
  }

  /** True when a request of `bytes` would fit now. */
  fits(bytes: number): boolean {
    return this.queuedBytes + bytes <= this.maxBytes;
  }

  /**
   * Appends unless it does not fit; `force` appends anyway (batches recovered from disk at start, which
   * were accepted before and must not be lost because the limit was lowered).
   */
  push(batch: QueuedBatch<Ref>, force = false): boolean {
    if (!force && !this.fits(batch.bytes.length)) return false;
    this.items.push(batch);
    this.queuedBytes += batch.bytes.length;
    this.queuedSpans += batch.spans;
    this.wake();
    return true;
  }

  peek(): QueuedBatch<Ref> | undefined {
    return this.items[this.head];
  }

  shift(): QueuedBatch<Ref> | undefined {
    const batch = this.items[this.head];
    if (batch === undefined) return undefined;
    this.items[this.head++] = undefined;
    this.queuedBytes -= batch.bytes.length;
    this.queuedSpans -= batch.spans;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return batch;
  }

  /** Resolves when a batch is pushed or `wake()` is called (at once if the queue is not empty). */
  waitForBatch(): Promise<void> {
    if (this.length > 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  /** Releases a pending waitForBatch (shutdown). */
  wake(): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }
}
