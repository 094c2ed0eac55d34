// Go's `path.Match`, used for `passed:` job globs `[v8.1+]` and for cycle detection: `*` matches any run of
// non-`/` characters, `?` one non-`/` character, `[^a-z]` classes, `\` escapes. A malformed pattern
// matches nothing (Concourse ignores the error).

export function goPathMatch(pattern: string, name: string): boolean {
  const source = translate([...pattern]);
  return source !== undefined && new RegExp(`^${source}$`, 'u').test(name);
}

function escapeRegex(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/]/gu, '\\$&');
}

/** Inside a character class `-` is special too. */
function escapeClassChar(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/gu, '\\$&');
}

function translate(chars: string[]): string | undefined {
  let source = '';
  let i = 0;
  while (i < chars.length) {
    const c = chars[i] as string;
    if (c === '*') {
      source += '[^/]*';
      i++;
    } else if (c === '?') {
      source += '[^/]';
      i++;
    } else if (c === '[') {
      const parsed = translateClass(chars, i + 1);
      if (parsed === undefined) return undefined;
      source += parsed.source;
      i = parsed.next;
    } else if (c === '\\') {
      const next = chars[i + 1];
      if (next === undefined) return undefined;
      source += escapeRegex(next);
      i += 2;
    } else {
      source += escapeRegex(c);
      i++;
    }
  }
  return source;
}

/** One escaped-or-plain class character; `-` and `]` are not allowed unescaped here. */
function classChar(chars: string[], i: number): { char: string; next: number } | undefined {
  const c = chars[i];
  if (c === undefined || c === '-' || c === ']') return undefined;
  if (c === '\\') {
    const next = chars[i + 1];
    if (next === undefined) return undefined;
    return { char: next, next: i + 2 };
  }
  return { char: c, next: i + 1 };
}

function translateClass(chars: string[], start: number): { source: string; next: number } | undefined {
  let i = start;
  let negated = false;
  if (chars[i] === '^') {
    negated = true;
    i++;
  }
  const ranges: string[] = [];
  for (;;) {
    if (chars[i] === ']' && ranges.length > 0) break;
    const lo = classChar(chars, i);
    if (lo === undefined) return undefined;
    i = lo.next;
    let hi = lo.char;
    if (chars[i] === '-') {
      const parsed = classChar(chars, i + 1);
      if (parsed === undefined) return undefined;
      hi = parsed.char;
      i = parsed.next;
    }
    const loCode = lo.char.codePointAt(0) ?? 0;
    const hiCode = hi.codePointAt(0) ?? 0;
    // Go accepts lo > hi (the range then matches nothing); a regex would not.
    ranges.push(loCode <= hiCode ? `${escapeClassChar(lo.char)}-${escapeClassChar(hi)}` : '');
  }
  const body = ranges.join('');
  const source = body === '' ? (negated ? '[\\s\\S]' : '(?!)') : `[${negated ? '^' : ''}${body}]`;
  return { source, next: i + 1 };
}
