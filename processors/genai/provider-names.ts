/**
 * Normalization of provider and operation names to the values of the OpenTelemetry GenAI semantic
 * conventions (`gen_ai.provider.name`, `gen_ai.operation.name`), whatever convention the span used.
 */

/** Well-known `gen_ai.provider.name` values. Unknown providers pass through lower-cased. */
const OTEL_PROVIDER_NAMES: ReadonlySet<string> = new Set([
  'anthropic',
  'aws.bedrock',
  'azure.ai.inference',
  'azure.ai.openai',
  'cohere',
  'deepseek',
  'gcp.gemini',
  'gcp.gen_ai',
  'gcp.vertex_ai',
  'groq',
  'ibm.watsonx.ai',
  'mistral_ai',
  'openai',
  'perplexity',
  'x_ai',
]);

/**
 * Other spellings seen in the wild → OTel name: the deprecated `gen_ai.system` values, OpenInference
 * `llm.provider` / `llm.system` values, and Vercel AI SDK provider ids (`ai.model.provider`).
 * Add a row here when a new spelling shows up.
 */
const PROVIDER_ALIASES: ReadonlyMap<string, string> = new Map([
  // Azure
  ['az.ai.openai', 'azure.ai.openai'],
  ['az.ai.inference', 'azure.ai.inference'],
  ['azure', 'azure.ai.openai'],
  ['azure_openai', 'azure.ai.openai'],
  ['azure-openai', 'azure.ai.openai'],
  ['azure.openai', 'azure.ai.openai'],
  ['azure_ai', 'azure.ai.inference'], // LiteLLM
  ['azure_text', 'azure.ai.openai'], // LiteLLM
  // AWS
  ['bedrock', 'aws.bedrock'],
  ['aws', 'aws.bedrock'],
  ['aws_bedrock', 'aws.bedrock'],
  ['amazon-bedrock', 'aws.bedrock'],
  ['amazon_bedrock', 'aws.bedrock'],
  ['bedrock_converse', 'aws.bedrock'], // LiteLLM
  ['bedrock-converse', 'aws.bedrock'],
  // Google
  ['vertex_ai', 'gcp.vertex_ai'],
  ['vertex_ai_beta', 'gcp.vertex_ai'], // LiteLLM
  ['vertexai', 'gcp.vertex_ai'],
  ['vertex', 'gcp.vertex_ai'],
  ['google.vertex', 'gcp.vertex_ai'],
  ['google-vertex', 'gcp.vertex_ai'],
  ['gemini', 'gcp.gemini'],
  ['google', 'gcp.gemini'],
  ['google.generative-ai', 'gcp.gemini'],
  ['google_genai', 'gcp.gemini'],
  ['google-genai', 'gcp.gemini'],
  // OpenAI / Anthropic spellings of LiteLLM
  ['text-completion-openai', 'openai'],
  ['anthropic_text', 'anthropic'],
  // Others
  ['cohere_chat', 'cohere'], // LiteLLM
  ['codestral', 'mistral_ai'], // LiteLLM
  ['mistralai', 'mistral_ai'],
  ['mistral', 'mistral_ai'],
  ['xai', 'x_ai'],
  ['watsonx', 'ibm.watsonx.ai'],
  ['ibm.watsonx', 'ibm.watsonx.ai'],
]);

function lookupProvider(name: string): string | undefined {
  if (OTEL_PROVIDER_NAMES.has(name)) return name;
  return PROVIDER_ALIASES.get(name);
}

/**
 * OTel provider name for a raw provider/system value: trimmed and lower-cased, aliases mapped. A dotted
 * value that is not known as a whole is retried without its trailing segments, so Vercel AI SDK ids like
 * `openai.chat` or `google.vertex.chat` map to `openai` / `gcp.vertex_ai`. Unknown values pass through
 * (lower-cased) rather than being dropped: an unknown provider is still better than none for FinOps.
 */
export function normalizeProvider(raw: string): string | null {
  const name = raw.trim().toLowerCase();
  if (name === '') return null;
  let candidate = name;
  for (;;) {
    const known = lookupProvider(candidate);
    if (known !== undefined) return known;
    const dot = candidate.lastIndexOf('.');
    if (dot <= 0) return name;
    candidate = candidate.slice(0, dot);
  }
}

/** Operation spellings of other conventions → `gen_ai.operation.name` values. */
const OPERATION_ALIASES: ReadonlyMap<string, string> = new Map([
  // OpenLLMetry `llm.request.type`
  ['completion', 'text_completion'],
  ['embedding', 'embeddings'],
  // Vercel AI SDK `ai.operationId` of the spans that are one provider call
  ['ai.generatetext.dogenerate', 'chat'],
  ['ai.streamtext.dostream', 'chat'],
  ['ai.generateobject.dogenerate', 'chat'],
  ['ai.streamobject.dostream', 'chat'],
  ['ai.embed.doembed', 'embeddings'],
  ['ai.embedmany.doembed', 'embeddings'],
]);

/** `gen_ai.operation.name` for a raw operation value: trimmed, lower-cased, aliases mapped. */
export function normalizeOperation(raw: string): string | null {
  const name = raw.trim().toLowerCase();
  if (name === '') return null;
  return OPERATION_ALIASES.get(name) ?? name;
}

/**
 * `gen_ai.operation.name` from an OpenInference `openinference.span.kind`: only `EMBEDDING` says what the
 * call was; `LLM` covers chat and completions alike, so it yields null and a later key decides.
 */
export function operationFromOpenInferenceKind(raw: string): string | null {
  return raw.trim().toUpperCase() === 'EMBEDDING' ? 'embeddings' : null;
}

/**
 * `gen_ai.operation.name` from a Langfuse `langfuse.observation.type`: `generation` is a model call
 * (chat or completion, reported as `chat`), `embedding` an embeddings call; every other observation type
 * (`span`, `event`, `agent`, `tool`, `chain`, `retriever`, `evaluator`, `guardrail`) is not a model call and
 * maps to {@link NOT_A_MODEL_CALL}.
 */
export function operationFromLangfuseType(raw: string): string | null {
  switch (raw.trim().toLowerCase()) {
    case 'generation':
      return 'chat';
    case 'embedding':
      return 'embeddings';
    case '':
      return null;
    default:
      return NOT_A_MODEL_CALL;
  }
}

/** Operation value meaning "this span is not a model call" (never a real `gen_ai.operation.name`). */
export const NOT_A_MODEL_CALL = '#not_a_model_call';
