import { statfs } from 'node:fs/promises';

export interface Capacity {
  totalBytes: number;
  /** What an unprivileged writer may still use (statfs `bavail`). */
  availableBytes: number;
}

/** The file system holding `directory`, as `df` sees it. */
export async function capacityOf(directory: string): Promise<Capacity> {
  const stats = await statfs(directory);
  return { totalBytes: stats.blocks * stats.bsize, availableBytes: stats.bavail * stats.bsize };
}

/** ENOSPC/EDQUOT anywhere in an error's cause chain: the node's disk is full. */
export function isDiskFull(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current && depth < 8; depth++) {
    const code = (current as { code?: unknown }).code;
    if (code === 'ENOSPC' || code === 'EDQUOT') return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
