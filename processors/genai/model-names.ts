import { normalizeProvider } from './provider-names.js';

/**
 * Repairs model ids that an instrumentation library mangled, so that `model` (the priced model, and the
 * column FinOps groups by) is the provider's own id. The raw values stay in `requestModel` /
 * `responseModel` for audit.
 *
 * Deliberately conservative: the price book already matches Bedrock ids with region / inference-profile
 * prefixes (`us.anthropic.…`, `global.anthropic.…`, ARNs), so those are kept as sent — stripping them would
 * lose the regional-vs-global price distinction.
 */

/**
 * Gateway-style `<provider>/<model>` prefixes (LiteLLM model strings such as `anthropic/claude-…`,
 * `bedrock/us.anthropic.…`, `vertex_ai/gemini-…`). Only these known provider slugs are stripped: other
 * slashes are part of real model ids (`meta-llama/Llama-3-70b`, `accounts/fireworks/models/…`).
 */
const GATEWAY_PREFIXES: ReadonlySet<string> = new Set([
  'openai',
  'anthropic',
  'bedrock',
  'bedrock_converse',
  'vertex_ai',
  'vertex_ai_beta',
  'gemini',
  'azure',
  'azure_ai',
  'mistral',
  'groq',
  'deepseek',
  'xai',
  'cohere',
  'cohere_chat',
]);

/** Bedrock model families whose vendor prefix a library may strip, with the prefix to restore. */
const BEDROCK_VENDOR_OF_FAMILY: readonly (readonly [RegExp, string])[] = [
  [/^claude/, 'anthropic.'],
  [/^llama/, 'meta.'],
  [/^(?:nova|titan)/, 'amazon.'],
  [/^(?:mistral|mixtral|pixtral)/, 'mistral.'],
  [/^(?:command|embed-)/, 'cohere.'],
  [/^(?:jamba|j2-)/, 'ai21.'],
];

/** `<provider>/<model>` → the provider (OTel name) and model, when the prefix is a known gateway slug. */
export function splitGatewayModel(model: string): { provider: string; model: string } | null {
  const slash = model.indexOf('/');
  if (slash <= 0 || slash === model.length - 1) return null;
  const prefix = model.slice(0, slash).toLowerCase();
  if (!GATEWAY_PREFIXES.has(prefix)) return null;
  return { provider: normalizeProvider(prefix) ?? prefix, model: model.slice(slash + 1) };
}

/**
 * The model id to price and report for a provider. Idempotent: a normalized id normalizes to itself.
 * - a known gateway prefix is dropped (`anthropic/claude-3-5-haiku` → `claude-3-5-haiku`);
 * - on `aws.bedrock`, an id whose vendor prefix was stripped gets it back
 *   (`claude-3-haiku-20240307-v1:0` → `anthropic.claude-3-haiku-20240307-v1:0`, `llama3-70b-…` →
 *   `meta.llama3-70b-…`); ids with a vendor or region prefix, and ARNs, are kept as sent.
 */
export function normalizeModel(provider: string | null, model: string): string {
  let id = model.trim();
  for (;;) {
    const split = splitGatewayModel(id);
    if (split === null) break;
    id = split.model;
  }
  if (provider === 'aws.bedrock' && !id.includes('.') && !id.includes(':aws:')) {
    for (const [family, vendor] of BEDROCK_VENDOR_OF_FAMILY) {
      if (family.test(id)) return vendor + id;
    }
  }
  return id;
}
