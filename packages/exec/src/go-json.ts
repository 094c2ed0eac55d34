// JSON as Go's encoding/json writes it, where the bytes are visible to users or resource scripts: map keys
// sorted, and `<`, `>`, `&`, U+2028 and U+2029 escaped (json.Marshal's HTML-safe default).

/** `json.Marshal(value)` of a JSON-compatible value (undefined object members are left out). */
export function goJsonMarshal(value: unknown): string {
  return JSON.stringify(sortKeys(value)).replace(/[<>&\u2028\u2029]/g, escapeChar);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort(compareBytes)) {
    sorted[key] = sortKeys((value as Record<string, unknown>)[key]);
  }
  return sorted;
}

function escapeChar(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** Go sorts map keys by their UTF-8 bytes; for strings that is code point order, not UTF-16 order. */
export function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
