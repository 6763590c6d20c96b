import type { ResourceOwnership } from '../../processors/attribution/attributor.js';
import type { GenAiCall, OwnershipHints } from '../../processors/genai/extract-genai-call.js';
import type { ExceptionReason } from '../../core/ledger-row.js';
import type { RestoredSpan } from '../../core/exporter.js';
import { hashText } from './root-ring.js';
import { SpanNode, TraceIndex, type TraceEntry, type TraceIndexOptions } from './trace-index.js';

const NO_OWNER: OwnershipHints = { teamId: null, projectId: null, costCenter: null, environment: null, service: null, userId: null };

/** Longest ancestor chain walked (a guard against cycles in hostile parent ids). */
const MAX_DEPTH = 256;

export type { RestoredSpan } from '../../core/exporter.js';

/** How many token classes a call reports: the richer of two spans of one provider call is billed. */
export function callRichness(call: GenAiCall): number {
  return (
    (call.inputTokens === null ? 0 : 1) +
    (call.cachedInputTokens === null ? 0 : 1) +
    (call.cacheWriteTokens === null ? 0 : 1) +
    (call.outputTokens === null ? 0 : 1) +
    (call.reasoningTokens === null ? 0 : 1)
  );
}

const OWNER_REASONS: ReadonlySet<string> = new Set(['missing_team', 'missing_cost_center']);

/**
 * Decides, from the trace index, which GenAI spans are billed and who owns them, whatever order the spans
 * of a trace arrive in (docs/instrumentation.md, "Counted once"):
 *
 * - a GenAI call with a GenAI call with usage below it is an **outer span** (AI SDK wrapper, agent step,
 *   framework span around an SDK span): a duplicate of the innermost call;
 * - among the other calls of a trace that report the same provider response id (one call traced twice:
 *   SDK built-in tracing plus an instrumentation library, a gateway and its client), the one with usage and
 *   the most token classes is billed (ties: the lower span id), the others are duplicates;
 * - each ownership field a call lacks (team, project, environment) comes from its nearest ancestor that has that
 *   field, and so does the `http.route` of the nearest SERVER span; a call without a team of its own also takes the
 *   team of an ancestor that arrives later (within the window).
 *
 * Each arrival updates the nodes it touches; a change to a row already handed to the writer is queued as a
 * move or an ownership update, which the writer commits in the same transaction as the request's rows.
 * Synchronous and free of I/O.
 */
export class SpanLineage {
  readonly index: TraceIndex;
  private now = 0;
  /** Set by {@link observe}: the span was already indexed (a re-sent export). */
  resent = false;
  /** Set by {@link ancestorOwner}: the walk stopped at a parent that has not arrived. */
  private brokenChain = false;
  private moves: SpanNode[] = [];
  private ownerUpdates: SpanNode[] = [];
  private readonly stack: SpanNode[] = [];

  constructor(options: TraceIndexOptions) {
    this.index = new TraceIndex(options);
  }

  /** Starts a request at wall-clock `now` (ms). */
  begin(now: number): void {
    this.now = now;
  }

  /** Ends a request: forgets traces beyond the window or the size bound. */
  end(): void {
    this.index.evict(this.now);
  }

