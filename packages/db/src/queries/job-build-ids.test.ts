// A job's finished and next build ids are stored on its row (migration 0007) and kept by triggers on `builds`.
// Whatever changes the builds — creation, reruns, starting, finishing, deletion, several at once, two
// transactions at once — the stored ids must be what searching the job's builds gives (the search below is
// how the job lists picked them before the ids were stored, after Concourse's `FinishedAndNextBuild`).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql, type Kysely } from 'kysely';
import { Migrator } from 'kysely/migration';
import { connectDatabase, type DatabaseHandle } from '../connect.js';
import { migrateToLatest } from '../migrate.js';
import { migrations } from '../migrations/index.js';
import type { Database } from '../schema.js';
import { startTestPostgres, type TestPostgres } from '../testing.js';
import { finishBuild } from './builds.js';
import { scheduleJobBuild } from './job-scheduling.js';
import { createJobBuild, createRerunBuild } from './jobs.js';
import { deletePipeline, savePipeline, type SavedJob } from './pipelines.js';
import { findFinishedAndNextBuilds } from './pipeline-builds.js';
import { createTeam } from './teams.js';

const JOBS = 3;

let postgres: TestPostgres;
let database: DatabaseHandle;
let teamId: number;
let pipelineId: number;
let jobIds: number[];

interface JobBuildIds {
  job: number;
  finished: number | null;
  next: number | null;
}

/** The ids as stored on the job rows. */
async function storedIds(db: Kysely<Database>): Promise<JobBuildIds[]> {
  const { rows } = await sql<JobBuildIds>`
    select id as job, latest_completed_build_id as finished, next_build_id as next
    from jobs where pipeline_id = ${pipelineId} order by id`.execute(db);
  return rows;
}

/** The ids found by searching each job's builds. */
async function searchedIds(db: Kysely<Database>): Promise<JobBuildIds[]> {
  const { rows } = await sql<JobBuildIds>`
    select j.id as job, f.id as finished, n.id as next
    from jobs j
    left join lateral (
      select max(b.id) as id from builds b
      where b.job_id = j.id and b.status not in ('pending', 'started') and b.rerun_of is null
    ) lnr on true
    left join lateral (
      select coalesce(
        (select max(b.id) from builds b
         where b.job_id = j.id and b.rerun_of = lnr.id and b.status not in ('pending', 'started')),
        lnr.id) as id
    ) f on true
    left join lateral (
      select min(b.id) as id from builds b
      where b.job_id = j.id and b.status in ('pending', 'started') and (b.rerun_of is null or b.rerun_of = lnr.id)
    ) n on true
    where j.pipeline_id = ${pipelineId} order by j.id`.execute(db);
  return rows;
}

