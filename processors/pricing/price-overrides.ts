/**
 * The user's price overrides file (YAML or JSON), layered over the package's list prices: custom prices for
 * fine-tuned / self-hosted / missing models, negotiated discounts, service-tier multipliers, and model aliases
 * (an Azure deployment name or a Bedrock inference-profile ARN → the model it runs). docs/pricing.md is the
 * reference for the format.
 *
 * The format is versioned (`version: "1.0"`): a different MAJOR version is refused, a newer MINOR is accepted
 * with a warning (this build may not understand everything in it). Every problem is reported as
 * `file:line: key: what is wrong`, all at once, and the server refuses to start.
 *
 * Money in the file is USD per million tokens, written as a decimal string or number with at most 6 decimal
 * places (one pico-USD per token); more digits are refused rather than silently rounded.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';

import { ConfigFileError } from '../../core/config-file-error.js';
import { parseYamlText } from '../../src/config/yaml-file.js';
import { MTOK_PRICE_DECIMALS, parseDecimal } from './decimal.js';

/** The format version this build writes and reads fully. */
export const OVERRIDES_FORMAT_MAJOR = 1;
export const OVERRIDES_FORMAT_MINOR = 0;

const VERSION_SYNTAX = /^(\d+)\.(\d+)$/;

const Version = z
  .union([z.string(), z.number()])
  .transform((v) => String(v))
  .refine((v) => VERSION_SYNTAX.test(v), { message: 'expected a version string "MAJOR.MINOR", e.g. "1.0"' })
  .refine((v) => Number(VERSION_SYNTAX.exec(v)?.[1]) === OVERRIDES_FORMAT_MAJOR, {
    message: `unsupported major version; this genai-ledger reads price override files version ${OVERRIDES_FORMAT_MAJOR}.x`,
  });

/** $/Mtok with at most 6 decimals → pico-USD per token. */
const PricePerMtok = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const text = String(v).trim();
  try {
    const parsed = parseDecimal(text, MTOK_PRICE_DECIMALS);
    if (parsed.value < 0n) throw new RangeError('negative');
    if (parsed.rounded) {
      ctx.addIssue({ code: 'custom', message: `price ${text} has more than ${MTOK_PRICE_DECIMALS} decimal places ($/Mtok)` });
      return z.NEVER;
    }
    return parsed.value;
  } catch {
    ctx.addIssue({ code: 'custom', message: `expected a non-negative price in USD per million tokens, got ${JSON.stringify(v)}` });
    return z.NEVER;
  }
});

/** A non-negative decimal with at most `decimals` places, as an integer scaled by 10^decimals. */
const scaledDecimal = (decimals: number, max: bigint | null, what: string) =>
  z.union([z.string(), z.number()]).transform((v, ctx) => {
    const text = String(v).trim();
    let parsed;
    try {
      parsed = parseDecimal(text, decimals);
    } catch {
      ctx.addIssue({ code: 'custom', message: `expected ${what}, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    if (parsed.rounded || parsed.value < 0n || (max !== null && parsed.value > max)) {
      ctx.addIssue({ code: 'custom', message: `expected ${what} with at most ${decimals} decimal places, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return parsed.value;
  });

/** Percent with up to 6 decimals, 0–100, scaled by 1e6. */
const Percent = scaledDecimal(6, 100_000_000n, 'a percentage from 0 to 100');
/** Multiplier with up to 6 decimals, scaled by 1e6. */
const Multiplier = scaledDecimal(6, null, 'a non-negative multiplier such as "0.5"');

const DATE_SYNTAX = /^\d{4}-\d{2}-\d{2}(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2}))?$/;
/** 'YYYY-MM-DD' (UTC midnight) or a full ISO timestamp with a zone → unix ms. */
const EffectiveDate = z.union([z.string(), z.date()]).transform((v, ctx) => {
  const text = v instanceof Date ? v.toISOString() : v.trim();
  const ms = DATE_SYNTAX.test(text) || v instanceof Date ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: 'custom', message: `expected a date "YYYY-MM-DD" (UTC) or an ISO timestamp with a zone, got ${JSON.stringify(text)}` });
    return z.NEVER;
  }
  return ms;
});

