// Decoding a task config from JSON-shaped data (an inline `config:` of a plan, or a parsed task.yml),
// with the coercions of Concourse's `atc.TaskConfig` decoder (atc/task.go, atc/container_limits.go).
import {
  DecodeError,
  compact,
  describe,
  expectObject,
  optionalArray,
  optionalBoolean,
  optionalObject,
  optionalString,
  optionalStringArray,
  optionalStringMap,
  stringField,
  type JsonObject,
} from './decode.js';
import { GoDurationError, parseGoDurationNanoseconds } from './go-duration.js';
import type {
  ContainerLimits,
  TaskCacheConfig,
  TaskConfig,
  TaskImageResource,
  TaskInputConfig,
  TaskOutputConfig,
} from './task-config.js';

/** A task config that cannot be decoded (wrong types, unknown fields in a task file, bad cache TTL). */
export class TaskConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TaskConfigError';
  }
}

const TASK_CONFIG_FIELDS = new Set([
  'platform',
  'rootfs_uri',
  'image_resource',
  'container_limits',
  'params',
  'run',
  'inputs',
  'outputs',
  'caches',
]);

export interface ParseTaskConfigOptions {
  /**
   * Reject keys a task config does not have, as Concourse does for task files (`unknown fields: [ouputs]`).
   * Inline configs inside a plan are decoded leniently, like Go's plan decoder.
   */
  rejectUnknownFields?: boolean;
}

/**
 * Decode a task config. Does not validate it (see {@link validateTaskConfig}).
 *
 * @throws TaskConfigError
 */
export function parseTaskConfig(raw: unknown, options: ParseTaskConfigOptions = {}): TaskConfig {
  try {
    return decodeTaskConfig(raw, 'config', options);
  } catch (error) {
    if (error instanceof DecodeError || error instanceof GoDurationError)
      throw new TaskConfigError(error.message);
    throw error;
  }
}

/** @internal decoder shared with the plan decoder; throws DecodeError / TaskConfigError. */
export function decodeTaskConfig(
  raw: unknown,
  path: string,
  options: ParseTaskConfigOptions = {},
): TaskConfig {
  const obj = expectObject(raw, path);
  if (options.rejectUnknownFields) {
    const unknown = Object.keys(obj).filter((key) => !TASK_CONFIG_FIELDS.has(key));
    // Go prints the slice with %v: `[a b]`.
    if (unknown.length > 0) throw new TaskConfigError(`unknown fields: [${unknown.join(' ')}]`);
  }
  const runObject = optionalObject(obj, 'run', path) ?? {};
  const config: TaskConfig = {
    platform: optionalString(obj, 'platform', path),
    rootfs_uri: optionalString(obj, 'rootfs_uri', path),
    image_resource: decodeImageResource(obj, `${path}`),
    container_limits: decodeContainerLimits(obj, path),
    params: decodeTaskEnv(obj, 'params', path),
    run: compact({
      path: stringField(runObject, 'path', `${path}.run`),
      args: optionalStringArray(runObject, 'args', `${path}.run`),
      dir: optionalString(runObject, 'dir', `${path}.run`),
      user: optionalString(runObject, 'user', `${path}.run`),
    }),
    inputs: optionalArray(obj, 'inputs', path)?.map((input, i) => decodeInput(input, `${path}.inputs[${i}]`)),
    outputs: optionalArray(obj, 'outputs', path)?.map((output, i) =>
      decodeOutput(output, `${path}.outputs[${i}]`),
    ),
    caches: optionalArray(obj, 'caches', path)?.map((cache, i) => decodeCache(cache, `${path}.caches[${i}]`)),
  };
  return compact(config);
}

function decodeImageResource(obj: JsonObject, path: string): TaskImageResource | undefined {
  const image = optionalObject(obj, 'image_resource', path);
  if (image === undefined) return undefined;
  const at = `${path}.image_resource`;
  return compact({
    name: stringField(image, 'name', at),
    type: stringField(image, 'type', at),
    source: optionalObject(image, 'source', at) ?? {},
    version: optionalStringMap(image, 'version', at),
    params: optionalObject(image, 'params', at),
    tags: optionalStringArray(image, 'tags', at)?.filter((tag) => tag !== ''),
  });
}

function decodeInput(raw: unknown, path: string): TaskInputConfig {
  const obj = expectObject(raw, path);
  return compact({
    name: stringField(obj, 'name', path),
    path: optionalString(obj, 'path', path),
    optional: optionalBoolean(obj, 'optional', path),
  });
}

function decodeOutput(raw: unknown, path: string): TaskOutputConfig {
  const obj = expectObject(raw, path);
  return compact({ name: stringField(obj, 'name', path), path: optionalString(obj, 'path', path) });
}

function decodeCache(raw: unknown, path: string): TaskCacheConfig {
  const obj = expectObject(raw, path);
  const ttl = optionalString(obj, 'ttl', path);
  if (ttl !== undefined && ttl !== '') {
    let nanoseconds: number;
    try {
      nanoseconds = parseGoDurationNanoseconds(ttl);
    } catch (error) {
      throw new TaskConfigError(`invalid cache ttl '${ttl}': ${(error as Error).message}`);
    }
    if (nanoseconds < 1e9) throw new TaskConfigError(`cache ttl must be at least 1s, got '${ttl}'`);
  }
  return compact({ path: stringField(obj, 'path', path), ttl });
}

/** `container_limits`: cpu shares as a number, memory as bytes or a string like "1GB" (binary units). */
export function decodeContainerLimits(obj: JsonObject, path: string): ContainerLimits | undefined {
  const limits = optionalObject(obj, 'container_limits', path);
  if (limits === undefined) return undefined;
  const at = `${path}.container_limits`;
  const result: ContainerLimits = {};
  const cpu = limits['cpu'];
  if (cpu !== undefined && cpu !== null) {
    if (typeof cpu !== 'number') throw new DecodeError(`${at}.cpu`, 'cpu limit must be an integer');
    result.cpu = Math.trunc(cpu);
  }
  const memory = limits['memory'];
  if (typeof memory === 'number') result.memory = Math.trunc(memory);
  else if (typeof memory === 'string') result.memory = parseMemoryLimit(memory, `${at}.memory`);
  return result;
}

const MEMORY_LIMIT = /^([0-9]+)(([KMG])(i)?B?)?$/i;

function parseMemoryLimit(text: string, path: string): number {
  const match = MEMORY_LIMIT.exec(text);
  if (match === null) throw new DecodeError(path, 'could not parse container memory limit');
  const value = Number(match[1]);
  const unit = match[3]?.toUpperCase();
  const multiplier = unit === 'K' ? 1024 : unit === 'M' ? 1024 ** 2 : unit === 'G' ? 1024 ** 3 : 1;
  return value * multiplier;
}

/** A `TaskEnv`: every value coerced to a string (null → "", numbers and booleans as text, others as JSON). */
export function decodeTaskEnv(
  obj: JsonObject,
  key: string,
  path: string,
): Record<string, string> | undefined {
  const env = optionalObject(obj, key, path);
  if (env === undefined) return undefined;
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) result[name] = coerceToString(value);
  return result;
}

function coerceToString(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return goJson(value);
}

/** JSON as Go's encoder writes a decoded value: object keys sorted. */
function goJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(goJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${goJson((value as JsonObject)[key])}`);
    return `{${entries.join(',')}}`;
  }
  if (value === undefined) throw new DecodeError('params', `cannot encode ${describe(value)}`);
  return JSON.stringify(value);
}