/** A small deterministic generator (mulberry32): the same sequence of changes on every run. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function insertPendingBuild(db: Kysely<Database>, jobId: number, name: string): Promise<number> {
  const { rows } = await sql<{ id: number }>`
    insert into builds (name, team_id, pipeline_id, job_id, status)
    values (${name}, ${teamId}, ${pipelineId}, ${jobId}, 'pending') returning id`.execute(db);
  const id = rows[0]?.id;
  if (id === undefined) throw new Error('no build inserted');
  return id;
}

beforeAll(async () => {
  postgres = await startTestPostgres();
  database = connectDatabase(postgres.connection);
  const { db } = database;
  await migrateToLatest(db);
  const team = await createTeam(db, { name: 'heads', auth: {} });
  if (!team) throw new Error('team not created');
  teamId = team.id;
  const jobs: SavedJob[] = Array.from({ length: JOBS }, (_, index) => ({
    name: `job-${index}`,
    config: { name: `job-${index}` },
    public: false,
    maxInFlight: 0,
    disableManualTrigger: false,
    disableReruns: false,
    interruptible: false,
    serialGroups: [],
    groups: [],
    inputs: [],
    outputs: [],
  }));
  const { pipeline } = await savePipeline(db, {
    teamId,
    name: 'heads',
    instanceVars: null,
    fromVersion: 0,
    initiallyPaused: true,
    config: {
      config: {},
      groups: null,
      display: null,
      userData: null,
      resources: [],
      resourceTypes: [],
      jobs,
    },
  });
  pipelineId = pipeline.id;
  const rows = await db.selectFrom('jobs').select('id').where('pipeline_id', '=', pipelineId).execute();
  jobIds = rows.map((row) => row.id).sort((a, b) => a - b);
}, 60_000);

afterAll(async () => {
  await database?.close();
  await postgres?.destroy();
});

describe('jobs.latest_completed_build_id and next_build_id', () => {
  it('stay what searching the builds gives through 300 random creations, reruns, starts, finishes and deletions', async () => {
    const { db } = database;
    const next = random(33);
    const pick = <T>(items: readonly T[]): T | undefined => items[Math.floor(next() * items.length)];
    const statuses = ['succeeded', 'failed', 'errored', 'aborted'] as const;
    const done: string[] = [];
    for (let step = 0; step < 300; step++) {
      const jobId = pick(jobIds) ?? 0;
      const builds = await db
        .selectFrom('builds')
        .select(['id', 'status'])
        .where('job_id', '=', jobId)
        .execute();
      const unfinished = builds.filter((b) => b.status === 'pending' || b.status === 'started');
      const finished = builds.filter((b) => b.status !== 'pending' && b.status !== 'started');
      const roll = next();
      if (roll < 0.3 || builds.length === 0) {
        await createJobBuild(db, jobId, { createdBy: null, manuallyTriggered: false });
        done.push('create');
      } else if (roll < 0.42 && finished.length > 0) {
        await createRerunBuild(db, pick(finished)?.id ?? 0, null);
        done.push('rerun');
      } else if (roll < 0.55 && unfinished.some((b) => b.status === 'pending')) {
        const pending = unfinished.filter((b) => b.status === 'pending');
        await sql`update builds set status = 'started', start_time = now() where id = ${pick(pending)?.id ?? 0}`.execute(
          db,
        );
        done.push('start');
      } else if (roll < 0.9 && unfinished.length > 0) {
        await finishBuild(db, pick(unfinished)?.id ?? 0, pick(statuses) ?? 'succeeded');
        done.push('finish');
      } else if (roll < 0.95) {
        await db
          .deleteFrom('builds')
          .where('id', '=', pick(builds)?.id ?? 0)
          .execute();
        done.push('delete');
      } else {
        // Several builds of several jobs in one statement: the newest two of every job.
        await sql`
          delete from builds where id in (
            select id from (
              select id, row_number() over (partition by job_id order by id desc) as nth
              from builds where pipeline_id = ${pipelineId}) ranked
            where nth <= 2)`.execute(db);
        done.push('delete-many');
      }
      expect({ step, op: done.at(-1), ids: await storedIds(db) }).toEqual({
        step,
        op: done.at(-1),
        ids: await searchedIds(db),
      });
    }
    // Every kind of change happened, and the ids were not trivially empty.
    for (const op of ['create', 'rerun', 'start', 'finish', 'delete', 'delete-many'])
      expect(done).toContain(op);
    const stored = await storedIds(db);
    expect(stored.some((row) => row.finished !== null)).toBe(true);
    expect(stored.some((row) => row.next !== null)).toBe(true);
    // The job API's reader returns the stored builds.
    const read = await findFinishedAndNextBuilds(db, jobIds);
    expect(
      jobIds.map((job) => ({
        job,
        finished: read.get(job)?.finished?.id ?? null,
        next: read.get(job)?.next?.id ?? null,
      })),
    ).toEqual(stored);
  });

  it('are recomputed after a concurrent change of another build of the job has committed', async () => {
    const { db, pool } = database;
    const jobId = jobIds[0] ?? 0;
    await sql`delete from builds where job_id = ${jobId}`.execute(db);
    const oldest = await insertPendingBuild(db, jobId, 'a');
    expect((await storedIds(db)).find((row) => row.job === jobId)?.next).toBe(oldest);

    // One transaction creates a newer pending build and has not committed when another finishes the oldest:
    // the finish must wait, then count the new build as the next one (a stale snapshot would leave none).
    const creator = await pool.connect();
    try {
      await creator.query('begin');
      const created = await creator.query<{ id: number }>(
        `insert into builds (name, team_id, pipeline_id, job_id, status) values ('b', $1, $2, $3, 'pending')
         returning id`,
        [teamId, pipelineId, jobId],
      );
      let finished = false;
      const finishing = finishBuild(db, oldest, 'succeeded').then((result) => {
        finished = true;
        return result;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(finished).toBe(false);
      const { rows: waiting } = await pool.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and query like 'update "builds"%'`,
      );
      expect(waiting[0]?.n).toBe(1);
      await creator.query('commit');
      expect(await finishing).toBe(true);
      const row = (await storedIds(db)).find((r) => r.job === jobId);
      expect(row).toEqual({ job: jobId, finished: oldest, next: created.rows[0]?.id });
      expect(await storedIds(db)).toEqual(await searchedIds(db));
    } finally {
      creator.release();
    }
  });

  it('a pending build aborted while the scheduler lets it through: both finish, no deadlock', async () => {
    const { db, pool } = database;
    const jobId = jobIds[1] ?? 0;
    await sql`update pipelines set paused = false where id = ${pipelineId}`.execute(db);
    const buildId = await insertPendingBuild(db, jobId, 'scheduled-or-aborted');
    // The aborting transaction holds the build row (as an UPDATE does before its trigger runs) while the
    // scheduler starts; then it finishes the build, whose trigger locks the job row. A scheduler holding the
    // job row by then and waiting for the build row would deadlock with it.
    const aborter = await pool.connect();
    try {
      await aborter.query('begin');
      await aborter.query('select 1 from builds where id = $1 for no key update', [buildId]);
      const scheduling = scheduleJobBuild(db, buildId);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await aborter.query(`update builds set status = 'aborted', end_time = now() where id = $1`, [buildId]);
      await aborter.query('commit');
      expect(await scheduling).toBe('gone');
    } finally {
      aborter.release();
      await sql`update pipelines set paused = true where id = ${pipelineId}`.execute(db);
    }
    expect(await storedIds(db)).toEqual(await searchedIds(db));
  });

  it('are filled in from the builds already there when the migration runs, and dropped by its down', async () => {
    const { db } = database;
    const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
    expect((await migrator.migrateTo('0006_collected_step_output')).error).toBeUndefined();
    const columns = async () =>
      (
        await sql<{ column_name: string }>`
          select column_name from information_schema.columns where table_name = 'jobs'`.execute(db)
      ).rows.map((row) => row.column_name);
    expect(await columns()).not.toContain('next_build_id');
    // Builds made while no trigger keeps the ids: a finished one with a finished rerun, and pending ones.
    for (const jobId of jobIds) {
      const first = await insertPendingBuild(db, jobId, `m${jobId}`);
      await sql`update builds set status = 'succeeded' where id = ${first}`.execute(db);
      await sql`
        insert into builds (name, team_id, pipeline_id, job_id, status, rerun_of, rerun_number)
        values (${`m${jobId}.1`}, ${teamId}, ${pipelineId}, ${jobId}, 'failed', ${first}, 1)`.execute(db);
      await insertPendingBuild(db, jobId, `n${jobId}`);
    }
    await migrateToLatest(db);
    expect(await columns()).toEqual(expect.arrayContaining(['latest_completed_build_id', 'next_build_id']));
    const stored = await storedIds(db);
    expect(stored.every((row) => row.finished !== null && row.next !== null)).toBe(true);
    expect(stored).toEqual(await searchedIds(db));
  });

  it('go with their job: a pipeline destroyed while one of its builds finishes — both done, no deadlock', async () => {
    const { db, pool } = database;
    const jobId = jobIds[2] ?? 0;
    const buildId = await insertPendingBuild(db, jobId, 'finishing');
    const finisher = await pool.connect();
    try {
      await finisher.query('begin');
      await finisher.query('select 1 from builds where id = $1 for no key update', [buildId]);
      const destroying = deletePipeline(db, pipelineId);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await finisher.query(`update builds set status = 'succeeded', end_time = now() where id = $1`, [
        buildId,
      ]);
      await finisher.query('commit');
      await destroying;
    } finally {
      finisher.release();
    }
    expect(await storedIds(db)).toEqual([]);
    const { rows } = await sql<{
      n: number;
    }>`select count(*)::int as n from builds where pipeline_id = ${pipelineId}`.execute(db);
    expect(rows[0]?.n).toBe(0);
  });
});
