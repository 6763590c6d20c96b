import { SpanKind, type AnyValue, type InstrumentationScope, type KeyValue, type Span } from '../../core/otlp.js';
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
import { INVALID_TOKEN_COUNT, normalizeTokenUsage, readTokenCount, type TokenUsage } from './normalize-tokens.js';
import { normalizeModel, splitGatewayModel } from './model-names.js';
import { leafValue, structuredAt, structuredValue, type Structured } from './structured-value.js';
import { declaredConvention, tokenSourceOf, type TokenSource } from './token-sources.js';

export type { TokenUsage } from './normalize-tokens.js';

/** Ownership as read from the GenAI span's OWN attributes (empty strings count as absent). */
export interface OwnershipHints {
  teamId: string | null;
  projectId: string | null;
  /** Carried for exception reports only: the cost center of record comes from the teams table. */
  costCenter: string | null;
  environment: string | null;
  service: string | null;
  userId: string | null;
  /**
   * `http.route` of a SERVER-kind span (not ownership: exception context that descendants inherit like it);
   * omitted or null otherwise.
   */
  route?: string | null;
}

/** Debugging / exception-report context about who and what conversation; never billing identity. */
export interface CallContext {
  /** `gen_ai.conversation.id`, `session.id`, ... */
  conversationId: string | null;
  /** LiteLLM `metadata.user_api_key_team_alias`. */
  teamAlias: string | null;
  /** LiteLLM `metadata.user_api_key_end_user_id`. */
  endUserId: string | null;
  /** LiteLLM `metadata.user_api_key_alias`, else `metadata.user_api_key_hash`. */
  apiKeyAlias: string | null;
}

export interface GenAiCall extends TokenUsage {
  /** OTel provider name, normalized (`openai`, `anthropic`, `aws.bedrock`, `gcp.vertex_ai`, ...). */
  provider: string | null;
  /** Request model exactly as sent (trimmed). */
  requestModel: string | null;
  /** Response model exactly as sent (trimmed). */
  responseModel: string | null;
  /** responseModel ?? requestModel, with library manglings repaired (model-names.ts): the model that is priced. */
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
  /** Which convention family supplied the counts (token-sources.ts): `otel`, `openllmetry`, `ai_sdk`, ... */
  tokenSource: TokenSource;
  /**
   * Attribute keys whose token count was present but unreadable (negative, fractional, text, beyond
   * MAX_TOKENS_PER_CLASS, ...); their class is null. Non-empty makes the row an `invalid_tokens` exception
   * with no cost: never priced as if the class were zero.
   */
  invalidTokenKeys: readonly string[];
  /**
   * A cost the instrumentation computed itself (OpenLIT `gen_ai.usage.cost`, Langfuse `cost_details.total`),
   * USD as plain decimal text. Kept for reconciliation only: the ledger's cost always comes from the price book.
   */
  reportedCostUsd: string | null;
  context: CallContext;
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

/** Where a key's value is: an attribute slot, and for `attr#a.b` keys the path inside its structure. */
interface KeyRef {
  key: string;
  slot: number;
  /** null: the attribute value itself; else the path inside the parsed structure. */
  path: readonly string[] | null;
}

function keyRef(key: string): KeyRef {
  const hash = key.indexOf('#');
  if (hash === -1) return { key, slot: slotOf(key), path: null };
  return { key, slot: slotOf(key.slice(0, hash)), path: key.slice(hash + 1).split('.') };
}

interface TextSlot extends KeyRef {
  parse: TextParser;
}

const TEXT_SLOTS = Object.fromEntries(
  Object.entries(TEXT_FIELDS).map(([field, list]) => [field, list.map(({ key, parse }) => ({ ...keyRef(key), parse }))]),
) as Record<TextField, TextSlot[]>;

const COUNT_SLOTS = Object.fromEntries(
  Object.entries(COUNT_FIELDS).map(([field, list]) => [field, list.map(keyRef)]),
) as Record<CountField, KeyRef[]>;

const DETECTION_KEY_SET: ReadonlySet<string> = new Set(DETECTION_KEYS);
/** 1 at the (7-bit) char code of each detection prefix's first character. */
const PREFIX_FIRST_CHARS = new Uint8Array(128);
for (const prefix of DETECTION_PREFIXES) PREFIX_FIRST_CHARS[prefix.charCodeAt(0) & 0x7f] = 1;
const AI_MODEL_PROVIDER_SLOT = slotOf('ai.model.provider');
const SLOT_COUNT = SLOT_OF_KEY.size;

/**
 * One bit per field; SLOT_FIELD_MASK[slot] has the bits of every field the slot feeds. A span ORs the masks
 * of the slots it fills, so a field none of whose keys is present (most ownership fields, most conventions)
 * is skipped without scanning its key list.
 */
const FIELD_BIT = new Map<string, number>();
const SLOT_FIELD_MASK = new Int32Array(SLOT_COUNT);
for (const [field, refs] of [...Object.entries(TEXT_SLOTS), ...Object.entries(COUNT_SLOTS)] as [string, KeyRef[]][]) {
  const bit = FIELD_BIT.get(field) ?? 1 << FIELD_BIT.size;
  if (FIELD_BIT.size > 31) throw new Error('extract-genai-call: more than 31 fields; widen the field mask');
  FIELD_BIT.set(field, bit);
  for (const ref of refs) SLOT_FIELD_MASK[ref.slot]! |= bit;
}
const fieldBit = (field: string): number => FIELD_BIT.get(field) ?? 0;
const TEXT_BIT = Object.fromEntries(Object.keys(TEXT_SLOTS).map((f) => [f, fieldBit(f)])) as Record<TextField, number>;
const COUNT_BIT = Object.fromEntries(Object.keys(COUNT_SLOTS).map((f) => [f, fieldBit(f)])) as Record<CountField, number>;

/**
 * Slot values of the span being extracted. Reused across calls (extraction is synchronous and never
 * re-entered) and reset slot by slot afterwards, so a GenAI span does not allocate a SLOT_COUNT-long array.
 */
const SCRATCH: (AnyValue | undefined)[] = new Array<AnyValue | undefined>(SLOT_COUNT).fill(undefined);

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

/** The attribute values of one GenAI span, by slot, and their parsed structures (filled on first use). */
class SpanValues {
  private parsed: (Structured | undefined | null)[] | undefined;
  /** The key that supplied the last successful {@link count}. */
  lastCountKey: string | null = null;
  /** Keys whose token count was present but unreadable (see {@link count}); null when none. */
  invalidKeys: string[] | null = null;
  /** COUNT_BIT of each field whose count was unreadable. */
  invalidFields = 0;

