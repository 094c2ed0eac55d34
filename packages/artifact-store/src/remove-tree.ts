import { chmod, lstat, readdir, rm } from 'node:fs/promises';
import path from 'node:path';

/**
 * Delete a file or directory tree; absent is fine. Steps may leave read-only directories behind
 * (`chmod -w`), which a plain recursive delete cannot empty, so on a permission error the tree is made
 * owner-writable (without following symlinks) and the delete retried.
 */
export async function removeTree(target: string): Promise<void> {
  try {
    await rm(target, { recursive: true, force: true, maxRetries: 2 });
  } catch (err) {
    if (!isPermissionError(err)) throw err;
    await makeOwnerWritable(target);
    await rm(target, { recursive: true, force: true, maxRetries: 2 });
  }
}

async function makeOwnerWritable(target: string): Promise<void> {
  const stats = await lstat(target).catch(() => undefined);
  if (!stats?.isDirectory()) return;
  await chmod(target, (stats.mode & 0o7777) | 0o700);
  for (const name of await readdir(target)) {
    await makeOwnerWritable(path.join(target, name));
  }
}

function isPermissionError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EACCES' || code === 'EPERM';
}
