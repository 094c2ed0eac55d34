// One scheduler at a time per job, across every web node (Concourse's job scheduling lock): a PostgreSQL
// advisory lock held by an open transaction on a connection of its own. The scheduling work itself runs on
// other connections, so what it writes is visible to the API and to build starters at once; if the node dies,
// its connection goes and the lock with it.
import { sql, type Database, type Kysely } from '@jetbridge/db';

/** First key of the two-key advisory lock space: "JB" + scheduling (build tracking uses 0x4a42_0001). */
const JOB_SCHEDULING_LOCK_CLASS = 0x4a42_0002;

export interface HeldJobLock {
  release(): Promise<void>;
}

/** Take the job's scheduling lock if nobody holds it; undefined when someone does. */
export function tryLockJobScheduling(db: Kysely<Database>, jobId: number): Promise<HeldJobLock | undefined> {
  return new Promise((resolve, reject) => {
    let settled = false;
    let release!: () => void;
    const released = new Promise<void>((done) => {
      release = done;
    });
    const held = db.transaction().execute(async (tx) => {
      const { rows } = await sql<{ locked: boolean }>`
        select pg_try_advisory_xact_lock(${JOB_SCHEDULING_LOCK_CLASS}, ${jobId}) as locked`.execute(tx);
      settled = true;
      if (rows[0]?.locked !== true) {
        resolve(undefined);
        return;
      }
      resolve({
        release: async () => {
          release();
          await held.catch(() => undefined);
        },
      });
      // Committing ends the transaction and so the lock.
      await released;
    });
    held.catch((err: unknown) => {
      if (!settled) reject(err);
    });
  });
}
