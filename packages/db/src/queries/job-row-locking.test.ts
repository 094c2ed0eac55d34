// Statements that update many `jobs` rows lock them in job id order, as Concourse orders such updates: two
// transactions locking overlapping rows in different orders deadlock. The rows here are laid out so that
// every natural scan (heap order, the name index, the job_inputs join) meets them in descending id order, and
// a third transaction holds the middle job: a statement stopped there must hold exactly the jobs before it
// (before the fix each held others: the descending ones, or a hash aggregate's order), and one racing it in
// ascending order must not deadlock with it (before the fix the first two cases ended in "deadlock detected").
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { sql } from 'kysely';
import { connectDatabase, type DatabaseHandle } from '../connect.js';
import { migrateToLatest } from '../migrate.js';
import { startTestPostgres, type TestPostgres } from '../testing.js';
import { requestScheduleForJobs } from './job-scheduling.js';
import { requestScheduleForPipeline, savePipeline, type SavedJob } from './pipelines.js';
import { requestScheduleForJobsUsingResource, setResourceConfigScope } from './resources.js';
import { createTeam } from './teams.js';
import {
  findOrCreateResourceConfig,
  findOrCreateResourceConfigScope,
  saveResourceVersions,
} from './versions.js';

const JOBS = 8;

let postgres: TestPostgres;
let database: DatabaseHandle;
let pipelineId: number;
let resourceId: number;
let scopeId: number;
let jobIds: number[];

beforeAll(async () => {
  postgres = await startTestPostgres();
  database = connectDatabase(postgres.connection);
  const { db } = database;
  await migrateToLatest(db);
  const team = await createTeam(db, { name: 'locking', auth: {} });
  if (!team) throw new Error('team not created');
  // Created job-7 first … job-0 last: ids ascend while names descend.
  const jobs: SavedJob[] = Array.from({ length: JOBS }, (_, index) => ({
    name: `job-${JOBS - 1 - index}`,
    config: { name: `job-${JOBS - 1 - index}` },
    public: false,
    maxInFlight: 0,
    disableManualTrigger: false,
    disableReruns: false,
    interruptible: false,
    serialGroups: [],
    groups: [],
    inputs: [{ name: 'repo', resource: 'repo', passedJobs: [], trigger: true, version: null }],
    outputs: [],
  }));
  const { pipeline } = await savePipeline(db, {
    teamId: team.id,
    name: 'locking',
    instanceVars: null,
    fromVersion: 0,
    initiallyPaused: false,
    config: {
      config: {},
      groups: null,
      display: null,
      userData: null,
      resources: [
        {
          name: 'repo',
          type: 'mock',
          config: { name: 'repo', type: 'mock', source: {} },
          public: false,
          checkEvery: null,
          webhookToken: null,
          pinnedVersion: null,
        },
      ],
      resourceTypes: [],
      jobs,
    },
  });
  pipelineId = pipeline.id;
  const resource = await db
    .selectFrom('resources')
    .select('id')
    .where('pipeline_id', '=', pipelineId)
    .executeTakeFirstOrThrow();
  resourceId = resource.id;
  const configId = await findOrCreateResourceConfig(db, 'mock', {});
  scopeId = await findOrCreateResourceConfigScope(db, configId, resourceId);
  await setResourceConfigScope(db, resourceId, configId, scopeId);
  const rows = await db.selectFrom('jobs').select('id').where('pipeline_id', '=', pipelineId).execute();
  jobIds = rows.map((row) => row.id).sort((a, b) => a - b);
}, 60_000);

beforeEach(async () => {
  // Lay the table out by (pipeline, name), newest id first: heap scans and the name index now meet the jobs
  // in descending id order (every test's updates scatter them again, so before each).
  await sql`cluster jobs using jobs_pipeline_id_name_key`.execute(database.db);
  // The same for the job_inputs rows (the jobs of a resource are found through them).
  await sql`
    with removed as (delete from job_inputs returning *)
    insert into job_inputs select * from removed order by job_id desc`.execute(database.db);
});

afterAll(async () => {
  await database?.close();
  await postgres?.destroy();
});

/** Backends of this database waiting for a lock. */
async function waitingForLocks(): Promise<number> {
  const { rows } = await sql<{ waiting: number }>`
    select count(*)::int as waiting from pg_stat_activity
    where datname = current_database() and wait_event_type = 'Lock'`.execute(database.db);
  return rows[0]?.waiting ?? 0;
}

async function untilWaiting(count: number): Promise<void> {
  for (let tries = 0; (await waitingForLocks()) < count; tries++) {
    if (tries > 200) throw new Error(`never saw ${count} statements waiting for a lock`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Hold the middle job, start `update` (it stops there, holding the rows it took first), then an update of
 * every job in ascending id order (stopping at the first row it cannot take), then let go of the middle job.
 */
async function raceAgainstAscending(update: () => Promise<unknown>): Promise<void> {
  const began = new Date();
  const middle = jobIds[JOBS / 2] ?? 0;
  const holder = await database.pool.connect();
  const running: Array<Promise<unknown>> = [];
  try {
    await holder.query('begin');
    await holder.query('select id from jobs where id = $1 for update', [middle]);
    running.push(update());
    await untilWaiting(1);
    // Stopped at the middle job, it holds exactly the jobs before it in id order.
    const free = await sql<{ id: number }>`
      select id from jobs where pipeline_id = ${pipelineId} order by id for update skip locked`.execute(
      database.db,
    );
    expect(free.rows.map((row) => row.id)).toEqual(jobIds.filter((id) => id > middle));
    running.push(requestScheduleForJobs(database.db, jobIds));
    await untilWaiting(2);
    await holder.query('commit');
    const results = await Promise.allSettled(running);
    const errors = results.flatMap((result) =>
      result.status === 'rejected' ? [String((result.reason as Error).message)] : [],
    );
    expect(errors).toEqual([]);
    // And the updates did their job: every job's schedule was requested after the race began.
    const { rows } = await sql<{ stale: number }>`
      select count(*)::int as stale from jobs
      where pipeline_id = ${pipelineId} and schedule_requested < ${began}`.execute(database.db);
    expect(rows[0]?.stale).toBe(0);
  } finally {
    // A failed expectation leaves the holder's transaction open: end it so the statements finish too.
    await holder.query('rollback').catch(() => undefined);
    holder.release();
    await Promise.allSettled(running);
  }
}

describe('statements updating many jobs lock them in id order', () => {
  it('requestScheduleForPipeline', async () => {
    await raceAgainstAscending(() => requestScheduleForPipeline(database.db, pipelineId));
  }, 30_000);

  it('requestScheduleForJobsUsingResource', async () => {
    await raceAgainstAscending(() => requestScheduleForJobsUsingResource(database.db, resourceId));
  }, 30_000);

  it('saveResourceVersions (a new version asks every job using the scope to schedule)', async () => {
    let ref = 0;
    await raceAgainstAscending(() =>
      saveResourceVersions(database.db, scopeId, [{ version: { ref: `v${++ref}-${Date.now()}` } }]),
    );
  }, 30_000);
});
