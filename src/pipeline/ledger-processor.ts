import type { TraceRequest, Span } from '../../core/otlp.js';
import type { SpanDecision } from '../../core/exporter.js';
import { attributionStatusOf, byReasonOrder, type ExceptionReason, type LedgerRow } from '../../core/ledger-row.js';
import { timeFits } from '../../core/ledger-limits.js';
import {
  extractGenAiCall,
  extractSpanOwnership,
  serverRoute,
  type GenAiCall,
  type OwnershipHints,
} from '../../processors/genai/extract-genai-call.js';
import type { Attributor, ResourceOwnership } from '../../processors/attribution/attributor.js';
import type { DuplicateRow, LedgerChanges, OwnerUpdate, RowMove } from '../../core/ledger-changes.js';
import { SpanLineage, type RestoredSpan } from './span-lineage.js';
import type { SpanNode } from './trace-index.js';
import type { PriceBook } from '../../processors/pricing/price-book.js';
import { readPricingAttributes } from '../../processors/pricing/pricing-attributes.js';
import { DEFAULT_COST_MISMATCH, type CostMismatchThresholds } from '../../processors/pricing/cost-mismatch.js';
import { priceCall } from '../../processors/pricing/price-call.js';

export interface LedgerProcessorOptions {
  /** When our cost and the instrumentation's reported cost disagree enough to flag `cost_mismatch`. */
  costMismatch?: CostMismatchThresholds;
  /** How user ids are stored; without one they are not stored at all. */
  userIds?: UserIdPolicy;
  /** How long a trace is remembered after its last span (config `attribution.ancestorWindowSeconds`). */
  ancestorWindowSeconds?: number;
  /** Most spans the trace index holds (config `attribution.traceCacheMaxSpans`). */
  traceCacheMaxSpans?: number;
}

export const DEFAULT_ANCESTOR_WINDOW_SECONDS = 300;
export const DEFAULT_TRACE_CACHE_MAX_SPANS = 100_000;
import { boundRowText, truncateText } from './bound-text.js';
import { rowProblem } from './row-check.js';
import type { UserIdPolicy } from '../../processors/privacy/user-id-policy.js';

export interface ProcessResult {
  /** The billed calls: new rows of `genai_calls`. */
  rows: LedgerRow[];
  /** Duplicates, and changes to rows of earlier requests; null when there are none (the common case). */
  changes: LedgerChanges | null;
  /** Spans refused individually (reported to the client as OTLP partial success). */
  rejectedSpans: number;
  errorMessage: string;
}

const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);

/**
 * Turns a decoded request into ledger rows: detect GenAI spans, attribute ownership, price.
 * Synchronous and free of I/O so it can be tested with golden files and timed in isolation.
 */
export class LedgerProcessor {
  /** Which spans are billed and who owns them across requests (the trace index). */
  readonly lineage: SpanLineage;
  // The GenAI spans of the request being processed, between the indexing pass and the row pass (reused).
  private readonly pendingSpans: Span[] = [];
  private readonly pendingCalls: GenAiCall[] = [];
  private readonly pendingNodes: (SpanNode | null)[] = [];
  private readonly pendingResources: ResourceOwnership[] = [];
  private readonly pendingScopes: string[] = [];

  constructor(
    private attributor: Attributor,
    private priceBook: PriceBook,
    private readonly options: LedgerProcessorOptions = {},
  ) {
    this.lineage = new SpanLineage({
      windowMs: (options.ancestorWindowSeconds ?? DEFAULT_ANCESTOR_WINDOW_SECONDS) * 1000,
      maxSpans: options.traceCacheMaxSpans ?? DEFAULT_TRACE_CACHE_MAX_SPANS,
    });
  }

  /**
   * Swaps the attributor (mapping tables reloaded at run time). `process` is synchronous, so a request is
   * attributed entirely with the old tables or entirely with the new ones, never a mix.
   */
  replaceAttributor(attributor: Attributor): void {
    this.attributor = attributor;
  }

