// One check per resource config at a time across every web node (Concourse's resource config checking lock,
// lock.NewResourceConfigCheckingLockID): an in-process mutex for the checks of this node, then a PostgreSQL
// session advisory lock for the other nodes, both held until the check's end is recorded.
import { createHash } from 'node:crypto';
import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';
import { SessionAdvisoryLocks } from '../builds/session-advisory-locks.js';
import { KeyedMutex } from './keyed-mutex.js';

/** "JB" + checking (tracking is 1, scheduling 2). */
const CHECKING_LOCK_CLASS = 0x4a42_0003;

/** How often a check waiting its turn asks again for a config another node is checking. */
const WAIT_POLL_MS = 250;

export class ResourceCheckingLocks {
  private readonly local = new KeyedMutex();
  private readonly shared: SessionAdvisoryLocks;

  constructor(pool: pg.Pool, logger: FastifyBaseLogger) {
    this.shared = new SessionAdvisoryLocks(pool, logger, {
      lockClass: CHECKING_LOCK_CLASS,
      purpose: 'resource checking',
    });
  }

  /** Take the config's lock if no check here or on another node holds it. */
  async tryLock(key: string): Promise<boolean> {
    if (!this.local.tryLock(key)) return false;
    try {
      if (await this.shared.tryAcquire(lockNumber(key))) return true;
    } catch (err) {
      this.local.unlock(key);
      throw err;
    }
    this.local.unlock(key);
    return false;
  }

  /** Take the config's lock, waiting for the checks before this one here and elsewhere (until `signal`). */
  async lock(key: string, signal?: AbortSignal): Promise<void> {
    await this.local.lock(key);
    try {
      while (!(await this.shared.tryAcquire(lockNumber(key)))) {
        signal?.throwIfAborted();
        await new Promise((resolve) => setTimeout(resolve, WAIT_POLL_MS));
      }
    } catch (err) {
      this.local.unlock(key);
      throw err;
    }
  }

  async unlock(key: string): Promise<void> {
    try {
      await this.shared.release(lockNumber(key));
    } finally {
      this.local.unlock(key);
    }
  }

  close(): Promise<void> {
    return this.shared.close();
  }
}

/** The advisory lock's second key: 32 bits of the config key's hash. */
function lockNumber(key: string): number {
  return createHash('sha256').update(key).digest().readInt32BE(0);
}
