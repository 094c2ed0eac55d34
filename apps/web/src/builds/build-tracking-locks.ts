// Which builds have a live tracker: the node running a build holds a PostgreSQL session advisory lock on
// it (see SessionAdvisoryLocks). A node that dies loses its connection and so its locks, which is how
// another node (or this one after a restart) tells an orphaned build from one running elsewhere. Concourse
// does the same with its tracking lock (`build.AcquireTrackingLock`).
import type { FastifyBaseLogger } from 'fastify';
import type pg from 'pg';
import { SessionAdvisoryLocks } from './session-advisory-locks.js';

/** "JB" + tracking, so other users of the database don't collide (scheduling is 2, checking 3). */
const TRACKING_LOCK_CLASS = 0x4a42_0001;

export class BuildTrackingLocks extends SessionAdvisoryLocks {
  constructor(pool: pg.Pool, logger: FastifyBaseLogger) {
    super(pool, logger, { lockClass: TRACKING_LOCK_CLASS, purpose: 'build tracking' });
  }
}