  /**
   * Swaps the price book (price overrides reloaded at run time). As with the attributor, `process` is
   * synchronous, so a request is priced entirely with the old book or entirely with the new one.
   */
  replacePriceBook(priceBook: PriceBook): void {
    this.priceBook = priceBook;
  }

  /**
   * Two passes: the first indexes every span of the request (so the order of spans inside a request does not
   * matter), the second builds the GenAI rows knowing the whole request and what came before it.
   */
  process(request: TraceRequest, now: number = Date.now(), decisions: Map<Span, SpanDecision> | null = null): ProcessResult {
    const lineage = this.lineage;
    const rejections = new Rejections();
    lineage.begin(now);
    try {
      this.indexSpans(request, now, rejections);
      const rows: LedgerRow[] = [];
      const duplicates = this.buildRows(rows, now, rejections, decisions);
      const changes = this.takeChanges(duplicates);
      return { rows, changes, rejectedSpans: rejections.count, errorMessage: rejections.message() };
    } finally {
      // Whatever happened above, the next request starts from empty per-request state: a span that broke
      // this request must not stay in the reused arrays and break every later one.
      this.pendingSpans.length = this.pendingCalls.length = this.pendingNodes.length = 0;
      this.pendingResources.length = this.pendingScopes.length = 0;
      lineage.end();
    }
  }

  /** First pass: index every span of the request, and queue the GenAI calls for the second. */
  private indexSpans(request: TraceRequest, now: number, rejections: Rejections): void {
    const lineage = this.lineage;
    for (const resourceSpans of request.resourceSpans) {
      // Ownership that depends only on the resource is resolved lazily, once per resource.
      let resourceOwnership: ResourceOwnership | undefined;
      for (const scopeSpans of resourceSpans.scopeSpans) {
        for (const span of scopeSpans.spans) {
          // The error boundary of one span: whatever it carries, the worst it can do is be rejected itself.
          try {
            const call = extractGenAiCall(span, scopeSpans.scope);
            if (call === null) {
              const owner = extractSpanOwnership(span);
              const route = serverRoute(span);
              // A root without ownership or route can matter to no descendant: not worth remembering.
              if ((owner === null && route === null && span.parentSpanId === '') || invalidIdReason(span) !== null) continue;
              lineage.observe(span.traceId, span.spanId, span.parentSpanId, owner, null, 0, null, route);
              continue;
            }
            const invalid = invalidIdReason(span);
            if (invalid !== null) {
              rejections.add(invalid);
              continue;
            }
            resourceOwnership ??= this.attributor.resolveResource(resourceSpans.resource.attributes);
            // What the call hands down to calls below it: its own ownership fields (each on its own), its route.
            const hasOwn = call.ownership.teamId !== null || call.ownership.projectId !== null || call.ownership.environment !== null;
            const own = hasOwn ? call.ownership : null;
            const node = lineage.observe(
              span.traceId,
              span.spanId,
              span.parentSpanId,
              own,
              call,
              startMsOf(span, now),
              resourceOwnership,
              serverRoute(span),
            );
            this.pendingSpans.push(span);
            this.pendingCalls.push(call);
            this.pendingNodes.push(node);
            this.pendingResources.push(resourceOwnership);
            this.pendingScopes.push(scopeSpans.scope.name);
          } catch (err) {
            rejections.add(`span "${spanLabel(span)}" could not be processed: ${errorText(err)}`);
          }
        }
      }
    }
  }

