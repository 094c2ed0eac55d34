// Small typed readers for JSON values, used by the plan and task-config decoders. They follow Go's
// `encoding/json` leniency: a missing key or `null` gives the zero value, unknown keys are ignored, but a
// value of the wrong type is an error naming where it was found.

/** A value of the wrong shape, found at `path` (e.g. `plan.do[1].task.config.run.args`). */
export class DecodeError extends Error {
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(`${path}: ${problem}`);
    this.name = 'DecodeError';
  }
}

export type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

export function expectObject(value: unknown, path: string): JsonObject {
  if (!isObject(value)) throw new DecodeError(path, `expected an object, got ${describe(value)}`);
  return value;
}

/** An optional object field: undefined when missing or null. */
export function optionalObject(obj: JsonObject, key: string, path: string): JsonObject | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  return expectObject(value, `${path}.${key}`);
}

export function optionalString(obj: JsonObject, key: string, path: string): string | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string')
    throw new DecodeError(`${path}.${key}`, `expected a string, got ${describe(value)}`);
  return value;
}

/** A string field that Go would decode into a non-pointer string: missing means "". */
export function stringField(obj: JsonObject, key: string, path: string): string {
  return optionalString(obj, key, path) ?? '';
}

export function optionalBoolean(obj: JsonObject, key: string, path: string): boolean | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean')
    throw new DecodeError(`${path}.${key}`, `expected a boolean, got ${describe(value)}`);
  return value;
}

export function optionalInteger(obj: JsonObject, key: string, path: string): number | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new DecodeError(`${path}.${key}`, `expected an integer, got ${describe(value)}`);
  }
  return value;
}

export function optionalArray(obj: JsonObject, key: string, path: string): unknown[] | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value))
    throw new DecodeError(`${path}.${key}`, `expected an array, got ${describe(value)}`);
  return value;
}

export function optionalStringArray(obj: JsonObject, key: string, path: string): string[] | undefined {
  const values = optionalArray(obj, key, path);
  if (values === undefined) return undefined;
  return values.map((value, i) => {
    if (typeof value !== 'string') {
      throw new DecodeError(`${path}.${key}[${i}]`, `expected a string, got ${describe(value)}`);
    }
    return value;
  });
}

/** A `map[string]string` field (versions, input/output mappings). */
export function optionalStringMap(
  obj: JsonObject,
  key: string,
  path: string,
): Record<string, string> | undefined {
  const map = optionalObject(obj, key, path);
  if (map === undefined) return undefined;
  const result: Record<string, string> = {};
  for (const [k, value] of Object.entries(map)) {
    if (typeof value !== 'string') {
      throw new DecodeError(`${path}.${key}.${k}`, `expected a string, got ${describe(value)}`);
    }
    result[k] = value;
  }
  return result;
}

/** Drop keys whose value is undefined, so decoded objects serialise like Go's `omitempty` structs. */
export function compact<T extends object>(value: T): T {
  for (const key of Object.keys(value) as Array<keyof T>) {
    if (value[key] === undefined) delete value[key];
  }
  return value;
}
