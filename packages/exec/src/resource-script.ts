// The resource type protocol (Concourse's resource.Resource, atc/resource/resource.go): how `check`, `in` and
// `out` are invoked, the request as JSON on stdin (`params` and `version` left out when empty), and what their
// stdout must hold (only its first JSON value counts). Shared by the get, put and check steps.
import path from 'node:path';
import type { Source, Version } from '@jetbridge/plan';
import type { MetadataField } from './build-recorder.js';
import { goJsonMarshal } from './go-json.js';
import type { ResourceTypeExecutables } from './resource-type-resolver.js';

export type ResourceScriptName = 'check' | 'in' | 'out';

/** Where resource containers work: `/tmp/build/get`, `/tmp/build/put`, `/tmp/build/check`. */
export function resourcesDir(kind: 'get' | 'put' | 'check'): string {
  return `/tmp/build/${kind}`;
}

/** A resource script printed something that is not what the protocol asks for. */
export class ResourceOutputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResourceOutputError';
  }
}

/** The process to start: `/opt/resource/<script> /tmp/build/<kind>` in an image, `<dir>/<script> .` on the host. */
export function scriptInvocation(
  executables: ResourceTypeExecutables,
  script: ResourceScriptName,
  kind: 'get' | 'put' | 'check',
): { path: string; args: string[] } {
  const args = script === 'check' ? [] : [executables.kind === 'image' ? resourcesDir(kind) : '.'];
  const scriptPath =
    executables.kind === 'image' ? `/opt/resource/${script}` : path.join(executables.dir, script);
  return { path: scriptPath, args };
}

/** The stdin of a resource script: `{"source", "params"?, "version"?}`, as Go's omitempty writes it. */
export function resourceRequest(source: Source, params?: Record<string, unknown>, version?: Version): string {
  // A Go struct marshals its fields in declaration order (source, params, version); only maps are sorted.
  const fields = [`"source":${goJsonMarshal(source ?? null)}`];
  if (params !== undefined && params !== null && Object.keys(params).length > 0)
    fields.push(`"params":${goJsonMarshal(params)}`);
  if (version !== undefined && version !== null && Object.keys(version).length > 0)
    fields.push(`"version":${goJsonMarshal(version)}`);
  return `{${fields.join(',')}}`;
}

/** `check`'s stdout: a list of versions, oldest first (nothing at all is an empty list). */
export function decodeCheckOutput(stdout: string): Version[] {
  const decoded = firstJsonValue(stdout);
  if (decoded === undefined || decoded.value === null) return [];
  if (!Array.isArray(decoded.value)) throw unmarshalError(decoded.value, '[]atc.Version');
  return decoded.value.map(decodeVersion);
}

/**
 * `in`'s or `out`'s stdout: `{"version": {...}, "metadata": [{"name", "value"}]}`; a missing or null
 * version is an error naming the script.
 */
export function decodeVersionResult(
  stdout: string,
  invocation: { path: string; args: string[] },
): { version: Version; metadata: MetadataField[] } {
  const decoded = firstJsonValue(stdout);
  const value = decoded?.value ?? null;
  if (value !== null && (typeof value !== 'object' || Array.isArray(value))) {
    throw unmarshalError(value, 'resource.VersionResult');
  }
  const result = (value ?? {}) as Record<string, unknown>;
  const version = result['version'] ?? null;
  if (version === null) {
    throw new ResourceOutputError(
      `resource script (${[invocation.path, ...invocation.args].join(' ')}) output a null version`,
    );
  }
  return { version: decodeVersion(version), metadata: decodeMetadata(result['metadata'] ?? null) };
}

function decodeVersion(value: unknown): Version {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw unmarshalError(value, 'atc.Version');
  }
  const version: Version = {};
  for (const [key, field] of Object.entries(value)) {
    if (typeof field !== 'string') throw unmarshalError(field, 'string');
    version[key] = field;
  }
  return version;
}

function decodeMetadata(value: unknown): MetadataField[] {
  if (value === null) return [];
  if (!Array.isArray(value)) throw unmarshalError(value, 'atc.Metadata');
  return value.map((item) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw unmarshalError(item, 'atc.MetadataField');
    }
    const field = item as Record<string, unknown>;
    const text = (key: string): string => {
      const entry = field[key] ?? '';
      if (typeof entry !== 'string') throw unmarshalError(entry, 'string');
      return entry;
    };
    return { name: text('name'), value: text('value') };
  });
}

function unmarshalError(value: unknown, goType: string): ResourceOutputError {
  const kind = Array.isArray(value)
    ? 'array'
    : value === null
      ? 'null'
      : typeof value === 'object'
        ? 'object'
        : typeof value === 'boolean'
          ? 'bool'
          : typeof value;
  return new ResourceOutputError(`json: cannot unmarshal ${kind} into Go value of type ${goType}`);
}

/**
 * The first JSON value of `text`, as Go's json.Decoder.Decode reads it (whatever follows is ignored);
 * undefined when there is nothing but whitespace. `end` is where the value ends in `text`.
 */
export function firstJsonValue(text: string): { value: unknown; end: number } | undefined {
  let start = 0;
  while (start < text.length && /\s/.test(text[start] as string)) start++;
  if (start === text.length) return undefined;
  const first = text[start] as string;
  if (!/[[{"\-0-9tfn]/.test(first)) {
    throw new ResourceOutputError(`invalid character '${first}' looking for beginning of value`);
  }
  let end = start;
  if (first === '{' || first === '[' || first === '"') {
    let depth = 0;
    let inString = false;
    for (; end < text.length; end++) {
      const char = text[end];
      if (inString) {
        if (char === '\\') end++;
        else if (char === '"') {
          inString = false;
          if (depth === 0) break;
        }
      } else if (char === '"') inString = true;
      else if (char === '{' || char === '[') depth++;
      else if (char === '}' || char === ']') {
        depth--;
        if (depth === 0) break;
      }
    }
    if (end >= text.length) throw new ResourceOutputError('unexpected EOF');
    end++;
  } else {
    while (end < text.length && !/[\s,\]}[{"]/.test(text[end] as string)) end++;
  }
  try {
    return { value: JSON.parse(text.slice(start, end)) as unknown, end };
  } catch (error) {
    throw new ResourceOutputError((error as Error).message);
  }
}
