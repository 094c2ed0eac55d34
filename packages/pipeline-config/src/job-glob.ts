// Group job globs use gobwas/glob (`glob.Compile(pattern)`, no separators): `*` and `**` match anything,
// `?` one character, `[abc]`, `[a-z]`, `[!a-z]` classes, `{a,b}` alternatives, `\` escapes.

/** A compiled job glob; `undefined` when the pattern does not compile (Concourse: "invalid glob expression"). */
export type JobGlob = (name: string) => boolean;

export function compileJobGlob(pattern: string): JobGlob | undefined {
  const source = translate([...pattern]);
  if (source === undefined) return undefined;
  const regex = new RegExp(`^${source}$`, 'u');
  return (name) => regex.test(name);
}

function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/gu, '\\$&');
}

/** Inside a character class `-` is special too. */
function escapeClassChar(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/gu, '\\$&');
}

/** Translates the pattern into a regular expression source, or `undefined` for a pattern gobwas rejects. */
function translate(chars: string[]): string | undefined {
  let i = 0;
  let depth = 0; // nesting of `{...}`: inside one, `,` and `}` are syntax
  const groups: string[][] = []; // alternatives of each open `{`
  let current = '';

  while (i < chars.length) {
    const c = chars[i] as string;
    if (c === '{') {
      groups.push([]);
      groups[groups.length - 1]?.push(current);
      current = '';
      depth++;
      i++;
    } else if (c === ',' && depth > 0) {
      groups[groups.length - 1]?.push(current);
      current = '';
      i++;
    } else if (c === '}' && depth > 0) {
      const alternatives = groups.pop() as string[];
      const prefix = alternatives.shift() as string;
      alternatives.push(current);
      current = `${prefix}(?:${alternatives.join('|')})`;
      depth--;
      i++;
    } else if (c === '[') {
      const parsed = translateClass(chars, i + 1);
      if (parsed === undefined) return undefined;
      current += parsed.source;
      i = parsed.next;
    } else if (c === '?') {
      current += '[\\s\\S]';
      i++;
    } else if (c === '*') {
      current += '[\\s\\S]*';
      i += chars[i + 1] === '*' ? 2 : 1;
    } else {
      // literal text, with escapes resolved
      if (c === '\\') {
        const next = chars[i + 1];
        if (next === undefined) return undefined; // trailing backslash
        current += escapeRegex(next);
        i += 2;
      } else {
        current += escapeRegex(c);
        i++;
      }
    }
  }
  // gobwas accepts an unclosed `{`: what was read so far becomes the alternatives.
  while (groups.length > 0) {
    const alternatives = groups.pop() as string[];
    const prefix = alternatives.shift() as string;
    alternatives.push(current);
    current = `${prefix}(?:${alternatives.join('|')})`;
  }
  return current;
}

/** A `[...]` class starting after the `[`: either a set of characters or one `lo-hi` range. */
function translateClass(chars: string[], start: number): { source: string; next: number } | undefined {
  let i = start;
  let negated = false;
  if (chars[i] === '!') {
    negated = true;
    i++;
  }
  const first = chars[i];
  if (first === undefined) return undefined;
  let body: string;
  if (chars[i + 1] === '-') {
    const hi = chars[i + 2];
    if (hi === undefined) return undefined;
    if ((hi.codePointAt(0) ?? 0) < (first.codePointAt(0) ?? 0)) return undefined;
    body = `${escapeClassChar(first)}-${escapeClassChar(hi)}`;
    i += 3;
  } else {
    let set = '';
    while (i < chars.length && chars[i] !== ']') {
      let c = chars[i] as string;
      if (c === '\\') {
        const next = chars[i + 1];
        if (next === undefined) return undefined;
        c = next;
        i++;
      }
      set += escapeClassChar(c);
      i++;
    }
    if (set === '') return undefined; // "could not parse range"
    body = set;
  }
  if (chars[i] !== ']') return undefined;
  return { source: `[${negated ? '^' : ''}${body}]`, next: i + 1 };
}
