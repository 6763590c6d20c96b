import { z } from 'zod';
import { loadYamlFile } from '../config/yaml-file.js';

/**
 * A savings policy (YAML or JSON): which cheaper model each model's calls could run on.
 *
 * ```yaml
 * version: "1.0"
 * rules:
 *   - from: gpt-4o            # the model as the ledger names it; dated snapshots (gpt-4o-2024-08-06) match too
 *     to: gpt-4o-mini
 *     provider: openai        # optional: only calls of this provider
 *     toProvider: openai      # optional: the provider to price `to` with (default: the call's provider)
 *     teams: [support-ops]    # optional: only these teams
 *     operations: [chat]      # optional: only these operations
 * ```
 * Versioned like the price overrides: a different MAJOR is refused, a newer MINOR accepted.
 */
export const SAVINGS_POLICY_MAJOR = 1;

const name = z.string().trim().min(1);

export const SavingsRule = z
  .object({
    from: name,
    to: name,
    provider: name.optional(),
    toProvider: name.optional(),
    teams: z.array(name).min(1).optional(),
    operations: z.array(name).min(1).optional(),
  })
  .strict();
export type SavingsRule = z.output<typeof SavingsRule>;

export const SavingsPolicy = z
  .object({
    version: z
      .union([z.string(), z.number()])
      .transform((v) => String(v))
      .refine((v) => /^\d+\.\d+$/.test(v) && Number(v.split('.')[0]) === SAVINGS_POLICY_MAJOR, {
        message: `expected version "${SAVINGS_POLICY_MAJOR}.x"`,
      }),
    rules: z.array(SavingsRule).min(1),
  })
  .strict();
export type SavingsPolicy = z.output<typeof SavingsPolicy>;

/** Reads a policy file; throws ConfigFileError naming file, line and key for every problem. */
export async function loadSavingsPolicy(file: string): Promise<SavingsPolicy> {
  return loadYamlFile(file, SavingsPolicy);
}
