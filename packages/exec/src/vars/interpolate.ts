// Structural `((var))` interpolation of a JSON value (Concourse's vars.Template, vars/template.go): every
// string and map key is searched for references; a string that is exactly one reference takes the var's
// value with its type, a reference inside a longer string must be a string or a number.
import { goTypeName, parseVarReference, varReferenceToString, type VarReference } from './var-reference.js';

/** Finds one reference's value; rejects for lookup errors (a missing field, a credential manager failure). */
export type VarLookup = (ref: VarReference) => Promise<{ found: true; value: unknown } | { found: false }>;

/** Vars that nothing defines, when every var must resolve. */
export class UndefinedVarsError extends Error {
  constructor(readonly vars: readonly string[]) {
    super(`undefined vars: ${vars.join(', ')}`);
    this.name = 'UndefinedVarsError';
  }
}

/** A map, list, bool or float var used inside a longer string. */
export class InvalidInterpolationError extends Error {
  constructor(name: string, value: unknown) {
    super(`cannot interpolate non-primitive value (${goTypeName(value)}) from var: ${name}`);
    this.name = 'InvalidInterpolationError';
  }
}

const VAR_PATTERN = '\\(\\((([-/.\\w\\p{L}]+:)?[-/.:@"\\w\\p{L}]+)\\)\\)';
const VAR_REFERENCE = new RegExp(VAR_PATTERN, 'gu');
const WHOLE_VAR_REFERENCE = new RegExp(`^${VAR_PATTERN}$`, 'u');

export interface InterpolateOptions {
  /** Every reference must resolve (runtime interpolation); otherwise unresolved ones stay as they are. */
  expectAllKeys: boolean;
}

/**
 * Interpolate `value` (not modified) with `lookup`. Rejects with UndefinedVarsError listing every missing
 * var (sorted) when `expectAllKeys`, or with the first lookup error.
 */
export async function interpolate<T>(value: T, lookup: VarLookup, options: InterpolateOptions): Promise<T> {
  const missing = new Set<string>();
  const get = async (name: string): Promise<{ found: true; value: unknown } | { found: false }> => {
    const ref = parseVarReference(name);
    const result = await lookup(ref);
    if (!result.found) missing.add(varReferenceToString(ref));
    return result;
  };

  const walk = async (node: unknown): Promise<unknown> => {
    if (Array.isArray(node)) {
      const items: unknown[] = [];
      for (const item of node) items.push(await walk(item));
      return items;
    }
    if (typeof node === 'object' && node !== null) {
      const result: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(node)) {
        const evaluated = await walk(child);
        const evaluatedKey = await walk(key);
        result[typeof evaluatedKey === 'string' ? evaluatedKey : String(evaluatedKey)] = evaluated;
      }
      return result;
    }
    if (typeof node !== 'string') return node;

    let text = node;
    for (const name of varNames(node)) {
      const result = await get(name);
      if (!result.found) continue;
      // A whole-value reference keeps the var's type.
      if (WHOLE_VAR_REFERENCE.test(text)) return result.value;
      if (typeof result.value !== 'string' && !(typeof result.value === 'number' && isFinite(result.value))) {
        throw new InvalidInterpolationError(name, result.value);
      }
      text = text.replaceAll(`((${name}))`, String(result.value));
    }
    return text;
  };

  const interpolated = (await walk(value)) as T;
  if (options.expectAllKeys && missing.size > 0) {
    throw new UndefinedVarsError([...missing].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  }
  return interpolated;
}

/** The inner text of each `((...))` in a string, in order (repeats included). */
export function varNames(text: string): string[] {
  return [...text.matchAll(VAR_REFERENCE)].map((match) => match[1] as string);
}
