/**
 * Which library produced a span's token counts, and what that library's counts mean.
 *
 * The OTel GenAI conventions say input includes cache reads/writes and output includes reasoning. Several
 * libraries pass provider numbers through instead. When we KNOW a source/version does that, we declare it
 * here and the normalizer adds the parts unconditionally; otherwise it falls back to the parts-exceed-whole
 * test (see normalize-tokens.ts), which can only catch the cases where the parts are larger.
 */

/** The convention family that supplied the token counts (recorded on the call as `tokenSource`). */
export type TokenSource =
  | 'otel' // gen_ai.usage.* from an unknown or OTel-conformant instrumentation
  | 'openllmetry' // Traceloop OpenLLMetry (llm.usage.*, or gen_ai.usage.* under a @traceloop scope)
  | 'openinference' // Arize OpenInference llm.token_count.*
  | 'ai_sdk' // Vercel AI SDK ai.usage.*, or gen_ai.usage.* on an AI SDK span
  | 'langfuse' // langfuse.observation.usage_details
  | 'openlit' // OpenLIT (telemetry.sdk.name = openlit, scopes `@openlit/instrumentation-*` / `openlit.*`)
  | 'litellm'; // LiteLLM OTel callback (scope `litellm`)

/** What a source's counts are known to exclude. */
export interface DeclaredConvention {
  inputExcludesCache: boolean;
  outputExcludesReasoning: boolean;
}

export const OTEL_READING: DeclaredConvention = Object.freeze({ inputExcludesCache: false, outputExcludesReasoning: false });
const INPUT_EXCLUDES_CACHE: DeclaredConvention = Object.freeze({ inputExcludesCache: true, outputExcludesReasoning: false });
const DISJOINT: DeclaredConvention = Object.freeze({ inputExcludesCache: true, outputExcludesReasoning: true });

/** Facts about a span used to tell sources apart. All cheap: read from slots the extractor already filled. */
export interface SourceMarkers {
  /** The attribute key that supplied the input (or, if none, the output) count; null without counts. */
  countKey: string | null;
  /** Instrumentation scope of the span ('' when unknown). */
  scopeName: string;
  scopeVersion: string;
  /** Span attribute `telemetry.sdk.name` (OpenLIT stamps it on every span). */
  telemetrySdkName: string | null;
  /** The span is a Vercel AI SDK span (`ai.operationId` or `ai.model.provider` present). */
  aiSdkSpan: boolean;
  /** AI SDK v6+ token detail attributes (`ai.usage.inputTokenDetails.*`) are present. */
  aiSdkTokenDetails: boolean;
  provider: string | null;
  model: string | null;
}

export function tokenSourceOf(m: SourceMarkers): TokenSource {
  const key = m.countKey ?? '';
  if (key.startsWith('langfuse.')) return 'langfuse';
  if (key.startsWith('llm.token_count.')) return 'openinference';
  if (key.startsWith('ai.') || m.aiSdkSpan) return 'ai_sdk';
  const scope = m.scopeName.toLowerCase();
  if (m.telemetrySdkName?.toLowerCase() === 'openlit' || scope.startsWith('openlit') || scope.startsWith('@openlit/')) {
    return 'openlit';
  }
  if (key.startsWith('llm.usage.') || m.scopeName.startsWith('@traceloop/')) return 'openllmetry';
  if (m.scopeName === 'litellm') return 'litellm';
  return 'otel';
}

/** Anthropic models (direct, or served by Bedrock / Vertex): their API reports input exclusive of cache. */
function isAnthropicFamily(m: SourceMarkers): boolean {
  return m.provider === 'anthropic' || (m.model !== null && m.model.toLowerCase().includes('claude'));
}

/**
 * The last `@traceloop/instrumentation-anthropic` version known to set `gen_ai.usage.input_tokens` to
 * Anthropic's raw `usage.input_tokens` (exclusive of cache): 0.27.0, read in its dist/index.js
 * (`_endSpan`). Later versions are not assumed to keep doing so; for them the parts-exceed-whole test
 * still applies.
 */
const TRACELOOP_ANTHROPIC_EXCLUSIVE_THROUGH = [0, 27, 0] as const;

/** `a <= b` for dotted numeric versions; unparsable versions compare as unknown (false). */
function versionAtMost(version: string, limit: readonly number[]): boolean {
  const match = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version.trim());
  if (match === null) return false;
  const parts = [Number(match[1]), Number(match[2]), Number(match[3])];
  for (let i = 0; i < 3; i++) {
    if (parts[i]! !== limit[i]!) return parts[i]! < limit[i]!;
  }
  return true;
}

/**
 * What the source's counts are known to mean:
 * - Langfuse `usage_details`: usage types are disjoint (`input` excludes cached input, `output` excludes
 *   reasoning; Langfuse's total is their sum) → both parts are added;
 * - OpenLIT on Anthropic models: `gen_ai.usage.input_tokens` is Anthropic's raw, cache-exclusive count;
 * - `@traceloop/instrumentation-anthropic` ≤ 0.27.0: same;
 * - Vercel AI SDK v4/v5 (no `ai.usage.inputTokenDetails.*`) on Anthropic models: `promptTokens` /
 *   `inputTokens` is the cache-exclusive count (v6 reports the total plus `inputTokenDetails`);
 * - everything else: the OTel reading, with the parts-exceed-whole fallback.
 */
export function declaredConvention(source: TokenSource, m: SourceMarkers): DeclaredConvention {
  switch (source) {
    case 'langfuse':
      return DISJOINT;
    case 'openlit':
      return isAnthropicFamily(m) ? INPUT_EXCLUDES_CACHE : OTEL_READING;
    case 'openllmetry':
      return m.scopeName === '@traceloop/instrumentation-anthropic' &&
        versionAtMost(m.scopeVersion, TRACELOOP_ANTHROPIC_EXCLUSIVE_THROUGH)
        ? INPUT_EXCLUDES_CACHE
        : OTEL_READING;
    case 'ai_sdk':
      return !m.aiSdkTokenDetails && isAnthropicFamily(m) ? INPUT_EXCLUDES_CACHE : OTEL_READING;
    default:
      return OTEL_READING;
  }
}