  constructor(
    readonly values: readonly (AnyValue | undefined)[],
    /** OR of SLOT_FIELD_MASK over the filled slots. */
    private readonly fieldMask: number,
  ) {}

  value(ref: KeyRef): AnyValue | undefined {
    const raw = this.values[ref.slot];
    if (ref.path === null || raw === undefined) return raw;
    this.parsed ??= new Array<Structured | undefined | null>(SLOT_COUNT);
    let structure = this.parsed[ref.slot];
    if (structure === undefined) {
      // null marks "parsed, nothing there" so a bad blob is parsed once per span.
      structure = structuredValue(raw) ?? null;
      this.parsed[ref.slot] = structure;
    }
    return structure === null ? undefined : leafValue(structuredAt(structure, ref.path));
  }

  text(field: TextField): string | null {
    if ((this.fieldMask & TEXT_BIT[field]) === 0) return null;
    for (const ref of TEXT_SLOTS[field]) {
      const text = attributeText(this.value(ref));
      if (text === null) continue;
      const parsed = ref.parse(text);
      if (parsed !== null) return parsed;
    }
    return null;
  }

  /**
   * The count of `field` from the first of its keys that holds a readable count. When keys of the field are
   * present but none is readable, the field is null and its first unreadable key goes to {@link invalidKeys}:
   * a count we cannot read must surface as an exception, never as an absent (zero-priced) class.
   */
  count(field: CountField): number | null {
    if ((this.fieldMask & COUNT_BIT[field]) === 0) return null;
    let invalidKey: string | null = null;
    for (const ref of COUNT_SLOTS[field]) {
      const count = readTokenCount(this.value(ref));
      if (count === null) continue;
      if (count === INVALID_TOKEN_COUNT) {
        invalidKey ??= ref.key;
        continue;
      }
      this.lastCountKey = ref.key;
      return count;
    }
    if (invalidKey !== null) {
      (this.invalidKeys ??= []).push(invalidKey);
      this.invalidFields |= COUNT_BIT[field];
    }
    return null;
  }
}

const NO_KEYS: readonly string[] = Object.freeze([]);

/** The instrumentation scope of a span, as far as the extractor cares. */
export type ScopeInfo = Pick<InstrumentationScope, 'name' | 'version'>;
const NO_SCOPE: ScopeInfo = { name: '', version: '' };

/**
 * Detects a GenAI call and normalizes it, whatever instrumentation convention produced it (see
 * attribute-keys.ts). Returns null for spans that are not a model call: no GenAI attribute, a tool
 * execution, a Langfuse non-generation observation, or a Vercel AI SDK wrapper span whose children are the
 * actual calls. `scope` (the span's instrumentation scope) lets source-specific token conventions apply.
 */
export function extractGenAiCall(span: Span, scope: ScopeInfo = NO_SCOPE): GenAiCall | null {
  const { attributes } = span;
  if (!hasDetectionKey(attributes)) return null;

  return withSpanValues(attributes, readCall, scope);
}

/**
 * Fills the shared SCRATCH slots from `attributes`, runs `read` on them, and empties the slots again
 * (`arg` is passed through so callers need no closure per span).
 */
function withSpanValues<A, T>(attributes: readonly KeyValue[], read: (values: SpanValues, arg: A) => T, arg: A): T {
  const slots = SCRATCH;
  let fieldMask = 0;
  for (const { key, value } of attributes) {
    const slot = SLOT_OF_KEY.get(key);
    // First occurrence wins, as in findAttribute.
    if (slot !== undefined && slots[slot] === undefined) {
      slots[slot] = value;
      fieldMask |= SLOT_FIELD_MASK[slot]!;
    }
  }
  try {
    return read(new SpanValues(slots, fieldMask), arg);
  } finally {
    for (const { key } of attributes) {
      const slot = SLOT_OF_KEY.get(key);
      if (slot !== undefined) slots[slot] = undefined;
    }
  }
}

/** The ownership hints of a span's own attributes; `fallbackUserId` when it names no user. */
function readOwnership(values: SpanValues, teamId: string | null, fallbackUserId: string | null): OwnershipHints {
  return {
    teamId,
    projectId: values.text('projectId'),
    costCenter: values.text('costCenter'),
    environment: values.text('environment'),
    service: values.text('service'),
    userId: values.text('userId') ?? fallbackUserId,
  };
}

function readCall(values: SpanValues, scope: ScopeInfo): GenAiCall | null {
  const slots = values.values;

  const operation = values.text('operation');
  if (operation !== null && NOT_A_CALL_OPERATIONS.has(operation)) return null;
  const aiSdkOperationId = values.text('aiSdkOperationId');
  if (aiSdkOperationId !== null && NOT_A_CALL_AI_SDK_OPERATIONS.has(aiSdkOperationId)) return null;

  let provider = values.text('provider');
  const requestModel = values.text('requestModel');
  const responseModel = values.text('responseModel');
  // A detection key with an empty or unusable value does not make a call.
  if (provider === null && requestModel === null && responseModel === null && operation === null) return null;

  const rawModel = responseModel ?? requestModel;
  // LiteLLM-style `anthropic/claude-…` names the provider when nothing else did.
  if (provider === null && rawModel !== null) provider = splitGatewayModel(rawModel)?.provider ?? null;
  const model = rawModel === null ? null : normalizeModel(provider, rawModel);

  const raw: TokenUsage = {
    inputTokens: values.count('inputTokens'),
    cachedInputTokens: null,
    cacheWriteTokens: null,
    outputTokens: null,
    reasoningTokens: null,
    totalTokens: null,
  };
  let countKey = raw.inputTokens === null ? null : values.lastCountKey;
  raw.outputTokens = values.count('outputTokens');
  if (countKey === null && raw.outputTokens !== null) countKey = values.lastCountKey;
  raw.cachedInputTokens = values.count('cachedInputTokens');
  raw.cacheWriteTokens = values.count('cacheWriteTokens');
  raw.reasoningTokens = values.count('reasoningTokens');
  // Only the priced classes make the call's tokens invalid; an unreadable total is recomputed or left NULL.
  const invalidTokenKeys = values.invalidKeys === null ? NO_KEYS : [...values.invalidKeys];
  const invalidFields = values.invalidFields;
  raw.totalTokens = values.count('totalTokens');

  const markers = {
    countKey,
    scopeName: scope.name,
    scopeVersion: scope.version,
    telemetrySdkName: values.text('telemetrySdkName'),
    aiSdkSpan: aiSdkOperationId !== null || slots[AI_MODEL_PROVIDER_SLOT] !== undefined,
    aiSdkTokenDetails: values.text('aiSdkTokenDetails') !== null,
    provider,
    model,
  };
  const tokenSource = tokenSourceOf(markers);
  const { usage, tokenConvention } = normalizeTokenUsage(raw, declaredConvention(tokenSource, markers));
  // A class that was sent but unreadable stays NULL in the row even where normalization derived a value
  // for it from the other classes (input from cache reads): the row must show what is unknown.
  if (invalidFields !== 0) {
    if ((invalidFields & COUNT_BIT.inputTokens) !== 0) usage.inputTokens = null;
    if ((invalidFields & COUNT_BIT.outputTokens) !== 0) usage.outputTokens = null;
    if (usage.inputTokens === null || usage.outputTokens === null) usage.totalTokens = null;
  }

  const endUserId = values.text('endUserId');
  return {
    provider,
    requestModel,
    responseModel,
    model,
    operation,
    responseId: values.text('responseId'),
    ...usage,
    ownership: readOwnership(values, values.text('teamId'), endUserId),
    tokenConvention,
    tokenSource,
    invalidTokenKeys,
    reportedCostUsd: values.text('reportedCostUsd'),
    context: {
      conversationId: values.text('conversationId'),
      teamAlias: values.text('teamAlias'),
      endUserId,
      apiKeyAlias: values.text('apiKeyAlias'),
    },
  };
}

// ---- Ownership of any span (ancestors of GenAI calls) ----------------------------------------------

/**
 * Attribute names that can carry an ownership field a descendant inherits (team, project, environment; before
 * any `#path`): only spans with one are read further.
 */
const OWNERSHIP_ATTRIBUTE_NAMES: ReadonlySet<string> = new Set(
  [...TEXT_SLOTS.teamId, ...TEXT_SLOTS.projectId, ...TEXT_SLOTS.environment].map((ref) => ref.key.split('#')[0]!),
);
/** 1 at the (7-bit) char code of each such name's first character: most keys are rejected on it. */
const OWNERSHIP_FIRST_CHARS = new Uint8Array(128);
for (const name of OWNERSHIP_ATTRIBUTE_NAMES) OWNERSHIP_FIRST_CHARS[name.charCodeAt(0) & 0x7f] = 1;

const HTTP_ROUTE = 'http.route';

/** `http.route` of a SERVER-kind span (the endpoint that made the calls below it), or null. */
export function serverRoute(span: Span): string | null {
  if (span.kind !== SpanKind.SERVER) return null;
  for (const { key, value } of span.attributes) if (key === HTTP_ROUTE) return attributeText(value);
  return null;
}

/**
 * The ownership a span that is not a GenAI call hands down to the calls below it (the app's request span, an AI SDK
 * wrapper span, a span with OpenTelemetry baggage copied onto it by `BaggageSpanProcessor`): the team, project and
 * environment it carries, each on its own, read with the same keys as a GenAI span's own ownership. Null, without
 * allocating, when it carries none of them. (A SERVER span's route is read by {@link serverRoute}.)
 */
export function extractSpanOwnership(span: Span): OwnershipHints | null {
  const { attributes } = span;
  let candidate = false;
  for (const { key } of attributes) {
    if (OWNERSHIP_FIRST_CHARS[key.charCodeAt(0) & 0x7f] === 1 && OWNERSHIP_ATTRIBUTE_NAMES.has(key)) {
      candidate = true;
      break;
    }
  }
  return candidate ? withSpanValues(attributes, readInheritedOwnership, null) : null;
}

/** Ownership hints when the span names a team, a project or an environment, else null. */
function readInheritedOwnership(values: SpanValues): OwnershipHints | null {
  const hints = readOwnership(values, values.text('teamId'), null);
  return hints.teamId === null && hints.projectId === null && hints.environment === null ? null : hints;
}