  /** Second pass: the rows of the queued calls, knowing the whole request; returns the duplicates. */
  private buildRows(
    rows: LedgerRow[],
    now: number,
    rejections: Rejections,
    decisions: Map<Span, SpanDecision> | null,
  ): DuplicateRow[] | null {
    const lineage = this.lineage;
    const spans = this.pendingSpans;
    let duplicates: DuplicateRow[] | null = null;
    for (let i = 0; i < spans.length; i++) {
      const span = spans[i]!;
      try {
        const node = this.pendingNodes[i]!;
        const call = this.pendingCalls[i]!;
        let ancestor: OwnershipHints | null = null;
        let awaiting = false;
        // Each field on its own (DESIGN.md, Ownership): whatever the call lacks comes from the nearest ancestor
        // that has it; the route too, unless the call is itself a SERVER span with one.
        if (node !== null && node.parentSpanId !== '') {
          ancestor = lineage.ancestorHints(node);
          awaiting = call.ownership.teamId === null && (ancestor === null || ancestor.teamId === null) && lineage.chainBroken;
        }
        const row = boundRowText(this.buildRow(span, call, this.pendingResources[i]!, this.pendingScopes[i]!, ancestor, now));
        const problem = rowProblem(row);
        if (problem !== null) {
          rejections.add(`span "${spanLabel(span)}" (span_id ${span.spanId}): ${problem}`);
          continue;
        }
        // A root held in the ring (node null): billed, owned by itself or its resource (the common, cheap case).
        if (node === null) {
          rows.push(row);
          decisions?.set(span, { row, billed: true });
          continue;
        }
        lineage.emitted(node, awaiting, row.exceptions);
        if (node.billed) rows.push(row);
        else (duplicates ??= []).push(duplicateRow(row, node));
        decisions?.set(span, { row, billed: node.billed });
      } catch (err) {
        rejections.add(`span "${spanLabel(span)}" (span_id ${span.spanId}) could not be processed: ${errorText(err)}`);
      }
    }
    return duplicates;
  }

  /**
   * Rebuilds the trace index from the ledger's recent rows after a restart. Returns the changes this reveals
   * (none unless the ledger holds a parent and child both billed), for the next write to commit.
   */
  restore(spans: readonly RestoredSpan[], now: number = Date.now()): LedgerChanges | null {
    this.lineage.restore(spans, now, (s) => ({
      teamId: s.attributionSource === 'resource' ? s.teamId : null,
      projectId: s.projectId,
      service: s.service,
      serviceIsSdkDefault: false,
      environment: s.environment,
    }));
    return this.takeChanges(null);
  }

  /** The duplicates of this request plus the moves and late ownership the trace index queued. */
  private takeChanges(duplicates: DuplicateRow[] | null): LedgerChanges | null {
    const moveNodes = this.lineage.takeMoves();
    const updateNodes = this.lineage.takeOwnerUpdates();
    if (duplicates === null && moveNodes.length === 0 && updateNodes.length === 0) return null;
    return {
      duplicates: duplicates ?? [],
      moves: moveNodes.map(rowMove),
      ownerUpdates: updateNodes.map((node) => this.lateOwnership(node)),
    };
  }

  /** Ownership of a committed row whose ancestor arrived after it: the same resolution as in order. */
  private lateOwnership(node: SpanNode): OwnerUpdate {
    const owner = this.attributor.attribute(node.resource!, mergeAncestorHints(node.hints!, node.lateOwner!), 'ancestor');
    // Owner reasons come first in precedence; the others were kept in order (cost_mismatch last).
    const exceptions: ExceptionReason[] = [...owner.exceptions, ...(node.otherReasons ?? [])];
    return {
      traceId: node.traceId,
      spanId: node.spanId,
      startMs: node.startMs,
      teamId: owner.teamId,
      costCenter: owner.costCenter,
      projectId: owner.projectId,
      environment: owner.environment,
      attributionSource: owner.attributionSource,
      attributionStatus: attributionStatusOf(exceptions),
      exceptions,
    };
  }