  /**
   * Indexes one span (every span that could matter to another: a later child needs the chain). `owner`: the
   * ownership the span carries itself (null when none); `route`: its `http.route` when it is a SERVER span. For a GenAI call pass `call` and its
   * resource ownership. Returns the span's node, or null for a root span held in the ring (billed, nothing
   * known about it yet); `resent` tells whether the span was already indexed.
   */
  observe(
    traceId: string,
    spanId: string,
    parentSpanId: string,
    owner: OwnershipHints | null,
    call: GenAiCall | null,
    startMs: number,
    resource: ResourceOwnership | null,
    route: string | null = null,
  ): SpanNode | null {
    const index = this.index;
    const parent = parentSpanId === spanId ? '' : parentSpanId;
    this.resent = false;
    // The common case: no indexed span waits for a parent, and this span decides nothing by arriving (a root
    // whose trace is not indexed, or a plain span without ownership). Nothing can refer to it yet, so it goes
    // to the ring: no map, no objects. The next span that needs a lookup indexes the ring first.
    if (
      index.waitingSpans === 0 &&
      (parent === '' || (call === null && owner === null)) &&
      index.peek(traceId) === undefined
    ) {
      const held = index.roots.push(
        traceId,
        spanId,
        parent,
        this.now,
        startMs,
        call !== null,
        call !== null && (call.inputTokens !== null || call.outputTokens !== null),
        call === null ? 0 : callRichness(call),
        call === null || call.responseId === null ? null : hashText(call.responseId),
        owner === null ? null : owner.teamId,
        owner === null ? null : owner.projectId,
        owner === null ? null : owner.environment,
        route,
      );
      if (held) return null;
    }
    index.materialize(this.now, this.linkFn);
    const trace = index.trace(traceId, this.now);
    const existing = trace.get(spanId);
    if (existing !== undefined) {
      this.resent = true;
      return existing;
    }
    // The route is handed down like ownership (held apart above so the ring path allocates nothing for it).
    const inherited = route === null ? owner : { ...(owner ?? NO_OWNER), route };
    const node = new SpanNode(traceId, this.now, spanId, parent, inherited);
    if (call !== null) {
      node.isCall = true;
      node.hasUsage = call.inputTokens !== null || call.outputTokens !== null;
      node.richness = callRichness(call);
      node.responseKey = call.responseId === null ? null : hashText(call.responseId);
      node.startMs = startMs;
      node.hints = call.ownership;
      node.resource = resource;
    }
    index.add(trace, node);
    this.link(trace, node);
    return node;
  }

  private readonly linkFn = (trace: TraceEntry, node: SpanNode): void => this.link(trace, node);

  /**
   * The ownership of the nearest ancestor of `node` that carries a team, or null. After null, `chainBroken`
   * tells whether the walk stopped at a parent that has not arrived (so one may still come).
   */
  ancestorOwner(node: SpanNode): OwnershipHints | null {
    let current = node;
    for (let depth = 0; depth < MAX_DEPTH; depth++) {
      const parent = current.parent;
      if (parent === null) {
        this.brokenChain = current.parentSpanId !== '';
        return null;
      }
      if (parent.owner !== null && parent.owner.teamId !== null) return parent.owner;
      current = parent;
    }
    this.brokenChain = false;
    return null;
  }

  /**
   * Each inherited field on its own, from the nearest ancestor of `node` that has it: team, project, environment
   * and server route (DESIGN.md: every ownership field is resolved on its own). The walk stops early once every
   * field is found; null when no ancestor has any. After it, `chainBroken` tells whether the walk stopped at a
   * parent that has not arrived.
   */
  ancestorHints(node: SpanNode): OwnershipHints | null {
    let teamId: string | null = null;
    let projectId: string | null = null;
    let environment: string | null = null;
    let route: string | null = null;
    let found: OwnershipHints | null = null;
    let current = node;
    this.brokenChain = false;
    for (let depth = 0; depth < MAX_DEPTH; depth++) {
      const parent = current.parent;
      if (parent === null) {
        this.brokenChain = current.parentSpanId !== '';
        break;
      }
      const owner = parent.owner;
      if (owner !== null) {
        found ??= owner;
        teamId ??= owner.teamId;
        projectId ??= owner.projectId;
        environment ??= owner.environment;
        route ??= owner.route ?? null;
        if (teamId !== null && projectId !== null && environment !== null && route !== null) break;
      }
      current = parent;
    }
    if (found === null) return null;
    return { teamId, projectId, environment, route, costCenter: null, service: null, userId: null };
  }

  get chainBroken(): boolean {
    return this.brokenChain;
  }

  /** Marks a call's row as written, remembering what a late ownership update needs. */
  emitted(node: SpanNode, awaitingOwner: boolean, exceptions: readonly ExceptionReason[]): void {
    node.emitted = true;
    if (awaitingOwner && !node.awaitingOwner && node.trace !== null) {
      node.awaitingOwner = true;
      node.trace.awaitingOwners++;
      node.otherReasons = exceptions.filter((r) => !OWNER_REASONS.has(r));
    }
  }

  /** Rows already written whose billed/duplicate side changed since they were; clears the list. */
  takeMoves(): SpanNode[] {
    if (this.moves.length === 0) return this.moves;
    const moves = this.moves;
    this.moves = [];
    for (const node of moves) node.moveQueued = false;
    return moves;
  }

