// `((source:path.field))` references as Concourse's vars package reads them (vars/variables.go): an optional
// `source:` prefix, then `.`-separated segments where double quotes protect `.` and `:`.

export interface VarReference {
  /** `.` for build-local vars; absent for the cluster credential manager. */
  source?: string;
  path: string;
  fields: string[];
}

/** A reference that cannot be parsed (an empty segment, a quoted source). */
export class InvalidVarReferenceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidVarReferenceError';
  }
}

/** `vars.ParseReference`. */
export function parseVarReference(name: string): VarReference {
  let input = name;
  let source: string | undefined;
  const colon = findUnquoted(input, ':');
  if (colon !== -1) {
    source = input.slice(0, colon);
    if (source.includes('"'))
      throw new InvalidVarReferenceError(`invalid var '${name}': source must not be quoted`);
    input = input.slice(colon + 1);
  }
  const segments: string[] = [];
  for (;;) {
    const dot = findUnquoted(input, '.');
    const field = (dot === -1 ? input : input.slice(0, dot)).trim().replaceAll('"', '');
    if (field === '') throw new InvalidVarReferenceError(`invalid var '${name}': empty field`);
    segments.push(field);
    if (dot === -1) break;
    input = input.slice(dot + 1);
  }
  const [path, ...fields] = segments as [string, ...string[]];
  return source === undefined ? { path, fields } : { source, path, fields };
}

/** `Reference.String()`: segments holding `,.:/ ` or a space are quoted. */
export function varReferenceToString(ref: VarReference): string {
  const prefix = ref.source !== undefined && ref.source !== '' ? `${ref.source}:` : '';
  return prefix + [ref.path, ...ref.fields].map((s) => (/[,.:/ ]/.test(s) ? JSON.stringify(s) : s)).join('.');
}

function findUnquoted(text: string, char: string): number {
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === char && !quoted) return i;
    if (text[i] === '"') quoted = !quoted;
  }
  return -1;
}

/** `((a.b))` asked for field `b` of a var that has none. */
export class MissingFieldError extends Error {
  constructor(name: string, field: string) {
    super(`missing field '${field}' in var: ${name}`);
    this.name = 'MissingFieldError';
  }
}

/** `((a.b))` asked for a field of a var that is not a map. */
export class InvalidFieldError extends Error {
  constructor(name: string, field: string, value: unknown) {
    super(`cannot access field '${field}' of non-map value ('${goTypeName(value)}') from var: ${name}`);
    this.name = 'InvalidFieldError';
  }
}

/** `vars.Traverse`: follow `fields` into nested maps; `name` is the reference as the user wrote it. */
export function traverseVar(value: unknown, name: string, fields: readonly string[]): unknown {
  let current = value;
  for (const field of fields) {
    if (!isPlainObject(current)) throw new InvalidFieldError(name, field, current);
    if (!Object.hasOwn(current, field)) throw new MissingFieldError(name, field);
    current = current[field];
  }
  return current;
}

/** The Go type (`%T`) a decoded JSON/YAML value has in Concourse, for error messages. */
export function goTypeName(value: unknown): string {
  if (value === null || value === undefined) return '<nil>';
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float64';
  if (Array.isArray(value)) return '[]interface {}';
  return 'map[string]interface {}';
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
