// One holder per key at a time, in this process: the checker's "one check per resource config at once"
// (Concourse's resource config checking lock, lock.NewResourceConfigCheckingLockID).

export class KeyedMutex {
  private readonly queues = new Map<string, Array<() => void>>();

  /** Take `key` if free; false when someone holds it. */
  tryLock(key: string): boolean {
    if (this.queues.has(key)) return false;
    this.queues.set(key, []);
    return true;
  }

  /** Take `key`, waiting for the holders before us. */
  async lock(key: string): Promise<void> {
    const waiting = this.queues.get(key);
    if (waiting === undefined) {
      this.queues.set(key, []);
      return;
    }
    await new Promise<void>((resolve) => waiting.push(resolve));
  }

  /** Hand `key` to the next waiter, or free it. */
  unlock(key: string): void {
    const waiting = this.queues.get(key);
    if (waiting === undefined) return;
    const next = waiting.shift();
    if (next === undefined) this.queues.delete(key);
    else next();
  }

  isLocked(key: string): boolean {
    return this.queues.has(key);
  }
}
