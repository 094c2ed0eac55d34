// What the build log reaper reads and writes (Concourse's build log collector, atc/gc/build_log_collector.go):
// the jobs whose logs may be reaped, their builds not reaped yet, and the reaping itself — the events go,
// the build row stays with its `reap_time`.
import { sql, type Kysely } from 'kysely';
import type { BuildStatus, Database } from '../schema.js';

export interface LogReapableJob {
  id: number;
  name: string;
  pipelineId: number;
  /** The job's stored config (Go's encoding of atc.JobConfig). */
  config: Record<string, unknown>;
  firstLoggedBuildId: number;
}

/** Active, unpaused jobs of unpaused pipelines (archived pipelines are paused): paused ones keep their logs. */
export async function listLogReapableJobs(db: Kysely<Database>): Promise<LogReapableJob[]> {
  const rows = await db
    .selectFrom('jobs as j')
    .innerJoin('pipelines as p', 'p.id', 'j.pipeline_id')
    .select(['j.id', 'j.name', 'j.pipeline_id', 'j.config', 'j.first_logged_build_id'])
    .where('j.active', '=', true)
    .where('j.paused', '=', false)
    .where('p.paused', '=', false)
    .where('p.archived', '=', false)
    .where('j.config', 'is not', null)
    .orderBy('j.id')
    .execute();
  return rows.map((row) => ({
    id: row.id,
    name: row.name,
    pipelineId: row.pipeline_id,
    config: (row.config ?? {}) as Record<string, unknown>,
    firstLoggedBuildId: row.first_logged_build_id,
  }));
}

export interface LoggedBuild {
  id: number;
  status: BuildStatus;
  endTime: Date | null;
}

/** The job's builds from `fromId` on whose logs were not reaped, newest first. */
export async function listUnreapedJobBuilds(
  db: Kysely<Database>,
  jobId: number,
  fromId: number,
): Promise<LoggedBuild[]> {
  const rows = await db
    .selectFrom('builds')
    .select(['id', 'status', 'end_time'])
    .where('job_id', '=', jobId)
    .where('id', '>=', fromId)
    .where('reap_time', 'is', null)
    .orderBy('id', 'desc')
    .execute();
  return rows.map((row) => ({ id: row.id, status: row.status, endTime: row.end_time }));
}

/** First key of the advisory lock a node takes on a job while reaping its logs ("JB" + 4). */
const REAPING_LOCK_CLASS = 0x4a42_0004;

/**
 * Delete the events of these finished builds and mark them reaped; the job's `first_logged_build_id` moves
 * up to `firstLoggedBuildId` (never down). One transaction, so a build is never half reaped; undefined when
 * another web node is reaping the job's logs right now (it holds the job's reaping lock).
 */
export async function reapJobBuildLogs(
  db: Kysely<Database>,
  jobId: number,
  buildIds: readonly number[],
  firstLoggedBuildId: number,
): Promise<number | undefined> {
  return db.transaction().execute(async (tx) => {
    const { rows } = await sql<{ locked: boolean }>`
      select pg_try_advisory_xact_lock(${REAPING_LOCK_CLASS}, ${jobId}) as locked`.execute(tx);
    if (rows[0]?.locked !== true) return undefined;
    let reaped = 0;
    if (buildIds.length > 0) {
      const marked = await tx
        .updateTable('builds')
        .set({ reap_time: sql<Date>`now()` })
        .where('id', 'in', [...buildIds])
        .where('job_id', '=', jobId)
        .where('status', 'not in', ['pending', 'started'])
        .returning('id')
        .execute();
      const ids = marked.map((row) => row.id);
      if (ids.length > 0) await tx.deleteFrom('build_events').where('build_id', 'in', ids).execute();
      reaped = ids.length;
    }
    await tx
      .updateTable('jobs')
      .set({ first_logged_build_id: firstLoggedBuildId })
      .where('id', '=', jobId)
      .where('first_logged_build_id', '<', firstLoggedBuildId)
      .execute();
    return reaped;
  });
}
