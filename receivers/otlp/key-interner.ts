/**
 * Attribute keys repeat from span to span ("gen_ai.usage.input_tokens", "http.request.method", ...). Decoding
 * each occurrence into a fresh string costs a native call and an allocation, and every fresh string is hashed
 * again when the extractor looks it up in a Map. The interner hands back one shared string per distinct short
 * ASCII key instead: a JS hash of the bytes, one Map lookup by number, and a byte-by-byte check.
 *
 * Bounded: at most MAX_ENTRIES keys are remembered, the first ones seen (hostile payloads with random keys
 * cannot grow it), and keys that are long or not ASCII are never interned. A hash collision is not an error:
 * the key is simply decoded the ordinary way.
 */
const MAX_ENTRIES = 4096;
const MAX_KEY_BYTES = 64;

const byHash = new Map<number, string>();

/**
 * The interned string for the ASCII bytes buf[start, end), or undefined when the caller must decode them
 * itself (too long, not ASCII, a collision, or the table is full and the key is new).
 */
export function internedKey(buf: Uint8Array, start: number, end: number): string | undefined {
  const length = end - start;
  if (length > MAX_KEY_BYTES || length === 0) return undefined;
  // FNV-1a over the bytes, with the length mixed in.
  let hash = 0x811c9dc5 ^ length;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b >= 0x80) return undefined;
    hash = Math.imul(hash ^ b, 0x01000193);
  }
  const known = byHash.get(hash);
  if (known !== undefined) {
    if (known.length !== length) return undefined;
    for (let i = 0; i < length; i++) if (known.charCodeAt(i) !== buf[start + i]) return undefined;
    return known;
  }
  if (byHash.size >= MAX_ENTRIES) return undefined;
  // One flat string (not a chain of concatenations), so later lookups and comparisons are direct.
  const key = String.fromCharCode(...buf.subarray(start, end));
  byHash.set(hash, key);
  return key;
}
