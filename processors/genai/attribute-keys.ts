import { normalizeOperation, normalizeProvider, operationFromOpenInferenceKind } from './provider-names.js';

/**
 * Which span attributes feed which GenAiCall field, for every instrumentation convention we read.
 * Supporting a new convention is adding keys here (and a golden test case), not new code.
 *
 * Within a field, keys are in priority order: the first key whose value parses wins. The order is
 * current OTel GenAI semconv → deprecated OTel → OpenLLMetry (Traceloop) → OpenInference (Arize) →
 * Vercel AI SDK.
 */

/** Turns a non-empty trimmed attribute text into the field's value, or null to let the next key decide. */
export type TextParser = (text: string) => string | null;

export interface TextKey {
  key: string;
  parse: TextParser;
}

const asIs: TextParser = (text) => text;

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
];

/** The distinct `<namespace>.` prefixes of {@link DETECTION_KEYS}: `gen_ai.`, `llm.`, `embedding.`, `ai.`. */
export const DETECTION_PREFIXES: readonly string[] = [
  ...new Set(DETECTION_KEYS.map((key) => key.slice(0, key.indexOf('.') + 1))),
];

/** Attributes read as strings, by GenAiCall field (plus internal fields). */
export const TEXT_FIELDS = {
  provider: keys(normalizeProvider, 'gen_ai.provider.name', 'gen_ai.system', 'llm.provider', 'llm.system', 'ai.model.provider'),
  requestModel: keys(asIs, 'gen_ai.request.model', 'ai.model.id'),
  // OpenInference `llm.model_name` is the model the instrumentation saw answer (response model when known).
  responseModel: keys(asIs, 'gen_ai.response.model', 'ai.response.model', 'llm.model_name', 'embedding.model_name'),
  operation: [
    ...keys(normalizeOperation, 'gen_ai.operation.name', 'llm.request.type', 'ai.operationId'),
    ...keys(operationFromOpenInferenceKind, 'openinference.span.kind'),
  ],
  responseId: keys(asIs, 'gen_ai.response.id', 'ai.response.id'),
  /** Vercel AI SDK span type, used to skip its wrapper spans (see NOT_A_CALL_AI_SDK_OPERATIONS). */
  aiSdkOperationId: keys(asIs, 'ai.operationId'),

  // Ownership hints: read from the GenAI span's own attributes. Resource attributes are the attributor's job.
  teamId: keys(
    asIs,
    'team_id',
    'team.id',
    'app.team_id',
    'app.team.id',
    'metadata.user_api_key_team_id', // LiteLLM proxy
    'traceloop.association.properties.team_id', // OpenLLMetry association properties
    'ai.telemetry.metadata.team_id', // Vercel AI SDK experimental_telemetry.metadata
    'ai.telemetry.metadata.teamId',
  ),
  projectId: keys(
    asIs,
    'project_id',
    'project.id',
    'app.project_id',
    'app.project.id',
    'traceloop.association.properties.project_id',
    'ai.telemetry.metadata.project_id',
    'ai.telemetry.metadata.projectId',
  ),
  costCenter: keys(
    asIs,
    'cost_center',
    'cost_center.id',
    'app.cost_center',
    'traceloop.association.properties.cost_center',
    'ai.telemetry.metadata.cost_center',
    'ai.telemetry.metadata.costCenter',
  ),
  environment: keys(
    asIs,
    'deployment.environment.name',
    'deployment.environment',
    'traceloop.association.properties.environment',
    'ai.telemetry.metadata.environment',
  ),
  service: keys(asIs, 'service.name', 'app.service', 'ai.telemetry.metadata.service'),
  userId: keys(
    asIs,
    'user.id',
    'enduser.id',
    'user_id',
    'app.user_id',
    'metadata.user_api_key_user_id', // LiteLLM proxy
    'traceloop.association.properties.user_id',
    'ai.telemetry.metadata.user_id',
    'ai.telemetry.metadata.userId',
  ),
} satisfies Record<string, TextKey[]>;

export type TextField = keyof typeof TEXT_FIELDS;

/** Attributes read as token counts, by TokenUsage field. */
export const COUNT_FIELDS = {
  inputTokens: [
    'gen_ai.usage.input_tokens',
    'gen_ai.usage.prompt_tokens', // deprecated OTel, still sent by OpenLLMetry
    'llm.usage.prompt_tokens', // early OpenLLMetry
    'llm.token_count.prompt', // OpenInference
    'ai.usage.inputTokens', // Vercel AI SDK v5
    'ai.usage.promptTokens', // Vercel AI SDK v4
  ],
  cachedInputTokens: [
    'gen_ai.usage.cache_read.input_tokens',
    'gen_ai.usage.cache_read_input_tokens', // OpenLLMetry
    'llm.token_count.prompt_details.cache_read', // OpenInference
    'ai.usage.cachedInputTokens', // Vercel AI SDK v5
  ],
  cacheWriteTokens: [
    'gen_ai.usage.cache_creation.input_tokens',
    'gen_ai.usage.cache_write.input_tokens',
    'gen_ai.usage.cache_creation_input_tokens', // OpenLLMetry
    'llm.token_count.prompt_details.cache_write', // OpenInference
  ],
  outputTokens: [
    'gen_ai.usage.output_tokens',
    'gen_ai.usage.completion_tokens', // deprecated OTel, still sent by OpenLLMetry
    'llm.usage.completion_tokens', // early OpenLLMetry
    'llm.token_count.completion', // OpenInference
    'ai.usage.outputTokens', // Vercel AI SDK v5
    'ai.usage.completionTokens', // Vercel AI SDK v4
  ],
  reasoningTokens: [
    'gen_ai.usage.reasoning.output_tokens',
    'gen_ai.usage.reasoning_tokens', // OpenLLMetry
    'llm.token_count.completion_details.reasoning', // OpenInference
    'ai.usage.reasoningTokens', // Vercel AI SDK v5
  ],
  totalTokens: [
    'gen_ai.usage.total_tokens',
    'llm.usage.total_tokens', // OpenLLMetry
    'llm.token_count.total', // OpenInference
    'ai.usage.totalTokens', // Vercel AI SDK
  ],
} satisfies Record<string, string[]>;

export type CountField = keyof typeof COUNT_FIELDS;

/** `gen_ai.operation.name` values that are not a model call (no tokens, never priced). */
export const NOT_A_CALL_OPERATIONS: ReadonlySet<string> = new Set(['execute_tool']);

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
