import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { truncateText } from '../../src/pipeline/bound-text.js';

/**
 * How user identifiers (`user.id`, `enduser.id`, LiteLLM `user_api_key_user_id`, …) are stored in the
 * ledger's `user_id` column (docs/security.md):
 * - `pseudonymize` (default): a keyed hash, `hmac:` + the first 32 hex characters (128 bits) of
 *   HMAC-SHA256(key, id). The same id gives the same value for as long as the key is the same, so spend
 *   per user still adds up; without the key the value cannot be turned back into the id, and a list of
 *   guessed ids (e-mail addresses) cannot be hashed to find it.
 * - `plain`: the id as sent, bounded like every ledger text (1024 characters).
 * - `drop`: never stored (NULL).
 */
export const UserIdMode = z.enum(['pseudonymize', 'plain', 'drop']);
export type UserIdMode = z.output<typeof UserIdMode>;

/** Prefix of a pseudonymized id: says what the value is and leaves room for another scheme later. */
export const PSEUDONYM_PREFIX = 'hmac:';
/** Hex characters of the HMAC kept: 128 bits, collision-free for any realistic number of users. */
export const PSEUDONYM_HEX_CHARS = 32;
/** Shortest accepted key, in bytes. */
export const MIN_USER_ID_KEY_BYTES = 32;

export class UserIdPolicy {
  private constructor(
    readonly mode: UserIdMode,
    private readonly key: Buffer | null,
  ) {}

  static pseudonymize(key: Buffer): UserIdPolicy {
    if (key.length < MIN_USER_ID_KEY_BYTES) {
      throw new RangeError(`user id key is ${key.length} bytes; at least ${MIN_USER_ID_KEY_BYTES} are needed`);
    }
    return new UserIdPolicy('pseudonymize', Buffer.from(key));
  }

  static plain(): UserIdPolicy {
    return new UserIdPolicy('plain', null);
  }

  static drop(): UserIdPolicy {
    return new UserIdPolicy('drop', null);
  }

  /** The value stored in `user_id` for the id a span carried (null when it carried none). */
  apply(userId: string | null): string | null {
    if (userId === null) return null;
    switch (this.mode) {
      case 'drop':
        return null;
      case 'plain':
        return truncateText(userId);
      case 'pseudonymize': {
        const mac = createHmac('sha256', this.key!).update(userId, 'utf8').digest('hex');
        return PSEUDONYM_PREFIX + mac.slice(0, PSEUDONYM_HEX_CHARS);
      }
    }
  }
}