  /** Rows already written that found an ancestor's ownership (node.lateOwner); clears the list. */
  takeOwnerUpdates(): SpanNode[] {
    if (this.ownerUpdates.length === 0) return this.ownerUpdates;
    const updates = this.ownerUpdates;
    this.ownerUpdates = [];
    return updates;
  }

  /**
   * Rebuilds the index from the ledger's recent rows after a restart (oldest first). A decision that differs
   * from what the ledger holds (a parent and child both billed because they straddled the restart of an
   * older build) is queued as a move, like any late change.
   */
  restore(spans: readonly RestoredSpan[], now: number, resourceOf: (span: RestoredSpan) => ResourceOwnership): void {
    this.begin(now);
    const restored: SpanNode[] = [];
    this.index.materialize(now, this.linkFn);
    for (const s of spans) {
      const trace = this.index.trace(s.traceId, now);
      if (trace.get(s.spanId) !== undefined) continue;
      const hints: OwnershipHints = {
        teamId: s.attributionSource === 'span' ? s.teamId : null,
        projectId: null,
        costCenter: null,
        environment: null,
        service: null,
        userId: null,
      };
      const owner = hints.teamId !== null ? { ...hints, projectId: s.projectId, environment: s.environment } : null;
      const node = new SpanNode(s.traceId, now, s.spanId, s.parentSpanId === s.spanId ? '' : s.parentSpanId, owner);
      node.isCall = true;
      node.hasUsage = s.hasUsage;
      node.richness = s.richness;
      node.responseKey = s.responseId === null ? null : hashText(s.responseId);
      node.startMs = s.startMs;
      node.hints = hints;
      node.resource = resourceOf(s);
      node.emitted = true;
      if (!s.billed) {
        node.billed = false;
        node.duplicateReason = 'same_response_id'; // refined by link() when it is an outer span
        const of = s.duplicateOfTraceId === s.traceId && s.duplicateOfSpanId !== null ? trace.get(s.duplicateOfSpanId) : undefined;
        node.duplicateOf = of ?? null;
      }
      this.index.add(trace, node);
      this.link(trace, node);
      if (s.attributionSource !== 'span' && s.attributionSource !== 'ancestor') restored.push(node);
      node.otherReasons = s.exceptions.filter((r) => !OWNER_REASONS.has(r)) as ExceptionReason[];
    }
    // Ownership: rows without a team of their own or from an ancestor may find one now, or wait for it.
    for (const node of restored) {
      const owner = this.ancestorOwner(node);
      if (owner !== null) this.queueOwnerUpdate(node, owner);
      else if (this.brokenChain && !node.awaitingOwner) {
        node.awaitingOwner = true;
        node.trace!.awaitingOwners++;
      }
    }
    this.end();
  }

  // ---- structure -------------------------------------------------------------------------------

  private link(trace: TraceEntry, node: SpanNode): void {
    // Children that arrived before this span.
    let adopted: SpanNode | null = null;
    let below: SpanNode | null = null;
    if (trace.waiting !== null) {
      const head = trace.waiting.get(node.spanId);
      if (head !== undefined) {
        trace.waiting.delete(node.spanId);
        this.index.waitingSpans--;
        adopted = head;
        node.firstChild = head;
        for (let child: SpanNode | null = head; child !== null; child = child.nextSibling) {
          child.parent = node;
          if (below === null) below = child.usageBelow ?? (child.isCall && child.hasUsage ? child : null);
        }
      }
    }
    // Its parent, or the wait for it.
    const parentId = node.parentSpanId;
    if (parentId !== '') {
      const parent = trace.get(parentId);
      if (parent !== undefined) {
        node.parent = parent;
        node.nextSibling = parent.firstChild;
        parent.firstChild = node;
      } else {
        trace.waiting ??= new Map();
        const siblings = trace.waiting.get(parentId);
        if (siblings === undefined) this.index.waitingSpans++;
        node.nextSibling = siblings ?? null;
        trace.waiting.set(parentId, node);
      }
    }

    // Counted once: a call with usage below it is an outer span; everything above learns of the usage.
    if (below !== null) {
      node.usageBelow = below;
      if (node.isCall) this.makeOuter(trace, node, below);
    }
    const usage = below ?? (node.isCall && node.hasUsage ? node : null);
    if (usage !== null) {
      let ancestor = node.parent;
      for (let depth = 0; ancestor !== null && ancestor.usageBelow === null && depth < MAX_DEPTH; depth++) {
        ancestor.usageBelow = usage;
        if (ancestor.isCall) this.makeOuter(trace, ancestor, usage);
        ancestor = ancestor.parent;
      }
    }
    if (node.isCall && node.responseKey !== null) this.joinResponseGroup(trace, node);

    // Late ownership: calls below that were written without an ancestor's team may have one now.
    if (adopted !== null && trace.awaitingOwners > 0) {
      const owner = node.owner !== null && node.owner.teamId !== null ? node.owner : this.ancestorOwner(node);
      if (owner !== null) this.resolveBelow(trace, adopted, owner);
    }
  }

