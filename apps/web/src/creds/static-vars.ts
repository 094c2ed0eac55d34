// Rendering a document with static vars (Concourse's vars.NewTemplateResolver(...).Resolve(false) over
// vars.StaticVariables), as the set_pipeline step renders a pipeline file with its `instance_vars`, `vars`
// and `var_files`: every string and map key is searched for `((name.field))`; the first var set that
// defines `name` wins; a string that is exactly one reference takes the value with its type; references
// nothing defines are left as they are, for runtime resolution.
import { parseVarReference } from '@jetbridge/exec';

const VAR_PATTERN = /\(\((([-/.\w\p{L}]+:)?[-/.:@"\w\p{L}]+)\)\)/gu;
const WHOLE_VAR = /^\(\((([-/.\w\p{L}]+:)?[-/.:@"\w\p{L}]+)\)\)$/u;

/** A map, list, bool or float var used inside a longer string. */
export class NonPrimitiveVarError extends Error {
  constructor(name: string) {
    super(`cannot interpolate non-primitive value from var: ${name}`);
    this.name = 'NonPrimitiveVarError';
  }
}

export function resolveStaticVars(
  value: unknown,
  varSets: ReadonlyArray<Readonly<Record<string, unknown>>>,
): unknown {
  const lookup = (name: string): { found: boolean; value?: unknown } => {
    const ref = parseVarReference(name);
    // Static vars answer only references without a source (vars.StaticVariables.Get).
    if (ref.source !== undefined && ref.source !== '') return { found: false };
    for (const vars of varSets) {
      if (!Object.hasOwn(vars, ref.path)) continue;
      let current: unknown = vars[ref.path];
      for (const field of ref.fields) {
        if (typeof current !== 'object' || current === null || !Object.hasOwn(current, field)) {
          throw new Error(`missing field '${field}' in var: ${name}`);
        }
        current = (current as Record<string, unknown>)[field];
      }
      return { found: true, value: current };
    }
    return { found: false };
  };

  const resolveString = (text: string): unknown => {
    const whole = WHOLE_VAR.exec(text);
    if (whole !== null) {
      const found = lookup(whole[1] ?? '');
      return found.found ? found.value : text;
    }
    return text.replace(VAR_PATTERN, (reference, name: string) => {
      const found = lookup(name);
      if (!found.found) return reference;
      if (typeof found.value === 'string') return found.value;
      if (typeof found.value === 'number' && Number.isInteger(found.value)) return String(found.value);
      throw new NonPrimitiveVarError(name);
    });
  };

  const walk = (node: unknown): unknown => {
    if (typeof node === 'string') return resolveString(node);
    if (Array.isArray(node)) return node.map(walk);
    if (typeof node === 'object' && node !== null) {
      const result: Record<string, unknown> = {};
      for (const [key, child] of Object.entries(node)) {
        const resolvedKey = resolveString(key);
        result[typeof resolvedKey === 'string' ? resolvedKey : JSON.stringify(resolvedKey)] = walk(child);
      }
      return result;
    }
    return node;
  };
  return walk(value);
}
