import { mkdir, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * When each artifact was last used, kept as the mtime of `<root>/leases/<handle>` so a restarted daemon
 * still knows: the TTL sweep removes what nobody used for a long time (orphans of a web that lost track),
 * not what is merely old. Touches are throttled: a busy artifact costs one utimes a minute (less with a short TTL).
 */
export class LeaseBook {
  readonly #dir: string;
  readonly #touched = new Map<string, number>();
  readonly #throttleMs: number;

  /** `throttleMs`: at most one touch per artifact this often (keep it well below the TTL). */
  constructor(root: string, throttleMs = 60_000) {
    this.#dir = path.join(root, 'leases');
    this.#throttleMs = throttleMs;
  }

  /** Records a use now; `force` skips the throttle (an explicit renewal). */
  async touch(handle: string, now = Date.now(), force = false): Promise<void> {
    const last = this.#touched.get(handle);
    if (!force && last !== undefined && now - last < this.#throttleMs) return;
    this.#touched.set(handle, now);
    const file = path.join(this.#dir, handle);
    const time = new Date(now);
    try {
      await utimes(file, time, time);
    } catch {
      await mkdir(this.#dir, { recursive: true });
      await writeFile(file, '');
      await utimes(file, time, time);
    }
  }

  /** Last use in ms since the epoch, or undefined when never recorded. */
  async lastUsed(handle: string): Promise<number | undefined> {
    const stats = await stat(path.join(this.#dir, handle)).catch(() => undefined);
    return stats?.mtimeMs;
  }

  async forget(handle: string): Promise<void> {
    this.#touched.delete(handle);
    await rm(path.join(this.#dir, handle), { force: true });
  }

  /** Leases whose artifact is gone (the store's own sweep removed it). */
  async handles(): Promise<string[]> {
    return readdir(this.#dir).catch(() => []);
  }
}
