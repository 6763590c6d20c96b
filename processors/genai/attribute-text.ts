import type { AnyValue } from '../../core/otlp.js';

/**
 * An attribute value as identifier text: strings trimmed, empty → null; finite numbers and bigints
 * stringified (ids are sometimes sent as ints); booleans, bytes, arrays and maps → null.
 */
export function attributeText(value: AnyValue | undefined): string | null {
  switch (typeof value) {
    case 'string': {
      const text = value.trim();
      return text === '' ? null : text;
    }
    case 'number':
      return Number.isFinite(value) ? String(value) : null;
    case 'bigint':
      return String(value);
    default:
      return null;
  }
}
