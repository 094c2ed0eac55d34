// `((source:path.field))` references in config values (the regex of Concourse's vars package), used to
// order var sources by dependency.

const VAR_REFERENCE = /\(\((([-/.\w\p{L}]+:)?[-/.:@"\w\p{L}]+)\)\)/gu;

/** The inner text of every `((...))` reference in strings and map keys, in document order. */
export function varReferences(value: unknown): string[] {
  const found: string[] = [];
  const walk = (item: unknown): void => {
    if (typeof item === 'string') {
      for (const match of item.matchAll(VAR_REFERENCE)) found.push(match[1] as string);
    } else if (Array.isArray(item)) {
      item.forEach(walk);
    } else if (typeof item === 'object' && item !== null) {
      for (const [key, child] of Object.entries(item)) {
        walk(key);
        walk(child);
      }
    }
  };
  walk(value);
  return found;
}
