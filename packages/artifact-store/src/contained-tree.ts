import { lstat, mkdir, unlink } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { removeTree } from './remove-tree.js';

/** Builds the error to raise for a path problem; extraction and path lookups report them differently. */
export type PathRejection = (reason: string) => Error;

/**
 * Normalize a relative, `/`-separated path from an archive or a request: drops empty and `.` segments and
 * resolves `..` lexically. Returns the path relative to its base (`''` for the base itself), or why it is
 * not acceptable (absolute, or climbing above its base).
 */
export function normalizeRelativePath(raw: string): { path: string } | { rejected: string } {
  if (raw.includes('\0')) return { rejected: 'the path contains a NUL byte' };
  if (raw.startsWith('/')) return { rejected: 'absolute paths are not allowed' };
  const segments: string[] = [];
  for (const segment of raw.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (segments.length === 0) return { rejected: 'the path escapes the destination with ..' };
      segments.pop();
    } else {
      segments.push(segment);
    }
  }
  return { path: segments.join('/') };
}

export function joinRelative(base: string, rel: string): string {
  if (base === '') return rel;
  if (rel === '') return base;
  return `${base}/${rel}`;
}

export function parentOf(rel: string): string {
  const slash = rel.lastIndexOf('/');
  return slash === -1 ? '' : rel.slice(0, slash);
}

/**
 * A directory tree that must never be escaped. Paths are relative to the root, `/`-separated, normalized.
 * Every operation checks each directory on the way with lstat and refuses to pass through a symlink, so
 * nothing is ever written (or read) through a link, whoever created it. Directories already checked are
 * remembered, which keeps extracting thousands of files in one directory cheap.
 */
export class ContainedTree {
  readonly #verifiedDirectories = new Set<string>();
  /** Directories this instance created: they hold nothing it did not put there. */
  readonly #createdDirectories = new Set<string>();

  constructor(readonly root: string) {}

  absolute(rel: string): string {
    return rel === '' ? this.root : path.join(this.root, ...rel.split('/'));
  }

  /** Create `rel` and its missing parents as real directories. */
  async ensureDirectory(rel: string, reject: PathRejection): Promise<void> {
    let current = '';
    for (const segment of rel === '' ? [] : rel.split('/')) {
      current = joinRelative(current, segment);
      if (this.#verifiedDirectories.has(current)) continue;
      const absolute = this.absolute(current);
      let stats = await lstatIfExists(absolute);
      if (!stats) {
        // 0o755 like tar's implicit directories: steps may run as another user than the store.
        try {
          await mkdir(absolute, { mode: 0o755 });
          this.#createdDirectories.add(current);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        }
        stats = await lstat(absolute);
      }
      this.#checkDirectory(current, stats, reject);
    }
  }

  /**
   * Make `rel` free for a new entry, inside real parent directories. An existing file or symlink there is
   * unlinked (never written through); an existing directory is kept when `keepDirectory`, else deleted.
   * Returns whether a directory remains at `rel`.
   */
  async clearSlot(rel: string, keepDirectory: boolean, reject: PathRejection): Promise<boolean> {
    await this.ensureDirectory(parentOf(rel), reject);
    const absolute = this.absolute(rel);
    const stats = await lstatIfExists(absolute);
    if (!stats) return false;
    if (stats.isDirectory()) {
      if (keepDirectory) {
        this.#verifiedDirectories.add(rel);
        return true;
      }
      this.#forgetDirectory(rel);
      await removeTree(absolute);
      return false;
    }
    await unlink(absolute);
    return false;
  }

  /** lstat of `rel`, or undefined when it does not exist; a symlink among its parents is rejected. */
  async lookup(rel: string, reject: PathRejection): Promise<Stats | undefined> {
    if (rel === '') return lstatIfExists(this.root);
    let current = '';
    for (const segment of parentOf(rel) === '' ? [] : parentOf(rel).split('/')) {
      current = joinRelative(current, segment);
      if (this.#verifiedDirectories.has(current)) continue;
      const stats = await lstatIfExists(this.absolute(current));
      if (!stats || !(stats.isDirectory() || stats.isSymbolicLink())) return undefined;
      this.#checkDirectory(current, stats, reject);
    }
    return lstatIfExists(this.absolute(rel));
  }

  /** Remember that `rel` was just created as a directory by the caller. */
  markCreatedDirectory(rel: string): void {
    this.#verifiedDirectories.add(rel);
    this.#createdDirectories.add(rel);
  }

  /** Whether this instance created `rel` as a directory (and has not deleted it since). */
  createdDirectory(rel: string): boolean {
    return this.#createdDirectories.has(rel);
  }

  #checkDirectory(rel: string, stats: Stats, reject: PathRejection): void {
    if (stats.isSymbolicLink()) throw reject(`'${rel}' is a symbolic link`);
    if (!stats.isDirectory()) throw reject(`'${rel}' is not a directory`);
    this.#verifiedDirectories.add(rel);
  }

  #forgetDirectory(rel: string): void {
    const prefix = `${rel}/`;
    for (const known of this.#verifiedDirectories) {
      if (known === rel || known.startsWith(prefix)) this.#verifiedDirectories.delete(known);
    }
    for (const known of this.#createdDirectories) {
      if (known === rel || known.startsWith(prefix)) this.#createdDirectories.delete(known);
    }
  }
}

export async function lstatIfExists(absolute: string): Promise<Stats | undefined> {
  try {
    return await lstat(absolute);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
}