  private buildRow(
    span: Span,
    call: GenAiCall,
    resourceOwnership: ResourceOwnership,
    scopeName: string,
    ancestor: OwnershipHints | null,
    now: number,
  ): LedgerRow {
    const owner =
      ancestor === null
        ? this.attributor.attribute(resourceOwnership, call.ownership)
        : this.attributor.attribute(
            resourceOwnership,
            mergeAncestorHints(call.ownership, ancestor),
            call.ownership.teamId === null ? 'ancestor' : 'span',
          );
    const exceptions: ExceptionReason[] = [...owner.exceptions];
    const times = spanTimes(span, now);

    const pricing = readPricingAttributes(span.attributes);
    // The 1-hour writes are a part of the cache writes: never more than them.
    const cacheWrite1hTokens =
      pricing.cacheWrite1hTokens === null ? null : Math.min(pricing.cacheWrite1hTokens, call.cacheWriteTokens ?? 0);
    // Audio tokens are parts of input / output likewise.
    const inputAudioTokens = pricing.inputAudioTokens === null ? null : Math.min(pricing.inputAudioTokens, call.inputTokens ?? 0);
    const outputAudioTokens = pricing.outputAudioTokens === null ? null : Math.min(pricing.outputAudioTokens, call.outputTokens ?? 0);

    const decision = priceCall(
      this.priceBook,
      {
        provider: call.provider,
        model: call.model,
        usage: {
          inputTokens: call.inputTokens,
          cachedInputTokens: call.cachedInputTokens,
          cacheWriteTokens: call.cacheWriteTokens,
          outputTokens: call.outputTokens,
          reasoningTokens: call.reasoningTokens,
          cacheWrite1hTokens,
          inputAudioTokens,
          outputAudioTokens,
        },
        tokensInvalid: call.invalidTokenKeys.length > 0 || pricing.invalidTokenKeys !== null,
        atUnixNano: times.start,
        serviceTier: pricing.serviceTier,
        reportedCostPicoUsd: pricing.reportedCostPicoUsd,
      },
      this.options.costMismatch ?? DEFAULT_COST_MISMATCH,
    );
    const cost = decision.cost;
    exceptions.push(...decision.reasons);
    // Listed after the status-deciding reasons; never change attribution_status.
    if (decision.costMismatch) exceptions.push('cost_mismatch');
    if (pricing.invalidReportedCostKey !== null) exceptions.push('invalid_reported_cost');
    if (times.invalid) exceptions.push('invalid_timestamp');
    exceptions.sort(byReasonOrder);

    return {
      startTimeUnixNano: times.start,
      endTimeUnixNano: times.end,
      traceId: span.traceId,
      spanId: span.spanId,
      parentSpanId: span.parentSpanId === '' ? null : span.parentSpanId,
      spanName: span.name,
      provider: call.provider,
      model: call.model,
      requestModel: call.requestModel,
      responseModel: call.responseModel,
      operation: call.operation,
      teamId: owner.teamId,
      costCenter: owner.costCenter,
      projectId: owner.projectId,
      service: owner.service,
      environment: owner.environment,
      attributionSource: owner.attributionSource,
      inputTokens: call.inputTokens,
      cachedInputTokens: call.cachedInputTokens,
      cacheWriteTokens: call.cacheWriteTokens,
      outputTokens: call.outputTokens,
      reasoningTokens: call.reasoningTokens,
      totalTokens: call.totalTokens,
      unitPriceSnapshot: cost?.snapshot ?? null,
      requestCostPicoUsd: cost?.totalPicoUsd ?? null,
      inputCostPicoUsd: cost?.inputPicoUsd ?? null,
      cachedInputCostPicoUsd: cost?.cachedInputPicoUsd ?? null,
      cacheWriteCostPicoUsd: cost?.cacheWritePicoUsd ?? null,
      outputCostPicoUsd: cost?.outputPicoUsd ?? null,
      cacheWrite1hTokens,
      serviceTier: pricing.serviceTier,
      reportedCostPicoUsd: pricing.reportedCostPicoUsd,
      cacheWrite1hCostPicoUsd: cost?.cacheWrite1hPicoUsd ?? null,
      reasoningCostPicoUsd: cost?.reasoningPicoUsd ?? null,
      inputAudioTokens,
      outputAudioTokens,
      attributionStatus: attributionStatusOf(exceptions),
      exceptions,
      status: span.status.code === 2 ? 'error' : span.status.code === 1 ? 'ok' : 'unset',
      instrumentationScope: scopeName === '' ? null : scopeName,
      tokenConvention: call.tokenConvention,
      tokenSource: call.tokenSource,
      userId: this.options.userIds?.apply(call.ownership.userId) ?? null,
      responseId: call.responseId,
      route: serverRoute(span) ?? ancestor?.route ?? null,
      apiKeyAlias: call.context.apiKeyAlias,
    };
  }
}