  private makeOuter(trace: TraceEntry, node: SpanNode, usage: SpanNode): void {
    if (node.outer) return;
    node.outer = true;
    this.setDuplicate(node, usage, 'outer_span');
    if (node.responseKey !== null && trace.responses !== null) {
      const group = trace.responses.get(node.responseKey);
      if (group !== undefined && group.length > 1) this.electWinner(group);
    }
  }

  private joinResponseGroup(trace: TraceEntry, node: SpanNode): void {
    const id = node.responseKey!;
    if (trace.responses === null) {
      const first = trace.firstResponse;
      if (first === null) {
        trace.firstResponse = node;
        return;
      }
      trace.responses = new Map([[first.responseKey!, [first]]]);
      trace.firstResponse = null;
    }
    const group = trace.responses.get(id);
    if (group === undefined) {
      trace.responses.set(id, [node]);
      return;
    }
    group.push(node);
    this.electWinner(group);
  }

  /** Bills the best call of a response group that is not an outer span; the others duplicate it. */
  private electWinner(group: readonly SpanNode[]): void {
    let winner: SpanNode | null = null;
    for (const member of group) if (!member.outer && (winner === null || outranks(member, winner))) winner = member;
    if (winner === null) return;
    for (const member of group) {
      if (member.outer) continue;
      if (member === winner) this.setBilled(member);
      else this.setDuplicate(member, winner, 'same_response_id');
    }
  }

  private setDuplicate(node: SpanNode, of: SpanNode, reason: 'outer_span' | 'same_response_id'): void {
    const wasBilled = node.billed;
    node.billed = false;
    node.duplicateOf = of;
    node.duplicateReason = reason;
    if (wasBilled && node.emitted) this.queueMove(node);
  }

  private setBilled(node: SpanNode): void {
    if (node.billed) return;
    node.billed = true;
    node.duplicateOf = null;
    node.duplicateReason = null;
    if (node.emitted) this.queueMove(node);
  }

  private queueMove(node: SpanNode): void {
    if (node.moveQueued) return;
    node.moveQueued = true;
    this.moves.push(node);
  }

  private queueOwnerUpdate(node: SpanNode, owner: OwnershipHints): void {
    node.lateOwner = owner;
    this.ownerUpdates.push(node);
  }

  /** Gives `owner` to the calls awaiting one in the subtrees from `first` (and its siblings). */
  private resolveBelow(trace: TraceEntry, first: SpanNode, owner: OwnershipHints): void {
    const stack = this.stack;
    for (let child: SpanNode | null = first; child !== null; child = child.nextSibling) stack.push(child);
    let budget = trace.size; // a cycle in hostile parent ids cannot loop forever
    while (stack.length > 0 && budget-- > 0) {
      const node = stack.pop()!;
      // A span with its own team owns its subtree: those calls resolved when it arrived.
      if (node.owner !== null && node.owner.teamId !== null) continue;
      if (node.awaitingOwner) {
        node.awaitingOwner = false;
        trace.awaitingOwners--;
        if (node.emitted) this.queueOwnerUpdate(node, owner);
      }
      for (let child = node.firstChild; child !== null; child = child.nextSibling) stack.push(child);
    }
    stack.length = 0;
  }
}

/** Usage first, then more token classes, then the lower span id (any fixed order would do). */
function outranks(a: SpanNode, b: SpanNode): boolean {
  if (a.hasUsage !== b.hasUsage) return a.hasUsage;
  if (a.richness !== b.richness) return a.richness > b.richness;
  return a.spanId < b.spanId;
}
