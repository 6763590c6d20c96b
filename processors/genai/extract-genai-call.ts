import type { AnyValue, KeyValue, Span } from '../../src/model/otlp.js';
import {
  COUNT_FIELDS,
  DETECTION_KEYS,
  DETECTION_PREFIXES,
  NOT_A_CALL_AI_SDK_OPERATIONS,
  NOT_A_CALL_OPERATIONS,
  TEXT_FIELDS,
  type CountField,
  type TextField,
  type TextParser,
} from './attribute-keys.js';
import { attributeText } from './attribute-text.js';
import { normalizeTokenUsage, parseTokenCount } from './normalize-tokens.js';

/** Token counts of one call, normalized to the ledger invariants (null = not reported). */
export interface TokenUsage {
  /** All input tokens, including cache reads and cache writes. */
  inputTokens: number | null;
  /** Input tokens read from a provider cache. */
  cachedInputTokens: number | null;
  /** Input tokens written to a provider cache. */
  cacheWriteTokens: number | null;
  /** All output tokens, including reasoning. */
  outputTokens: number | null;
  /** Reasoning part of the output. */
  reasoningTokens: number | null;
  /** input + output when both are known, else what the span reported. */
  totalTokens: number | null;
}

/** Ownership as read from the GenAI span's OWN attributes (empty strings count as absent). */
export interface OwnershipHints {
  teamId: string | null;
  projectId: string | null;
  /** Carried for exception reports only: the cost center of record comes from the teams table. */
  costCenter: string | null;
  environment: string | null;
  service: string | null;
  userId: string | null;
}

export interface GenAiCall extends TokenUsage {
  /** OTel provider name, normalized (`openai`, `anthropic`, `aws.bedrock`, `gcp.vertex_ai`, ...). */
  provider: string | null;
  requestModel: string | null;
  responseModel: string | null;
  /** responseModel ?? requestModel: the model that is priced. */
  model: string | null;
  /** `chat`, `text_completion`, `embeddings`, `generate_content`, `invoke_agent`, ... */
  operation: string | null;
  /** `gen_ai.response.id` */
  responseId: string | null;
  ownership: OwnershipHints;
  /**
   * How the reported token counts were read. `'otel'`: as the OTel semconv defines them (input includes
   * cache, output includes reasoning), used unchanged. Otherwise the adjustments applied because the parts
   * exceeded the whole: `'input_excludes_cache'` (cache reads + writes were added to input),
   * `'output_excludes_reasoning'` (reasoning was added to output), or both joined with `+`.
   * See {@link normalizeTokenUsage}.
   */
  tokenConvention: string;
}

// ---- Precomputed lookup: every attribute key we read gets a slot; a span fills the slots in one pass. ----

const SLOT_OF_KEY = new Map<string, number>();
function slotOf(key: string): number {
  let slot = SLOT_OF_KEY.get(key);
  if (slot === undefined) {
    slot = SLOT_OF_KEY.size;
    SLOT_OF_KEY.set(key, slot);
  }
  return slot;
}

interface TextSlot {
  slot: number;
  parse: TextParser;
}

const TEXT_SLOTS = Object.fromEntries(
  Object.entries(TEXT_FIELDS).map(([field, list]) => [field, list.map(({ key, parse }) => ({ slot: slotOf(key), parse }))]),
) as Record<TextField, TextSlot[]>;

const COUNT_SLOTS = Object.fromEntries(
  Object.entries(COUNT_FIELDS).map(([field, list]) => [field, list.map(slotOf)]),
) as Record<CountField, number[]>;

const DETECTION_KEY_SET: ReadonlySet<string> = new Set(DETECTION_KEYS);
/** 1 at the (7-bit) char code of each detection prefix's first character. */
const PREFIX_FIRST_CHARS = new Uint8Array(128);
for (const prefix of DETECTION_PREFIXES) PREFIX_FIRST_CHARS[prefix.charCodeAt(0) & 0x7f] = 1;
const SLOT_COUNT = SLOT_OF_KEY.size;

/**
 * Cheap test for the common case (HTTP/DB spans): does any attribute key carry a GenAI detection key?
 * One pass, no allocation; a full key comparison only for keys with a GenAI prefix.
 */
function hasDetectionKey(attributes: readonly KeyValue[]): boolean {
  for (const { key } of attributes) {
    // Most keys (http.*, url.*, db.*, server.*) are rejected on their first character.
    if (PREFIX_FIRST_CHARS[key.charCodeAt(0) & 0x7f] !== 1) continue;
    for (const prefix of DETECTION_PREFIXES) {
      if (key.startsWith(prefix)) {
        if (DETECTION_KEY_SET.has(key)) return true;
        break;
      }
    }
  }
  return false;
}

function readText(values: readonly (AnyValue | undefined)[], field: TextField): string | null {
  for (const { slot, parse } of TEXT_SLOTS[field]) {
    const text = attributeText(values[slot]);
    if (text === null) continue;
    const parsed = parse(text);
    if (parsed !== null) return parsed;
  }
  return null;
}

function readCount(values: readonly (AnyValue | undefined)[], field: CountField): number | null {
  for (const slot of COUNT_SLOTS[field]) {
    const count = parseTokenCount(values[slot]);
    if (count !== null) return count;
  }
  return null;
}

/**
 * Detects a GenAI call and normalizes it, whatever instrumentation convention produced it (see
 * attribute-keys.ts). Returns null for spans that are not a model call: no GenAI attribute, a tool
 * execution, or a Vercel AI SDK wrapper span whose children are the actual calls.
 */
export function extractGenAiCall(span: Span): GenAiCall | null {
  const { attributes } = span;
  if (!hasDetectionKey(attributes)) return null;

  const values: (AnyValue | undefined)[] = new Array<AnyValue | undefined>(SLOT_COUNT);
  for (const { key, value } of attributes) {
    const slot = SLOT_OF_KEY.get(key);
    // First occurrence wins, as in findAttribute.
    if (slot !== undefined && values[slot] === undefined) values[slot] = value;
  }

  const operation = readText(values, 'operation');
  if (operation !== null && NOT_A_CALL_OPERATIONS.has(operation)) return null;
  const aiSdkOperationId = readText(values, 'aiSdkOperationId');
  if (aiSdkOperationId !== null && NOT_A_CALL_AI_SDK_OPERATIONS.has(aiSdkOperationId)) return null;

  const provider = readText(values, 'provider');
  const requestModel = readText(values, 'requestModel');
  const responseModel = readText(values, 'responseModel');
  // A detection key with an empty or unusable value does not make a call.
  if (provider === null && requestModel === null && responseModel === null && operation === null) return null;

  const { usage, tokenConvention } = normalizeTokenUsage({
    inputTokens: readCount(values, 'inputTokens'),
    cachedInputTokens: readCount(values, 'cachedInputTokens'),
    cacheWriteTokens: readCount(values, 'cacheWriteTokens'),
    outputTokens: readCount(values, 'outputTokens'),
    reasoningTokens: readCount(values, 'reasoningTokens'),
    totalTokens: readCount(values, 'totalTokens'),
  });

  return {
    provider,
    requestModel,
    responseModel,
    model: responseModel ?? requestModel,
    operation,
    responseId: readText(values, 'responseId'),
    ...usage,
    ownership: {
      teamId: readText(values, 'teamId'),
      projectId: readText(values, 'projectId'),
      costCenter: readText(values, 'costCenter'),
      environment: readText(values, 'environment'),
      service: readText(values, 'service'),
      userId: readText(values, 'userId'),
    },
    tokenConvention,
  };
}