/** A call's own ownership, each field it lacks (team, project, environment) taken from the ancestors' hints. */
function mergeAncestorHints(own: OwnershipHints, ancestor: OwnershipHints): OwnershipHints {
  return {
    ...own,
    teamId: own.teamId ?? ancestor.teamId,
    projectId: own.projectId ?? ancestor.projectId,
    environment: own.environment ?? ancestor.environment,
  };
}

function duplicateRow(row: LedgerRow, node: SpanNode): DuplicateRow {
  const of = node.duplicateOf;
  return {
    ...row,
    duplicateOfTraceId: of === null ? null : of.traceId,
    duplicateOfSpanId: of === null ? null : of.spanId,
    duplicateReason: node.duplicateReason ?? 'same_response_id',
  };
}

function rowMove(node: SpanNode): RowMove {
  const of = node.billed ? null : node.duplicateOf;
  return {
    traceId: node.traceId,
    spanId: node.spanId,
    startMs: node.startMs,
    toDuplicate: !node.billed,
    duplicateOfTraceId: of === null ? null : of.traceId,
    duplicateOfSpanId: of === null ? null : of.spanId,
    duplicateReason: node.billed ? null : (node.duplicateReason ?? 'same_response_id'),
  };
}

/** How many rejection reasons an error message names. */
const MAX_REASONS_IN_MESSAGE = 3;

/** The spans a request rejected, and the first few reasons for the client's `partial_success.error_message`. */
class Rejections {
  count = 0;
  private readonly reasons: string[] = [];

  add(reason: string): void {
    this.count++;
    if (this.reasons.length < MAX_REASONS_IN_MESSAGE) this.reasons.push(truncateText(reason, 300));
  }

  message(): string {
    if (this.count === 0) return '';
    const more = this.count > this.reasons.length ? `; and ${this.count - this.reasons.length} more` : '';
    return `${this.count} span(s) rejected: ${this.reasons.join('; ')}${more}`;
  }
}

const spanLabel = (span: Span): string => truncateText(span.name, 100);
const errorText = (err: unknown): string => truncateText(err instanceof Error ? err.message : String(err), 200);

/**
 * The times a row records. A start outside 1970–2200 (a broken clock, a hostile client) is replaced by the
 * time the span was received, so the call is still billed and priced at a real date; an end outside that
 * range or before the start is stored NULL. Either is listed as `invalid_timestamp`.
 */
function spanTimes(span: Span, nowMs: number): { start: bigint; end: bigint | null; invalid: boolean } {
  let start = span.startTimeUnixNano;
  let invalid = false;
  if (!timeFits(start)) {
    start = BigInt(Math.trunc(nowMs)) * 1_000_000n;
    invalid = true;
  }
  let end: bigint | null = span.endTimeUnixNano;
  if (!timeFits(end) || end < start) {
    end = null;
    invalid = true;
  }
  return { start, end, invalid };
}

/** Milliseconds of the start time the row will record (for the trace index's windows). */
function startMsOf(span: Span, nowMs: number): number {
  return timeFits(span.startTimeUnixNano) ? Number(span.startTimeUnixNano) / 1e6 : nowMs;
}

/** The decoders guarantee hex ids of the right length or empty; OTLP calls empty and all-zero ids invalid. */
function invalidIdReason(span: Span): string | null {
  if (span.traceId.length !== 32 || span.traceId === ZERO_TRACE_ID) {
    return `span "${span.name}" has an invalid trace_id "${span.traceId}"`;
  }
  if (span.spanId.length !== 16 || span.spanId === ZERO_SPAN_ID) {
    return `span "${span.name}" has an invalid span_id "${span.spanId}"`;
  }
  return null;
}
