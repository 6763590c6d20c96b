import type { ResourceOwnership } from '../../processors/attribution/attributor.js';
import type { OwnershipHints } from '../../processors/genai/extract-genai-call.js';
import type { DuplicateReason } from '../../core/ledger-changes.js';
import type { ExceptionReason } from '../../core/ledger-row.js';
import { RootRing } from './root-ring.js';

/**
 * One recently seen span: its place in the trace and, for a GenAI call, what counting it once and
 * attributing it late need. One object per span, linked to its parent and children by pointers (no
 * per-span arrays or maps); plain spans leave the call fields at their defaults.
 */
export class SpanNode {
  parent: SpanNode | null = null;
  /** Children, linked through their `nextSibling`; while the parent is unknown, the list waits in the trace. */
  firstChild: SpanNode | null = null;
  nextSibling: SpanNode | null = null;
  /** A GenAI call with usage somewhere below this span (null: none known). */
  usageBelow: SpanNode | null = null;

  /** A GenAI call (a ledger row); the fields below are meaningful only then. */
  isCall = false;
  /** Reports input or output tokens. */
  hasUsage = false;
  /** How many token classes it reports: the richer of two spans of one call is billed. */
  richness = 0;
  /** Hash of the provider response id (null: none). */
  responseKey: number | null = null;
  /** Span start in ms (approximate: it only narrows the ledger scan of a move or update). */
  startMs = 0;
  /** false: a duplicate (see duplicateOf / duplicateReason). */
  billed = true;
  /** Has a GenAI call with usage below it: never billed again. */
  outer = false;
  duplicateOf: SpanNode | null = null;
  duplicateReason: DuplicateReason | null = null;
  /** Its row was handed to the writer: later changes to it become moves / ownership updates. */
  emitted = false;
  /** Queued in the current change list (so a node flipping twice is listed once). */
  moveQueued = false;
  /** Has no team of its own, and the chain to the root is broken: an ancestor may still arrive. */
  awaitingOwner = false;
  /** The ancestor ownership found late (set when queued for an ownership update). */
  lateOwner: OwnershipHints | null = null;
  /** The call's own ownership attributes and its resource's, to recompute ownership late. */
  hints: OwnershipHints | null = null;
  resource: ResourceOwnership | null = null;
  /** Its exception reasons other than missing_team / missing_cost_center (kept when they may be recomputed). */
  otherReasons: readonly ExceptionReason[] | null = null;

  /** Its trace's entry (set when indexed). */
  trace: TraceEntry | null = null;

  constructor(
    readonly traceId: string,
    /** When it arrived (ms). */
    readonly arrivedAt: number,
    readonly spanId: string,
    readonly parentSpanId: string,
    /**
     * What the span itself carries that its descendants inherit, each field on its own (team, project,
     * environment, server route); null when none.
     */
    readonly owner: OwnershipHints | null,
  ) {}
}

/**
 * The recent spans of one trace. A trace of one span (most GenAI traffic: a call per trace) keeps it in
 * `single` and allocates no map.
 */
export class TraceEntry {
  single: SpanNode | null = null;
  nodes: Map<string, SpanNode> | null = null;
  /** Spans whose parent has not arrived yet, by parent span id (a list through `nextSibling`). */
  waiting: Map<string, SpanNode> | null = null;
  /** The one call with a response id so far, until a second one makes `responses` necessary. */
  firstResponse: SpanNode | null = null;
  /** Calls by response id hash, once two calls in the trace have one. */
  responses: Map<number, SpanNode[]> | null = null;
  /** Calls waiting for an ancestor's ownership. */
  awaitingOwners = 0;
  size = 0;
  /** seenAt when the entry was last put in the eviction queue. */
  queuedAt: number;
  evicted = false;

  constructor(
    readonly traceId: string,
    /** Last time (ms) a span of the trace arrived. */
    public seenAt: number,
  ) {
    this.queuedAt = seenAt;
  }

  get(spanId: string): SpanNode | undefined {
    if (this.nodes !== null) return this.nodes.get(spanId);
    return this.single !== null && this.single.spanId === spanId ? this.single : undefined;
  }

  add(node: SpanNode): void {
    if (this.nodes === null && this.single === null) {
      this.single = node;
    } else {
      if (this.nodes === null) {
        this.nodes = new Map();
        const first = this.single!;
        this.nodes.set(first.spanId, first);
        this.single = null;
      }
      this.nodes.set(node.spanId, node);
    }
    this.size++;
  }
}

