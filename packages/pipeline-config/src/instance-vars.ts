// Instance vars (atc/pipeline.go, vars/): a pipeline's identity besides its name. These helpers give the
// `name/branch:main,version.major:1` display form fly and the UI use, and convert to and from the
// `vars.<path>=<json>` query parameters of the API.
import { yamlReadsAsString } from './yaml-source.js';

export type InstanceVars = Record<string, unknown>;

/** A var reference `source:path.field."quoted.field"` (vars.Reference). */
export interface VarReference {
  source?: string;
  path: string;
  fields: string[];
}

interface FlatInstanceVar {
  ref: VarReference;
  value: unknown;
}

/** `branch:main,version.major:1`: flattened, sorted by reference, strings unquoted when unambiguous. */
export function instanceVarsToString(instanceVars: InstanceVars): string {
  return sortedFlatVars(instanceVars)
    .map(({ ref, value }) => {
      let text = goJsonMarshal(value);
      if (!valueRequiresQuoting(value)) text = text.replace(/^"/, '').replace(/"$/, '');
      return `${varReferenceToString(ref)}:${text}`;
    })
    .join(',');
}

/** `PipelineRef.String()`: the name, then `/<instance vars>` for an instanced pipeline. */
export function pipelineRefToString(name: string, instanceVars?: InstanceVars | null): string {
  return instanceVars === undefined || instanceVars === null
    ? name
    : `${name}/${instanceVarsToString(instanceVars)}`;
}

/** `vars.<reference>=<json>` pairs, sorted, as fly puts them in URLs. */
export function instanceVarsToQueryParams(instanceVars: InstanceVars): Array<[string, string]> {
  return sortedFlatVars(instanceVars).map(({ ref, value }) => [
    `vars.${varReferenceToString(ref)}`,
    goJsonMarshal(value),
  ]);
}

/** A malformed `vars` query parameter (the API answers 400 `instance vars are malformed: ...`). */
export class InstanceVarsQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InstanceVarsQueryError';
  }
}

/**
 * Instance vars from `?vars={"branch":"main"}` and/or `?vars.branch="main"` (the first value of each key);
 * `undefined` when there are none.
 *
 * @throws InstanceVarsQueryError
 */
export function instanceVarsFromQueryParams(query: URLSearchParams): InstanceVars | undefined {
  const pairs: FlatInstanceVar[] = [];
  const seen = new Set<string>();
  for (const key of query.keys()) {
    if (seen.has(key) || (key !== 'vars' && !key.startsWith('vars.'))) continue;
    seen.add(key);
    const ref = parseVarReference(key);
    let value: unknown;
    try {
      value = JSON.parse(query.get(key) ?? '');
    } catch (error) {
      throw new InstanceVarsQueryError((error as Error).message);
    }
    pairs.push({ ref, value });
  }
  if (pairs.length === 0) return undefined;
  // Sorted so that `vars={...}` is applied before `vars.x=...` patches.
  pairs.sort((a, b) => compareStrings(varReferenceToString(a.ref), varReferenceToString(b.ref)));
  const expanded: Record<string, unknown> = {};
  for (const { ref, value } of pairs) upsert(expanded, ref.path, ref.fields, value);
  const vars = expanded['vars'];
  return isPlainObject(vars) ? vars : undefined;
}

/** `vars.ParseReference`: `source:` prefix, `.`-separated fields, double quotes protect `.` and `:`. */
export function parseVarReference(name: string): VarReference {
  let input = name;
  let source: string | undefined;
  const colon = findUnquoted(input, ':');
  if (colon !== -1) {
    source = input.slice(0, colon);
    if (source.includes('"'))
      throw new InstanceVarsQueryError(`invalid var '${name}': source must not be quoted`);
    input = input.slice(colon + 1);
  }
  const segments: string[] = [];
  for (;;) {
    const dot = findUnquoted(input, '.');
    const raw = dot === -1 ? input : input.slice(0, dot);
    const field = raw.trim().replaceAll('"', '');
    if (field === '') throw new InstanceVarsQueryError(`invalid var '${name}': empty field`);
    segments.push(field);
    if (dot === -1) break;
    input = input.slice(dot + 1);
  }
  const [path, ...fields] = segments as [string, ...string[]];
  return source === undefined ? { path, fields } : { source, path, fields };
}

export function varReferenceToString(ref: VarReference): string {
  const prefix = ref.source !== undefined && ref.source !== '' ? `${ref.source}:` : '';
  return prefix + [ref.path, ...ref.fields].map(segmentToString).join('.');
}

function segmentToString(segment: string): string {
  return /[,.:/ ]/.test(segment) ? JSON.stringify(segment) : segment;
}

function findUnquoted(text: string, char: string): number {
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === char && !quoted) return i;
    if (text[i] === '"') quoted = !quoted;
  }
  return -1;
}

function sortedFlatVars(instanceVars: InstanceVars): FlatInstanceVar[] {
  const flat: FlatInstanceVar[] = [];
  const walk = (path: string, fields: string[], value: unknown): void => {
    if (isPlainObject(value)) {
      for (const [key, child] of Object.entries(value)) walk(path, [...fields, key], child);
    } else {
      flat.push({ ref: { path, fields }, value });
    }
  };
  for (const [key, value] of Object.entries(instanceVars)) walk(key, [], value);
  return flat.sort((a, b) => compareStrings(varReferenceToString(a.ref), varReferenceToString(b.ref)));
}

function valueRequiresQuoting(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  if (!yamlReadsAsString(value)) return true;
  return /[,: /]/.test(value);
}

function upsert(out: Record<string, unknown>, path: string, fields: string[], value: unknown): void {
  const node = out[path];
  if (!Object.hasOwn(out, path) || !isPlainObject(node)) {
    out[path] = constructValue(fields, value);
    return;
  }
  if (fields.length === 0) {
    out[path] = value;
    return;
  }
  upsert(node, fields[0] as string, fields.slice(1), value);
}

function constructValue(fields: string[], value: unknown): unknown {
  let result = value;
  for (let i = fields.length - 1; i >= 0; i--) result = { [fields[i] as string]: result };
  return result;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Byte-wise comparison, as Go compares strings. */
function compareStrings(a: string, b: string): number {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return Buffer.compare(left, right);
}

/** Go's `json.Marshal` of decoded JSON: keys sorted, `<`, `>`, `&` escaped. */
function goJsonMarshal(value: unknown): string {
  const sortKeys = (item: unknown): unknown => {
    if (Array.isArray(item)) return item.map(sortKeys);
    if (isPlainObject(item)) {
      return Object.fromEntries(
        Object.keys(item)
          .sort(compareStrings)
          .map((key) => [key, sortKeys(item[key])]),
      );
    }
    return item;
  };
  return (JSON.stringify(sortKeys(value)) ?? 'null')
    .replaceAll('<', '\\u003c')
    .replaceAll('>', '\\u003e')
    .replaceAll('&', '\\u0026')
    .replaceAll('\u2028', '\\u2028')
    .replaceAll('\u2029', '\\u2029');
}
