import { lstat, mkdir } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { RuntimeError } from '@jetbridge/runtime';

// Handles become one directory name each, so they may not contain separators or start with a dot.
const SAFE_HANDLE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/;

export function assertSafeHandle(kind: 'volume' | 'container', handle: string): void {
  if (!SAFE_HANDLE.test(handle)) {
    throw new RuntimeError(
      `invalid ${kind} handle ${JSON.stringify(handle)}: use letters, digits, '.', '_' and '-' (up to 200), not starting with '.', '_' or '-'`,
    );
  }
}

/**
 * The segments of a path inside a volume. A leading `/` means the volume's root; `..` is refused rather than
 * resolved, so the result can never leave the volume.
 */
export function pathSegmentsInVolume(volumePath: string): string[] {
  const segments = volumePath.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.includes('..')) throw new RuntimeError(`path ${JSON.stringify(volumePath)} leaves the volume`);
  return segments;
}

/** Whether `candidate` is `root` or lies below it (both absolute and normalized). */
export function isInside(root: string, candidate: string): boolean {
  return candidate === root || candidate.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

export async function lstatIfExists(hostPath: string): Promise<Stats | undefined> {
  try {
    return await lstat(hostPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Walk `segments` below `root` and make sure each one is a real directory — never a symlink, which could
 * lead a write or a read outside `root`. Missing directories are created when `create` is set; otherwise
 * the walk answers false at the first missing one.
 */
export async function ensureRealDirectories(
  root: string,
  segments: string[],
  create: boolean,
): Promise<boolean> {
  let current = root;
  for (const segment of segments) {
    current = path.join(current, segment);
    const stats = await lstatIfExists(current);
    if (stats === undefined) {
      if (!create) return false;
      await mkdir(current, { mode: 0o755 });
    } else if (stats.isSymbolicLink()) {
      throw new RuntimeError(`${path.relative(root, current)} is a symlink; refusing to go through it`);
    } else if (!stats.isDirectory()) {
      throw new RuntimeError(`${path.relative(root, current)} is not a directory`);
    }
  }
  return true;
}