export interface TraceIndexOptions {
  /** How long a trace is remembered after its last span arrived. */
  windowMs: number;
  /** Most spans remembered; beyond it the least recently seen traces are forgotten first. */
  maxSpans: number;
}

/**
 * Bounded memory of recent traces: indexed traces in a Map, plus root spans not referred to yet in a
 * {@link RootRing} (no map entry, no objects), indexed in bulk by {@link materialize} when a lookup is needed.
 * A stream of independent calls (one root span per trace) therefore never hashes an id.
 *
 * Indexed traces are evicted along an arrival-ordered queue: those not seen for `windowMs`, then the oldest
 * until at most `maxSpans` spans remain; a whole trace at once. The ring holds at most `maxSpans` roots too.
 */
export class TraceIndex {
  private readonly traces = new Map<string, TraceEntry>();
  private queue: TraceEntry[] = [];
  private head = 0;
  private spanCount = 0;
  readonly roots: RootRing;
  /** Parent ids waited for, over all traces: while none are, a new root span links to nothing. */
  waitingSpans = 0;

  constructor(readonly options: TraceIndexOptions) {
    this.roots = new RootRing(options.maxSpans);
  }

  /** Indexed spans (roots still in the ring not included). */
  get spans(): number {
    return this.spanCount;
  }

  get traceCount(): number {
    return this.traces.size;
  }

  /** The trace's entry, created when new; marks it seen at `now`. Materialize first. */
  trace(traceId: string, now: number): TraceEntry {
    let entry = this.traces.get(traceId);
    if (entry === undefined) {
      entry = new TraceEntry(traceId, now);
      this.traces.set(traceId, entry);
      this.queue.push(entry);
    } else if (now > entry.seenAt) {
      entry.seenAt = now;
    }
    return entry;
  }

  /** The trace's entry if it is indexed (roots in the ring are not). */
  peek(traceId: string): TraceEntry | undefined {
    return this.traces.size === 0 ? undefined : this.traces.get(traceId);
  }

  /** Adds a span to its indexed trace; the caller checked it is not there. */
  add(entry: TraceEntry, node: SpanNode): void {
    node.trace = entry;
    entry.add(node);
    this.spanCount++;
  }

  /** Indexes the roots held in the ring, oldest first, handing each new node to `link`. */
  materialize(now: number, link: (entry: TraceEntry, node: SpanNode) => void): void {
    if (this.roots.size === 0) return;
    this.roots.drain(now - this.options.windowMs, (slot) => {
      const entry = this.trace(slot.traceId, slot.arrivedAt);
      if (entry.get(slot.spanId) !== undefined) return; // a re-sent copy
      const owner =
        slot.teamId === null && slot.projectId === null && slot.environment === null && slot.route === null
          ? null
          : {
              teamId: slot.teamId,
              projectId: slot.projectId,
              environment: slot.environment,
              costCenter: null,
              service: null,
              userId: null,
              route: slot.route,
            };
      const node = new SpanNode(slot.traceId, slot.arrivedAt, slot.spanId, slot.parentSpanId, owner);
      if (slot.isCall) {
        node.isCall = true;
        node.hasUsage = slot.hasUsage;
        node.richness = slot.richness;
        node.responseKey = slot.responseKey;
        node.startMs = slot.startMs;
        node.hints = owner;
        // Its row was written (or is being written by the current request) as billed.
        node.emitted = true;
      }
      this.add(entry, node);
      link(entry, node);
    });
  }

  /** Forgets what was not seen within the window, then the oldest until at most maxSpans spans remain. */
  evict(now: number): number {
    const oldest = now - this.options.windowMs;
    const { maxSpans } = this.options;
    const queue = this.queue;
    let evicted = 0;
    while (this.head < queue.length) {
      const entry = queue[this.head]!;
      if (!entry.evicted) {
        const expired = entry.seenAt <= oldest;
        if (!expired && this.spanCount <= maxSpans) break;
        if (!expired && entry.seenAt !== entry.queuedAt) {
          // Seen again since it was queued: back of the queue, at its new age.
          entry.queuedAt = entry.seenAt;
          queue.push(entry);
        } else {
          entry.evicted = true;
          this.traces.delete(entry.traceId);
          this.spanCount -= entry.size;
          if (entry.waiting !== null) this.waitingSpans -= entry.waiting.size;
          evicted++;
        }
      }
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > queue.length) {
      this.queue = queue.slice(this.head);
      this.head = 0;
    }
    return evicted;
  }
}
