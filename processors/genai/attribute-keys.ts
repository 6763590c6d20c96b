import {
  NOT_A_MODEL_CALL,
  normalizeOperation,
  normalizeProvider,
  operationFromLangfuseType,
  operationFromOpenInferenceKind,
} from './provider-names.js';
import { decimalText } from './decimal-text.js';

/**
 * Which span attributes feed which GenAiCall field, for every instrumentation convention we read.
 * Supporting a new convention is adding keys here (and a golden test case), not new code.
 *
 * Within a field, keys are in priority order: the first key whose value parses wins. The order is
 * current OTel GenAI semconv → deprecated OTel → OpenLLMetry (Traceloop) → OpenInference (Arize) →
 * Vercel AI SDK → Langfuse / LiteLLM / OpenLIT extras.
 *
 * A key may address a value NESTED in an attribute: `attr#a.b` reads attribute `attr`, parses it as a
 * structure (a JSON string, Python `repr` text or an OTLP kvlist — see structured-value.ts) and takes
 * `a` → `b` inside it. Nested reads happen only for spans already detected as GenAI calls.
 */

/** Turns a non-empty trimmed attribute text into the field's value, or null to let the next key decide. */
export type TextParser = (text: string) => string | null;

export interface TextKey {
  key: string;
  parse: TextParser;
}

const asIs: TextParser = (text) => text;

/** Ownership text: like asIs, but the placeholders that Python/JS stringify missing values to are absent. */
const MISSING_PLACEHOLDERS: ReadonlySet<string> = new Set(['None', 'null', 'undefined', 'NULL', 'nil']);
const present: TextParser = (text) => (MISSING_PLACEHOLDERS.has(text) ? null : text);

function keys(parse: TextParser, ...names: string[]): TextKey[] {
  return names.map((key) => ({ key, parse }));
}

/**
 * A span is a GenAI call when it carries one of these (with a usable value). Every key must start with one
 * of the prefixes in {@link DETECTION_PREFIXES}: the hot path only looks at keys with those prefixes.
 */
export const DETECTION_KEYS: readonly string[] = [
  // OTel GenAI semconv (current and deprecated)
  'gen_ai.operation.name',
  'gen_ai.provider.name',
  'gen_ai.system',
  'gen_ai.request.model',
  'gen_ai.response.model',
  // OpenInference
  'llm.model_name',
  'llm.provider',
  'llm.system',
  'embedding.model_name',
  // Vercel AI SDK
  'ai.model.id',
  'ai.model.provider',
  // Langfuse SDK generations
  'langfuse.observation.model.name',
];

/** The distinct `<namespace>.` prefixes of {@link DETECTION_KEYS}: `gen_ai.`, `llm.`, `embedding.`, `ai.`, `langfuse.`. */
export const DETECTION_PREFIXES: readonly string[] = [
  ...new Set(DETECTION_KEYS.map((key) => key.slice(0, key.indexOf('.') + 1))),
];