const Name = z.string().trim().min(1);

const period = {
  /** Effective from this instant (inclusive). */
  from: EffectiveDate.optional(),
  /** Effective until this instant (exclusive). */
  until: EffectiveDate.optional(),
  note: z.string().optional(),
};

const PriceRule = z
  .object({
    provider: Name.optional(),
    model: Name,
    input: PricePerMtok,
    output: PricePerMtok.optional(),
    cacheRead: PricePerMtok.optional(),
    cacheWrite: PricePerMtok.optional(),
    cacheWrite1h: PricePerMtok.optional(),
    reasoning: PricePerMtok.optional(),
    inputAudio: PricePerMtok.optional(),
    outputAudio: PricePerMtok.optional(),
    ...period,
  })
  .strict();

const DiscountRule = z
  .object({ provider: Name.optional(), model: Name.optional(), percent: Percent, ...period })
  .strict()
  .refine((r) => r.provider !== undefined || r.model !== undefined, { message: 'a discount needs a provider, a model, or both' });

const ServiceTierRule = z
  .object({ provider: Name.optional(), model: Name.optional(), tier: Name, multiplier: Multiplier, ...period })
  .strict();

const AliasRule = z
  .object({
    provider: Name.optional(),
    model: Name,
    priceAs: z.object({ provider: Name.optional(), model: Name }).strict(),
    note: z.string().optional(),
  })
  .strict();

export const PriceOverridesFile = z
  .object({
    version: Version,
    aliases: z.array(AliasRule).default([]),
    prices: z.array(PriceRule).default([]),
    discounts: z.array(DiscountRule).default([]),
    serviceTiers: z.array(ServiceTierRule).default([]),
  })
  .strict()
  .superRefine((file, ctx) => {
    const checkPeriod = (list: readonly { from?: number | undefined; until?: number | undefined }[], key: string) =>
      list.forEach((r, i) => {
        if (r.from !== undefined && r.until !== undefined && r.until <= r.from) {
          ctx.addIssue({ code: 'custom', path: [key, i, 'until'], message: 'until must be after from' });
        }
      });
    checkPeriod(file.prices, 'prices');
    checkPeriod(file.discounts, 'discounts');
    checkPeriod(file.serviceTiers, 'serviceTiers');
  });
export type PriceOverridesFile = z.output<typeof PriceOverridesFile>;

/** A compiled rule's common part: what it matches and when it is in force. */
export interface RuleScope {
  /** Lowercased OTel provider name, or null for any provider. */
  readonly provider: string | null;
  /** Lowercased model name; null for any model. */
  readonly model: string | null;
  /** True when `model` ended with `*` in the file: matches every model that starts with it. */
  readonly prefix: boolean;
  readonly fromMs: number;
  readonly untilMs: number;
  /** `prices[2]` etc., for `prices show` and error messages. */
  readonly label: string;
}

export interface CustomPrice extends RuleScope {
  readonly input: bigint;
  readonly output: bigint;
  readonly cacheRead: bigint;
  readonly cacheWrite: bigint;
  readonly cacheWrite1h: bigint;
  readonly reasoning: bigint;
  readonly inputAudio: bigint;
  readonly outputAudio: bigint;
}

export interface Discount extends RuleScope {
  /** Percent scaled by 1e6 (12.5% → 12_500_000n). */
  readonly percentMicros: bigint;
}

export interface TierMultiplier extends RuleScope {
  /** Lowercased tier name (`batch`, `flex`, `priority`, …). */
  readonly tier: string;
  /** Multiplier scaled by 1e6 (0.5 → 500_000n). */
  readonly multiplierMicros: bigint;
}

export interface Alias {
  readonly provider: string | null;
  readonly model: string;
  readonly prefix: boolean;
  readonly targetProvider: string | null;
  readonly targetModel: string;
  readonly label: string;
}

