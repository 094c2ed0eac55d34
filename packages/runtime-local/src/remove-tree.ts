import { chmod, lstat, readdir, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * Remove a directory tree (symlinks are removed, never followed). Steps leave read-only directories
 * behind (Go's module cache, a tar with 0555 dirs), which `rm -rf` alone cannot empty as a non-root
 * user, so on failure every directory is made writable and the removal retried.
 */
export async function removeTree(target: string): Promise<void> {
  try {
    await rm(target, { recursive: true, force: true });
  } catch {
    await makeDirectoriesWritable(target);
    await rm(target, { recursive: true, force: true });
  }
}

async function makeDirectoriesWritable(target: string): Promise<void> {
  const stats = await lstat(target).catch(() => undefined);
  if (!stats?.isDirectory()) return;
  await chmod(target, 0o700);
  for (const child of await readdir(target)) {
    await makeDirectoriesWritable(path.join(target, child));
  }
}