/** Attributes read as strings, by GenAiCall field (plus internal fields). */
export const TEXT_FIELDS = {
  provider: keys(normalizeProvider, 'gen_ai.provider.name', 'gen_ai.system', 'llm.provider', 'llm.system', 'ai.model.provider'),
  requestModel: keys(asIs, 'gen_ai.request.model', 'ai.model.id', 'langfuse.observation.model.name'),
  // OpenInference `llm.model_name` is the model the instrumentation saw answer (response model when known).
  responseModel: keys(asIs, 'gen_ai.response.model', 'ai.response.model', 'llm.model_name', 'embedding.model_name'),
  operation: [
    ...keys(normalizeOperation, 'gen_ai.operation.name', 'llm.request.type', 'ai.operationId'),
    ...keys(operationFromOpenInferenceKind, 'openinference.span.kind'),
    ...keys(operationFromLangfuseType, 'langfuse.observation.type'),
  ],
  responseId: keys(asIs, 'gen_ai.response.id', 'ai.response.id'),
  /** Vercel AI SDK span type, used to skip its wrapper spans (see NOT_A_CALL_AI_SDK_OPERATIONS). */
  aiSdkOperationId: keys(asIs, 'ai.operationId'),
  /** Internal marker: AI SDK v6+ reports token details (and a cache-inclusive input total). */
  aiSdkTokenDetails: keys(
    asIs,
    'ai.usage.inputTokenDetails.noCacheTokens',
    'ai.usage.inputTokenDetails.cacheReadTokens',
    'ai.usage.inputTokenDetails.cacheWriteTokens',
  ),
  /** Internal marker: OpenLIT stamps `telemetry.sdk.name = openlit` on its spans. */
  telemetrySdkName: keys(asIs, 'telemetry.sdk.name'),
  /** A cost the instrumentation computed itself (USD, decimal text). Reported only; never used for pricing. */
  reportedCostUsd: keys(
    decimalText,
    'gen_ai.usage.cost', // OpenLIT
    'llm.cost.total', // OpenInference
    'langfuse.observation.cost_details#total', // Langfuse
  ),
  /** Conversation / session id: debugging context, never billing identity. */
  conversationId: keys(
    present,
    'gen_ai.conversation.id',
    'session.id', // OpenInference, Langfuse
    'langfuse.session.id', // older Langfuse spelling
    'traceloop.association.properties.session_id',
    'traceloop.association.properties.sessionId',
    'ai.telemetry.metadata.sessionId',
    'ai.telemetry.metadata.session_id',
    'metadata#session_id', // OpenInference metadata JSON
    'metadata.session_id', // LiteLLM
  ),

  // Ownership hints: read from the GenAI span's own attributes. Resource attributes are the attributor's job.
  teamId: keys(
    present,
    'team_id',
    'team.id',
    'app.team_id',
    'app.team.id',
    'metadata.user_api_key_team_id', // LiteLLM proxy
    'traceloop.association.properties.team_id', // OpenLLMetry association properties
    'traceloop.association.properties.teamId',
    'ai.telemetry.metadata.team_id', // Vercel AI SDK experimental_telemetry.metadata
    'ai.telemetry.metadata.teamId',
    'langfuse.observation.metadata.team_id', // Langfuse metadata, flattened by the JS/Python SDKs
    'langfuse.trace.metadata.team_id',
    'langfuse.observation.metadata#team_id', // ... or sent as one JSON string
    'langfuse.trace.metadata#team_id',
    'metadata#team_id', // OpenInference `metadata` JSON string
    'metadata#teamId',
    'metadata.requester_metadata#team_id', // LiteLLM request metadata (Python repr)
    'metadata#user_api_key_team_id', // LiteLLM metadata sent as one JSON / Python repr attribute
  ),
  projectId: keys(
    present,
    'project_id',
    'project.id',
    'app.project_id',
    'app.project.id',
    'traceloop.association.properties.project_id',
    'traceloop.association.properties.projectId',
    'ai.telemetry.metadata.project_id',
    'ai.telemetry.metadata.projectId',
    'langfuse.observation.metadata.project_id',
    'langfuse.trace.metadata.project_id',
    'langfuse.trace.metadata#project_id',
    'metadata#project_id',
    'metadata#projectId',
  ),
  costCenter: keys(
    present,
    'cost_center',
    'cost_center.id',
    'app.cost_center',
    'traceloop.association.properties.cost_center',
    'ai.telemetry.metadata.cost_center',
    'ai.telemetry.metadata.costCenter',
    'langfuse.trace.metadata.cost_center',
    'metadata#cost_center',
  ),
  environment: keys(
    present,
    'deployment.environment.name',
    'deployment.environment',
    'traceloop.association.properties.environment',
    'ai.telemetry.metadata.environment',
    'langfuse.environment',
    'metadata#environment',
  ),
  service: keys(present, 'service.name', 'app.service', 'ai.telemetry.metadata.service'),
  /** The user the call was made for; falls back to endUserId (LiteLLM's end user) when none of these is set. */
  userId: keys(
    present,
    'user.id',
    'enduser.id',
    'user_id',
    'app.user_id',
    'metadata.user_api_key_user_id', // LiteLLM proxy
    'traceloop.association.properties.user_id',
    'traceloop.association.properties.userId',
    'ai.telemetry.metadata.user_id',
    'ai.telemetry.metadata.userId',
    'langfuse.user.id', // older Langfuse spelling (current Langfuse uses user.id)
    'gen_ai.user.id', // OpenLIT (mem0)
    'gen_ai.request.user', // OpenLIT: the request's `user` field
    'llm.user', // OpenLLMetry (Python): the request's `user` field
    'metadata#user_id', // OpenInference metadata JSON
    'metadata#user_api_key_user_id', // LiteLLM metadata as one attribute
  ),
  /** LiteLLM: the team's display alias (context for exception reports; the id is teamId). */
  teamAlias: keys(present, 'metadata.user_api_key_team_alias', 'metadata#user_api_key_team_alias'),
  /** LiteLLM: the proxy's end-user id (the `user` field of the request). */
  endUserId: keys(present, 'metadata.user_api_key_end_user_id', 'metadata#user_api_key_end_user_id'),
  /** LiteLLM: the virtual key's alias, else the key's hash (exception context: which key made the call). */
  apiKeyAlias: keys(
    present,
    'metadata.user_api_key_alias',
    'metadata#user_api_key_alias',
    'metadata.user_api_key_hash',
    'metadata#user_api_key_hash',
  ),
} satisfies Record<string, TextKey[]>;

export type TextField = keyof typeof TEXT_FIELDS;

/**
 * Attributes read as token counts, by TokenUsage field. The key that supplies the input count (else the
 * output count) also tells which library produced the numbers (see token-sources.ts).
 */
