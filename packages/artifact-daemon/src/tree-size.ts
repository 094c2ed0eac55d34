import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';

/** Bytes of regular files and number of entries under `directory` (symlinks not followed). */
export async function treeSize(directory: string): Promise<{ bytes: number; files: number }> {
  let bytes = 0;
  let files = 0;
  const pending = [directory];
  while (pending.length > 0) {
    const current = pending.pop() as string;
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const absolute = path.join(current, entry.name);
      files++;
      if (entry.isDirectory()) pending.push(absolute);
      else if (entry.isFile()) bytes += (await lstat(absolute)).size;
    }
  }
  return { bytes, files };
}
