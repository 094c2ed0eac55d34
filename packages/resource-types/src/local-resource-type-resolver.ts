// Finding a resource type's executables on the host for the local runtime: the built-in types shipped in
// this package first, then `<directory>/<type>/{check,in,out}` of a configured directory (where an operator
// puts the resource types a pipeline uses, e.g. `git`, unpacked from their images' /opt/resource).
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built-in resource types' directories, `<dir>/<type>/{check,in,out}` (from src/ and dist/ alike). */
export const BUILTIN_RESOURCE_TYPES_DIR = fileURLToPath(new URL('../builtin/', import.meta.url));

/** The resource types this package implements. */
export const BUILTIN_RESOURCE_TYPES: readonly string[] = ['mock', 'time'];

/** No built-in and no configured resource type has this name. */
export class UnknownResourceTypeError extends Error {
  constructor(readonly type: string) {
    super(`unknown resource type '${type}'`);
    this.name = 'UnknownResourceTypeError';
  }
}

export interface LocalResourceTypeResolverOptions {
  /** Holds `<type>/{check,in,out}` for types that are not built in; the built-ins win over it. */
  directory?: string;
}

/**
 * Resolves a plan's resource type name to a directory of host executables (`@jetbridge/exec`'s
 * ResourceTypeResolver for the local runtime). The type's image is ignored: the host is the image. A
 * pipeline's custom resource type is found by its own name in the configured directory.
 *
 * @example
 * const resourceTypes = new LocalResourceTypeResolver({ directory: '/var/lib/jetbridge/resource-types' });
 * await resourceTypes.resolve('mock'); // { kind: 'local-dir', dir: '<package>/builtin/mock' }
 */
export class LocalResourceTypeResolver {
  private readonly directory: string | undefined;

  constructor(options: LocalResourceTypeResolverOptions = {}) {
    this.directory = options.directory === undefined ? undefined : path.resolve(options.directory);
  }

  /** Rejects with UnknownResourceTypeError when neither the built-ins nor the directory have `type`. */
  async resolve(type: string, _image?: unknown): Promise<{ kind: 'local-dir'; dir: string }> {
    // A type name is one path segment: nothing outside the directories is ever run.
    if (type === '' || type === '.' || type === '..' || type.includes('/') || type.includes('\\')) {
      throw new UnknownResourceTypeError(type);
    }
    if (BUILTIN_RESOURCE_TYPES.includes(type))
      return { kind: 'local-dir', dir: path.join(BUILTIN_RESOURCE_TYPES_DIR, type) };
    if (this.directory !== undefined) {
      const dir = path.join(this.directory, type);
      if (await isDirectory(dir)) return { kind: 'local-dir', dir };
    }
    throw new UnknownResourceTypeError(type);
  }

  /** The names of every resolvable type, built-ins first. */
  async list(): Promise<string[]> {
    const configured: string[] = [];
    if (this.directory !== undefined) {
      const entries = await readdir(this.directory, { withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        if (entry.isDirectory() && !BUILTIN_RESOURCE_TYPES.includes(entry.name)) configured.push(entry.name);
      }
    }
    return [...BUILTIN_RESOURCE_TYPES, ...configured.sort()];
  }
}

async function isDirectory(dir: string): Promise<boolean> {
  try {
    return (await stat(dir)).isDirectory();
  } catch {
    return false;
  }
}