export const COUNT_FIELDS = {
  inputTokens: [
    'gen_ai.usage.input_tokens',
    'gen_ai.usage.prompt_tokens', // deprecated OTel, still sent by OpenLLMetry, OpenLIT and LiteLLM
    'llm.usage.prompt_tokens', // early OpenLLMetry
    'llm.token_count.prompt', // OpenInference
    'ai.usage.inputTokens', // Vercel AI SDK v5+
    'ai.usage.promptTokens', // Vercel AI SDK v4
    'ai.usage.tokens', // Vercel AI SDK embed / embedMany
    'langfuse.observation.usage_details#input', // Langfuse (disjoint usage types)
    'langfuse.observation.usage_details#prompt_tokens',
  ],
  cachedInputTokens: [
    'gen_ai.usage.cache_read.input_tokens',
    'gen_ai.usage.cache_read_input_tokens', // OpenLLMetry, OpenLIT
    'llm.token_count.prompt_details.cache_read', // OpenInference
    'ai.usage.inputTokenDetails.cacheReadTokens', // Vercel AI SDK v6
    'ai.usage.cachedInputTokens', // Vercel AI SDK v5
    'ai.response.providerMetadata#anthropic.cacheReadInputTokens', // Vercel AI SDK v4 (JSON string)
    'ai.response.providerMetadata#anthropic.usage.cache_read_input_tokens', // AI SDK v5 doGenerate: raw usage
    'ai.response.providerMetadata#openai.cachedPromptTokens',
    'ai.response.providerMetadata#bedrock.usage.cacheReadInputTokens',
    'langfuse.observation.usage_details#cache_read_input_tokens',
    'langfuse.observation.usage_details#input_cached_tokens',
    'langfuse.observation.usage_details#input_cache_read',
  ],
  cacheWriteTokens: [
    'gen_ai.usage.cache_creation.input_tokens',
    'gen_ai.usage.cache_write.input_tokens',
    'gen_ai.usage.cache_creation_input_tokens', // OpenLLMetry, OpenLIT
    'llm.token_count.prompt_details.cache_write', // OpenInference
    'ai.usage.inputTokenDetails.cacheWriteTokens', // Vercel AI SDK v6
    'ai.response.providerMetadata#anthropic.cacheCreationInputTokens', // Vercel AI SDK v4/v5 (JSON string)
    'ai.response.providerMetadata#anthropic.usage.cache_creation_input_tokens',
    'ai.response.providerMetadata#openai.usage.cacheWriteTokens',
    'ai.response.providerMetadata#bedrock.usage.cacheWriteInputTokens',
    'langfuse.observation.usage_details#cache_creation_input_tokens',
    'langfuse.observation.usage_details#input_cache_creation',
  ],
  outputTokens: [
    'gen_ai.usage.output_tokens',
    'gen_ai.usage.completion_tokens', // deprecated OTel, still sent by OpenLLMetry, OpenLIT and LiteLLM
    'llm.usage.completion_tokens', // early OpenLLMetry
    'llm.token_count.completion', // OpenInference
    'ai.usage.outputTokens', // Vercel AI SDK v5+
    'ai.usage.completionTokens', // Vercel AI SDK v4
    'langfuse.observation.usage_details#output',
    'langfuse.observation.usage_details#completion_tokens',
  ],
  reasoningTokens: [
    'gen_ai.usage.reasoning.output_tokens',
    'gen_ai.usage.reasoning_tokens', // OpenLLMetry
    'llm.token_count.completion_details.reasoning', // OpenInference
    'ai.usage.outputTokenDetails.reasoningTokens', // Vercel AI SDK v6
    'ai.usage.reasoningTokens', // Vercel AI SDK v5
    'ai.response.providerMetadata#openai.reasoningTokens', // Vercel AI SDK v4 (JSON string)
    'langfuse.observation.usage_details#output_reasoning_tokens',
    'langfuse.observation.usage_details#output_reasoning',
  ],
  totalTokens: [
    'gen_ai.usage.total_tokens',
    'llm.usage.total_tokens', // OpenLLMetry
    'llm.token_count.total', // OpenInference
    'ai.usage.totalTokens', // Vercel AI SDK
    'langfuse.observation.usage_details#total',
  ],
} satisfies Record<string, string[]>;

export type CountField = keyof typeof COUNT_FIELDS;

/** `gen_ai.operation.name` values that are not a model call (no tokens, never priced). */
export const NOT_A_CALL_OPERATIONS: ReadonlySet<string> = new Set(['execute_tool', NOT_A_MODEL_CALL]);

/**
 * Vercel AI SDK wrapper spans (`ai.operationId`): they carry the model and the usage summed over their
 * `doGenerate`/`doStream` children, which are the real provider calls. Counting the wrapper too would
 * double the bill.
 */
export const NOT_A_CALL_AI_SDK_OPERATIONS: ReadonlySet<string> = new Set([
  'ai.generateText',
  'ai.streamText',
  'ai.generateObject',
  'ai.streamObject',
  'ai.embed',
  'ai.embedMany',
  'ai.toolCall',
]);