/** A loaded, validated overrides file. */
export interface PriceOverrides {
  readonly file: string;
  /** `sha256:<first 12 hex>` of the file's bytes: part of every `unit_price_snapshot` priced with it. */
  readonly hash: string;
  readonly version: string;
  readonly aliases: readonly Alias[];
  readonly prices: readonly CustomPrice[];
  readonly discounts: readonly Discount[];
  readonly serviceTiers: readonly TierMultiplier[];
  /** Non-fatal notices (a newer minor version). */
  readonly warnings: readonly string[];
}

const lower = (s: string | undefined): string | null => (s === undefined ? null : s.toLowerCase());

function modelPattern(model: string | undefined): { model: string | null; prefix: boolean } {
  if (model === undefined) return { model: null, prefix: false };
  const m = model.toLowerCase();
  return m.endsWith('*') ? { model: m.slice(0, -1), prefix: true } : { model: m, prefix: false };
}

function scope(
  r: { provider?: string | undefined; model?: string | undefined; from?: number | undefined; until?: number | undefined },
  label: string,
): RuleScope {
  return {
    provider: lower(r.provider),
    ...modelPattern(r.model),
    fromMs: r.from ?? Number.NEGATIVE_INFINITY,
    untilMs: r.until ?? Number.POSITIVE_INFINITY,
    label,
  };
}

/** Parses overrides text (YAML or JSON); `file` is used in messages. Throws ConfigFileError. */
export function parsePriceOverrides(text: string, file: string): PriceOverrides {
  const parsed = parseYamlText(text, file, PriceOverridesFile);
  const [, , minor = '0'] = VERSION_SYNTAX.exec(parsed.version) ?? [];
  const warnings =
    Number(minor) > OVERRIDES_FORMAT_MINOR
      ? [
          `${file}: version ${parsed.version} is newer than ${OVERRIDES_FORMAT_MAJOR}.${OVERRIDES_FORMAT_MINOR}, the newest this genai-ledger understands; upgrade genai-ledger if prices look wrong`,
        ]
      : [];
  return {
    file,
    hash: `sha256:${createHash('sha256').update(text).digest('hex').slice(0, 12)}`,
    version: parsed.version,
    aliases: parsed.aliases.map((a, i) => {
      const { model, prefix } = modelPattern(a.model);
      return {
        provider: lower(a.provider),
        model: model ?? '',
        prefix,
        targetProvider: a.priceAs.provider ?? null,
        targetModel: a.priceAs.model,
        label: `aliases[${i}]`,
      };
    }),
    prices: parsed.prices.map((p, i) => {
      const output = p.output ?? 0n;
      const cacheWrite = p.cacheWrite ?? p.input;
      return {
        ...scope(p, `prices[${i}]`),
        input: p.input,
        output,
        cacheRead: p.cacheRead ?? p.input,
        cacheWrite,
        cacheWrite1h: p.cacheWrite1h ?? cacheWrite,
        reasoning: p.reasoning ?? output,
        inputAudio: p.inputAudio ?? p.input,
        outputAudio: p.outputAudio ?? output,
      };
    }),
    discounts: parsed.discounts.map((d, i) => ({ ...scope(d, `discounts[${i}]`), percentMicros: d.percent })),
    serviceTiers: parsed.serviceTiers.map((t, i) => ({
      ...scope(t, `serviceTiers[${i}]`),
      tier: t.tier.toLowerCase(),
      multiplierMicros: t.multiplier,
    })),
    warnings,
  };
}

/** Reads and validates an overrides file. Throws ConfigFileError naming file, line and key. */
export async function loadPriceOverrides(file: string): Promise<PriceOverrides> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigFileError(file, [`cannot read file: ${(err as Error).message}`]);
  }
  return parsePriceOverrides(text, file);
}

/** Does a rule's provider/model pattern match a (lowercased) provider and model? */
export function scopeMatches(
  rule: { provider: string | null; model: string | null; prefix: boolean },
  provider: string,
  model: string,
): boolean {
  if (rule.provider !== null && rule.provider !== provider) return false;
  if (rule.model === null) return true;
  return rule.prefix ? model.startsWith(rule.model) : model === rule.model;
}

export const inForce = (rule: RuleScope, ms: number): boolean => ms >= rule.fromMs && ms < rule.untilMs;
