import type { TraceRequest, Span } from '../model/otlp.js';
import { attributionStatusOf, EXCEPTION_PRECEDENCE, type ExceptionReason, type LedgerRow } from '../model/ledger-row.js';
import { extractGenAiCall, type GenAiCall } from '../../processors/genai/extract-genai-call.js';
import type { Attributor } from '../../processors/attribution/attributor.js';
import type { PriceBook } from '../../processors/pricing/price-book.js';
import { readPricingAttributes } from '../../processors/pricing/pricing-attributes.js';
import { DEFAULT_COST_MISMATCH, isCostMismatch, type CostMismatchThresholds } from '../../processors/pricing/cost-mismatch.js';

export interface LedgerProcessorOptions {
  /** When our cost and the instrumentation's reported cost disagree enough to flag `cost_mismatch`. */
  costMismatch?: CostMismatchThresholds;
  /** How user ids are stored; without one they are not stored at all. */
  userIds?: UserIdPolicy;
}
import { boundRowText } from './bound-text.js';
import type { UserIdPolicy } from '../../processors/privacy/user-id-policy.js';

export interface ProcessResult {
  rows: LedgerRow[];
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
  constructor(
    private attributor: Attributor,
    private priceBook: PriceBook,
    private readonly options: LedgerProcessorOptions = {},
  ) {}

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

  process(request: TraceRequest): ProcessResult {
    const rows: LedgerRow[] = [];
    let rejectedSpans = 0;
    let firstRejection = '';
    for (const resourceSpans of request.resourceSpans) {
      // Ownership that depends only on the resource is resolved lazily, once per resource.
      let resourceOwnership: ReturnType<Attributor['resolveResource']> | undefined;
      for (const scopeSpans of resourceSpans.scopeSpans) {
        for (const span of scopeSpans.spans) {
          const call = extractGenAiCall(span, scopeSpans.scope);
          if (call === null) continue;
          const invalid = invalidIdReason(span);
          if (invalid !== null) {
            rejectedSpans++;
            if (firstRejection === '') firstRejection = invalid;
            continue;
          }
          resourceOwnership ??= this.attributor.resolveResource(resourceSpans.resource.attributes);
          rows.push(boundRowText(this.buildRow(span, call, resourceOwnership, scopeSpans.scope.name)));
        }
      }
    }
    const errorMessage =
      rejectedSpans === 0 ? '' : `${rejectedSpans} GenAI span(s) rejected; first: ${firstRejection}`;
    return { rows, rejectedSpans, errorMessage };
  }

  private buildRow(
    span: Span,
    call: GenAiCall,
    resourceOwnership: ReturnType<Attributor['resolveResource']>,
    scopeName: string,
  ): LedgerRow {
    const owner = this.attributor.attribute(resourceOwnership, call.ownership);
    const exceptions: ExceptionReason[] = [...owner.exceptions];

    const hasTokens = call.inputTokens !== null || call.outputTokens !== null;
    if (!hasTokens) exceptions.push('missing_tokens');

    const pricing = readPricingAttributes(span.attributes);
    // The 1-hour writes are a part of the cache writes: never more than them.
    const cacheWrite1hTokens =
      pricing.cacheWrite1hTokens === null ? null : Math.min(pricing.cacheWrite1hTokens, call.cacheWriteTokens ?? 0);
    // Audio tokens are parts of input / output likewise.
    const inputAudioTokens = pricing.inputAudioTokens === null ? null : Math.min(pricing.inputAudioTokens, call.inputTokens ?? 0);
    const outputAudioTokens = pricing.outputAudioTokens === null ? null : Math.min(pricing.outputAudioTokens, call.outputTokens ?? 0);

    let cost = null;
    if (call.model === null) {
      exceptions.push('unpriced_model');
    } else if (hasTokens) {
      cost = this.priceBook.cost(
        call.provider,
        call.model,
        {
          inputTokens: call.inputTokens ?? 0,
          cachedInputTokens: call.cachedInputTokens ?? 0,
          cacheWriteTokens: call.cacheWriteTokens ?? 0,
          outputTokens: call.outputTokens ?? 0,
          reasoningTokens: call.reasoningTokens ?? 0,
          cacheWrite1hTokens: cacheWrite1hTokens ?? 0,
          inputAudioTokens: inputAudioTokens ?? 0,
          outputAudioTokens: outputAudioTokens ?? 0,
        },
        span.startTimeUnixNano,
        pricing.serviceTier,
      );
      if (cost === null) exceptions.push('unpriced_model');
    } else if (this.priceBook.unitPrices(call.provider, call.model, span.startTimeUnixNano, 0, pricing.serviceTier) === null) {
      // Without tokens there is no cost either way, but an unknown model is worth flagging too.
      exceptions.push('unpriced_model');
    }
    exceptions.sort(byPrecedence);
    // Listed after the status-deciding reasons; never changes attribution_status.
    if (
      cost !== null &&
      pricing.reportedCostPicoUsd !== null &&
      isCostMismatch(cost.totalPicoUsd, pricing.reportedCostPicoUsd, this.options.costMismatch ?? DEFAULT_COST_MISMATCH)
    ) {
      exceptions.push('cost_mismatch');
    }

    return {
      startTimeUnixNano: span.startTimeUnixNano,
      endTimeUnixNano: span.endTimeUnixNano,
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
    };
  }
}

const byPrecedence = (a: ExceptionReason, b: ExceptionReason) =>
  EXCEPTION_PRECEDENCE.indexOf(a) - EXCEPTION_PRECEDENCE.indexOf(b);

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
