import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { findBuild, type BuildRecord } from '@jetbridge/db';
import pg from 'pg';
import { BuildTracker } from '../src/builds/build-tracker.js';
import { createOrphanedBuild, startTestServer, type TestServer } from './harness.js';

/**
 * The build tracker's hook for runtimes whose steps outlive their web node (Kubernetes pods): an orphaned
 * build offered to `takeOverOrphan` and taken is left running, its tracking lock held by the node that took
 * it until the runtime lets go; one not taken ends errored as on the local runtime.
 */
let ts: TestServer;
let other: pg.Client;
const TRACKING_LOCK_CLASS = 0x4a42_0001;

beforeAll(async () => {
  ts = await startTestServer();
  other = new pg.Client(ts.postgres.connection);
  await other.connect();
});
afterAll(async () => {
  await other?.end();
  await ts?.destroy();
});

const orphan = () => createOrphanedBuild(ts);

/** Whether anyone holds the build's tracking lock (tried from a session of our own). */
async function lockHeld(id: number): Promise<boolean> {
  const { rows } = await other.query<{ locked: boolean }>('select pg_try_advisory_lock($1, $2) as locked', [
    TRACKING_LOCK_CLASS,
    id,
  ]);
  if (rows[0]?.locked === true) {
    await other.query('select pg_advisory_unlock($1, $2)', [TRACKING_LOCK_CLASS, id]);
    return false;
  }
  return true;
}

it('leaves a taken-over orphan running with its lock held, and ends one not taken', async () => {
  const taken = await orphan();
  const declined = await orphan();
  const offered: number[] = [];
  let release: (() => Promise<void>) | undefined;
  const { ctx } = ts.server;
  const tracker = await BuildTracker.start({
    db: ctx.db,
    pool: ctx.pool,
    worker: ctx.worker,
    logger: ctx.logger,
    nodeName: 'survivor',
    externalUrl: ctx.config.externalUrl,
    orphanSweepMs: 0,
    takeOverOrphan: async (build: BuildRecord, releaseLock) => {
      offered.push(build.id);
      if (build.id !== taken) return false;
      release = releaseLock;
      return true;
    },
  });
  try {
    expect(offered).toEqual(expect.arrayContaining([taken, declined]));
    expect((await findBuild(ctx.db, taken))?.status).toBe('started');
    expect(await lockHeld(taken)).toBe(true);
    expect((await findBuild(ctx.db, declined))?.status).toBe('errored');
    expect(await lockHeld(declined)).toBe(false);

    // Once the runtime lets go, another sweep may end it.
    await release?.();
    expect(await lockHeld(taken)).toBe(false);
  } finally {
    await tracker.shutdown();
  }
});
