// Decoding JSON-shaped data into typed config the way Go's `encoding/json` does it for `atc.Config`, with
// its error texts (`json: unknown field "x"`, `json: cannot unmarshal string into Go struct field
// JobConfig.jobs.serial of type bool`). A null value leaves a field unset, as in Go.
import { isJsonObject, type JsonValue } from './yaml-source.js';

/** A decoding failure; the message is worded as Go's json package words it. */
export class GoJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GoJsonError';
  }
}

export type JsonObject = { [key: string]: JsonValue };

/**
 * Where a value is being decoded: Go reports the innermost struct's name and the JSON field path from the
 * root of the current `json.Unmarshal` call (array indexes are not part of it).
 */
export interface FieldContext {
  struct: string;
  path: readonly string[];
}

export function fieldContext(struct: string, path: readonly string[] = []): FieldContext {
  return { struct, path };
}

/** The context for the fields of a nested struct reached through `field`. */
export function nested(context: FieldContext, field: string, struct: string): FieldContext {
  return { struct, path: [...context.path, field] };
}

function jsonKind(value: JsonValue, goType: string): string {
  if (typeof value === 'string') return 'string';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number')
    return goType === 'int' && !Number.isInteger(value) ? `number ${value}` : 'number';
  if (Array.isArray(value)) return 'array';
  return 'object';
}

export function typeMismatch(
  value: JsonValue,
  context: FieldContext,
  field: string,
  goType: string,
): GoJsonError {
  const path = [...context.path, field].join('.');
  return new GoJsonError(
    `json: cannot unmarshal ${jsonKind(value, goType)} into Go struct field ${context.struct}.${path} of type ${goType}`,
  );
}

/** A mismatch inside a custom unmarshaler, which Go reports without the struct context. */
export function valueMismatch(value: JsonValue, goType: string): GoJsonError {
  return new GoJsonError(`json: cannot unmarshal ${jsonKind(value, goType)} into Go value of type ${goType}`);
}

/** Strict decoding (`DisallowUnknownFields`): the first key the struct does not have is an error. */
export function rejectUnknownFields(object: JsonObject, known: ReadonlySet<string>): void {
  for (const key of Object.keys(object)) {
    if (!known.has(key)) throw new GoJsonError(`json: unknown field ${JSON.stringify(key)}`);
  }
}

/** Reads the fields of one struct value, each with Go's type rules. */
export class StructReader {
  constructor(
    readonly object: JsonObject,
    readonly context: FieldContext,
  ) {}

  has(field: string): boolean {
    return Object.hasOwn(this.object, field) && this.object[field] !== null;
  }

  raw(field: string): JsonValue | undefined {
    const value = this.object[field];
    return Object.hasOwn(this.object, field) && value !== null ? value : undefined;
  }

  string(field: string): string | undefined {
    const value = this.raw(field);
    if (value === undefined) return undefined;
    if (typeof value !== 'string') throw typeMismatch(value, this.context, field, 'string');
    return value;
  }

  boolean(field: string): boolean | undefined {
    const value = this.raw(field);
    if (value === undefined) return undefined;
    if (typeof value !== 'boolean') throw typeMismatch(value, this.context, field, 'bool');
    return value;
  }

  integer(field: string): number | undefined {
    const value = this.raw(field);
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value))
      throw typeMismatch(value, this.context, field, 'int');
    return value;
  }

  strings(field: string, goType = '[]string'): string[] | undefined {
    const value = this.raw(field);
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) throw typeMismatch(value, this.context, field, goType);
    return value.map((item) => {
      if (item === null) return '';
      if (typeof item !== 'string') throw typeMismatch(item, this.context, field, 'string');
      return item;
    });
  }

  /** `atc.Tags`: a list of strings with empty entries dropped (its own unmarshaler, hence no struct context). */
  tags(field: string): string[] | undefined {
    const value = this.raw(field);
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) throw valueMismatch(value, '[]string');
    return value
      .map((item) => {
        if (item === null) return '';
        if (typeof item !== 'string') throw valueMismatch(item, 'string');
        return item;
      })
      .filter((tag) => tag !== '');
  }

  /** A free-form map (`atc.Source`, `atc.Params`). */
  map(field: string, goType: string): JsonObject | undefined {
    const value = this.raw(field);
    if (value === undefined) return undefined;
    if (!isJsonObject(value)) throw typeMismatch(value, this.context, field, goType);
    return value;
  }

  /** A map of strings (`atc.Version`, `map[string]string`). */
  stringMap(field: string, goType: string): Record<string, string> | undefined {
    const value = this.map(field, goType);
    if (value === undefined) return undefined;
    const result: Record<string, string> = {};
    for (const [key, item] of Object.entries(value)) {
      if (item !== null && typeof item !== 'string') throw typeMismatch(item, this.context, field, 'string');
      result[key] = item ?? '';
    }
    return result;
  }

  array(field: string, goType: string): JsonValue[] | undefined {
    const value = this.raw(field);
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) throw typeMismatch(value, this.context, field, goType);
    return value;
  }
}

/** Drops the `undefined` fields so a decoded value only carries what was written. */
export function compact<T extends object>(value: T): T {
  for (const key of Object.keys(value) as Array<keyof T>) {
    if (value[key] === undefined) delete value[key];
  }
  return value;
}
