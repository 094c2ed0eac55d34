// `((var))` interpolation of one string (creds.NewString(...).Evaluate), for values read outside builds such
// as a resource's `webhook_token` or a var source's config.
import { parseVarReference, type VarsResolver } from '@jetbridge/exec';

/** `((var))` references in a string (vars.Template's reference syntax). */
const VAR_PATTERN = /\(\((([-/.\w\p{L}]+:)?[-/.:@"\w\p{L}]+)\)\)/gu;

/** A var of a string template that resolved to nothing (vars.UndefinedVarsError). */
export class UndefinedVarError extends Error {
  constructor(names: readonly string[]) {
    super(`undefined vars: ${names.join(', ')}`);
    this.name = 'UndefinedVarError';
  }
}

/** Interpolate every `((var))` of `text`: each must resolve to a string or a number. */
export async function interpolateString(text: string, vars: VarsResolver): Promise<string> {
  const undefinedNames: string[] = [];
  const replacements = new Map<string, string>();
  for (const match of text.matchAll(VAR_PATTERN)) {
    const name = match[1] ?? '';
    if (replacements.has(name)) continue;
    const ref = parseVarReference(name);
    const found = await vars.lookup(
      ref.source === undefined ? { path: ref.path } : { source: ref.source, path: ref.path },
    );
    if (found === undefined) {
      undefinedNames.push(name);
      continue;
    }
    let value: unknown = found.value;
    for (const field of ref.fields) {
      if (typeof value !== 'object' || value === null || !Object.hasOwn(value, field)) {
        throw new Error(`missing field '${field}' in var: ${name}`);
      }
      value = (value as Record<string, unknown>)[field];
    }
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw new Error(`cannot interpolate non-primitive value into string: ${name}`);
    }
    replacements.set(name, String(value));
  }
  if (undefinedNames.length > 0) throw new UndefinedVarError(undefinedNames);
  return text.replace(VAR_PATTERN, (whole, name: string) => replacements.get(name) ?? whole);
}
