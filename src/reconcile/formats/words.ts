import type { TokenClass } from '../bill-line.js';

/**
 * Reading what a bill line is from its words: a token class, a service tier, the unit of a quantity, the
 * maker of a model. Shared by the cloud formats (CUR usage types, GCP SKU descriptions, Azure meter names,
 * FOCUS charge descriptions), which all spell these things in prose.
 */

/** Token class named by a description, or null when it names none (tool calls, storage, hosting…). */
export function tokenClassOfWords(text: string): TokenClass | null {
  const t = text.toLowerCase();
  if (/cache[-_ ]?(?:write|creation|wr\b)|\bcd[-_ ]wr\b|cache-write/.test(t)) return 'cache_write';
  if (/storage|hosting|training|hour/.test(t)) return null;
  if (/cache[-_ ]?read|cached|\bcchd\b|\bccchd\b|\bcd\b/.test(t)) return 'cached_input';
  if (/input|\binp\b|prompt/.test(t)) return 'input';
  if (/output|\boutp\b|\bopt\b|\bout\b|response|completion|generated/.test(t)) return 'output';
  return null;
}

/** Service tier named by a description: `batch`, `flex`, `priority`, or null (standard). */
export function tierOfWords(text: string): string | null {
  const t = text.toLowerCase();
  if (/(?:^|[^a-z])batch(?:[^a-z]|$)/.test(t)) return 'batch';
  if (/(?:^|[^a-z])flex(?:[^a-z]|$)/.test(t)) return 'flex';
  if (/(?:^|[^a-z])(?:priority|pp)(?:[^a-z]|$)/.test(t)) return 'priority';
  return null;
}

/**
 * How many tokens one unit of a quantity is, from the unit's words (`1K tokens`, `Million Tokens`, `1M`,
 * `tokens`, `count`); null when the unit does not count tokens (hours, characters, images, GiB…).
 */
export function tokenFactorOfUnit(unit: string | null | undefined): bigint | null {
  if (unit === null || unit === undefined) return null;
  const u = unit.trim().toLowerCase();
  if (u === '') return null;
  if (/hour|character|image|second|minute|gib|gb|byte|request|call|session|page/.test(u)) return null;
  const m = /^(\d+)\s*([km])?\b/.exec(u);
  const scale = (n: bigint, suffix: string | undefined) => (suffix === 'k' ? n * 1000n : suffix === 'm' ? n * 1_000_000n : n);
  if (m) return scale(BigInt(m[1]!), m[2]);
  if (/^(?:k|thousand)\b/.test(u)) return 1000n;
  if (/^(?:m|million)\b/.test(u)) return 1_000_000n;
  if (/token|count|unit/.test(u)) return 1n;
  return null;
}

const PUBLISHERS: readonly (readonly [RegExp, string])[] = [
  [/claude|anthropic/i, 'Anthropic'],
  [/\bgpt|^o\d|openai|dall-e|whisper|text-embedding/i, 'OpenAI'],
  [/gemini|gemma|palm|imagen/i, 'Google'],
  [/llama|meta\./i, 'Meta'],
  [/titan|nova|amazon\./i, 'Amazon'],
  [/mistral|mixtral|pixtral|codestral/i, 'Mistral AI'],
  [/command|cohere|embed-(?:english|multilingual)/i, 'Cohere'],
  [/jamba|ai21|j2-/i, 'AI21 Labs'],
  [/deepseek/i, 'DeepSeek'],
  [/grok/i, 'xAI'],
];

/** The company that makes a model, from its name; null when not recognised. */
export function publisherOf(model: string | null): string | null {
  if (model === null) return null;
  for (const [pattern, publisher] of PUBLISHERS) if (pattern.test(model)) return publisher;
  return null;
}

/**
 * The model named in a description once its class, tier, unit and deployment words are removed
 * ("Gemini 2.5 Flash Input Text Tokens (Batch)" → "Gemini 2.5 Flash"); null when nothing that looks like a
 * model (letters) is left.
 */
export function modelOfWords(text: string): string | null {
  const t = text
    .replace(/\([^)]*\)/g, ' ')
    .replace(
      /\b(?:input|output|inp|outp|opt|out|text|tokens?|characters?|image|images|audio|video|cached|cache|read|write|wr|cd|cchd|ccchd|creation|prompt|response|predictions?|online|batch|long|short|longco|shortco|context|for|of|and|priority|pp|flex|standard|std|pay as you go|provisioned throughput|global|glbl|gl|regional|regnl|rg|data zone|dzone|dz|count|units?|usage|storage|hosting|training|generation|gen|1k|1m|million|thousand|[<>]=?\s*\d+k?)\b/gi,
      ' ',
    )
    .replace(/\s*-\s*$/, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^[-_ ]+|[-_ ]+$/g, '');
  return /[a-z]/i.test(t) ? t : null;
}
