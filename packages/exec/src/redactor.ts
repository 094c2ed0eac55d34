// Secret redaction for build output (concourse-semantics.md §7.4, atc/engine/build_step_delegate.go): every
// line of every secret value, trimmed, that is longer than one character is replaced with `((redacted))`.

export const REDACTED = '((redacted))';

export class Redactor {
  /** Longest first, so a secret containing another is replaced whole. */
  private patterns: string[] = [];

  constructor(secrets: readonly string[]) {
    this.add(...secrets);
  }

  /**
   * Track more secrets from now on: credentials resolved while the build runs and `load_var` values
   * (Concourse's vars tracker, vars/tracker.go).
   */
  add(...secrets: readonly string[]): void {
    const lines = new Set<string>(this.patterns);
    for (const secret of secrets) {
      for (const line of secret.split('\n')) {
        const trimmed = line.trim();
        if (trimmed.length > 1) lines.add(trimmed);
      }
    }
    if (lines.size !== this.patterns.length) this.patterns = [...lines].sort((a, b) => b.length - a.length);
  }

  get hasSecrets(): boolean {
    return this.patterns.length > 0;
  }

  redact(text: string): string {
    let result = text;
    for (const pattern of this.patterns) {
      if (result.includes(pattern)) result = result.split(pattern).join(REDACTED);
    }
    return result;
  }

  /**
   * Where text that has no line break yet can be cut so that the part before the cut is safe to show on
   * its own: before any suffix that could still grow into a secret, and never inside a whole secret.
   */
  safeCut(text: string): number {
    let cut = text.length;
    for (const pattern of this.patterns) {
      const longest = Math.min(pattern.length - 1, text.length);
      for (let length = longest; length > 0; length--) {
        if (pattern.startsWith(text.slice(text.length - length))) {
          cut = Math.min(cut, text.length - length);
          break;
        }
      }
    }
    // Moving the cut left can land it inside an earlier secret; move it before that one, until stable.
    for (let moved = true; moved;) {
      moved = false;
      for (const pattern of this.patterns) {
        for (let at = text.indexOf(pattern); at !== -1 && at < cut; at = text.indexOf(pattern, at + 1)) {
          if (at + pattern.length > cut) {
            cut = at;
            moved = true;
          }
        }
      }
    }
    return cut;
  }
}
