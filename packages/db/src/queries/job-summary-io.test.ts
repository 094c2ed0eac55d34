// The job lists show each job's inputs and outputs from JSON stored on the job row when the config is saved
// (migration 0008). Whatever a save does — new jobs, changed inputs, `passed` on several jobs, jobs and
// resources renamed, jobs removed — the stored JSON must be what aggregating the job_inputs and job_outputs
// rows gives (the aggregation below is how the lists computed it on every read before it was stored).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql, type Kysely } from 'kysely';
import { Migrator } from 'kysely/migration';
import { connectDatabase, type DatabaseHandle } from '../connect.js';
import { migrateToLatest } from '../migrate.js';
import { migrations } from '../migrations/index.js';
import type { Database } from '../schema.js';
import { startTestPostgres, type TestPostgres } from '../testing.js';
import { listJobSummaries } from './job-summaries.js';
import { savePipeline, type SavedJob, type SavedJobInput, type SavedResource } from './pipelines.js';
import { createTeam } from './teams.js';

let postgres: TestPostgres;
let database: DatabaseHandle;
let teamId: number;
let pipelineId: number;
let version = 0;

interface JobIo {
  job: string;
  inputs: unknown;
  outputs: unknown;
}

async function storedIo(db: Kysely<Database>): Promise<JobIo[]> {
  const { rows } = await sql<JobIo>`
    select name as job, summary_inputs as inputs, summary_outputs as outputs
    from jobs where pipeline_id = ${pipelineId} order by id`.execute(db);
  return rows;
}

async function aggregatedIo(db: Kysely<Database>): Promise<JobIo[]> {
  const { rows } = await sql<JobIo>`
    select j.name as job,
      (select json_agg(json_build_array(name, resource, passed, trigger) order by name) from (
        select ji.name, r.name as resource, ji.trigger, array_remove(array_agg(pj.name order by pj.id), null) as passed
        from job_inputs ji
        join resources r on r.id = ji.resource_id
        left join jobs pj on pj.id = ji.passed_job_id
        where ji.job_id = j.id
        group by ji.name, r.name, r.id, ji.trigger, ji.version) i) as inputs,
      (select json_agg(json_build_array(jo.name, r.name) order by jo.name, jo.id)
        from job_outputs jo join resources r on r.id = jo.resource_id where jo.job_id = j.id) as outputs
    from jobs j where j.pipeline_id = ${pipelineId} order by j.id`.execute(db);
  return rows;
}

const resource = (name: string, oldName?: string): SavedResource => ({
  name,
  ...(oldName ? { oldName } : {}),
  type: 'mock',
  config: { name, type: 'mock', source: {} },
  public: false,
  checkEvery: null,
  webhookToken: null,
  pinnedVersion: null,
});

const input = (name: string, resourceName: string, passedJobs: string[], trigger = false): SavedJobInput => ({
  name,
  resource: resourceName,
  passedJobs,
  trigger,
  version: null,
});

const job = (
  name: string,
  inputs: SavedJobInput[],
  outputs: Array<{ name: string; resource: string }>,
  oldName?: string,
): SavedJob => ({
  name,
  ...(oldName ? { oldName } : {}),
  config: { name },
  public: false,
  maxInFlight: 0,
  disableManualTrigger: false,
  disableReruns: false,
  interruptible: false,
  serialGroups: [],
  groups: [],
  inputs,
  outputs,
});

async function save(resources: SavedResource[], jobs: SavedJob[]): Promise<void> {
  const { pipeline } = await savePipeline(database.db, {
    teamId,
    name: 'io',
    instanceVars: null,
    fromVersion: version,
    initiallyPaused: true,
    config: { config: {}, groups: null, display: null, userData: null, resources, resourceTypes: [], jobs },
  });
  pipelineId = pipeline.id;
  version = pipeline.configVersion;
}

beforeAll(async () => {
  postgres = await startTestPostgres();
  database = connectDatabase(postgres.connection);
  await migrateToLatest(database.db);
  const team = await createTeam(database.db, { name: 'io', auth: {} });
  if (!team) throw new Error('team not created');
  teamId = team.id;
}, 60_000);

afterAll(async () => {
  await database?.close();
  await postgres?.destroy();
});

describe('jobs.summary_inputs and summary_outputs', () => {
  it('are what aggregating job_inputs and job_outputs gives after every save', async () => {
    const { db } = database;
    await save(
      [resource('repo'), resource('image')],
      [
        job('build', [input('repo', 'repo', [], true)], [{ name: 'image', resource: 'image' }]),
        job('lint', [input('repo', 'repo', [])], []),
        job(
          'test',
          [
            input('repo', 'repo', ['build', 'lint'], true),
            input('image', 'image', ['build']),
            input('a', 'repo', []),
          ],
          [
            { name: 'repo', resource: 'repo' },
            { name: 'image', resource: 'image' },
          ],
        ),
        job('idle', [], []),
      ],
    );
    const first = await storedIo(db);
    expect(first).toEqual(await aggregatedIo(db));
    expect(first.find((row) => row.job === 'test')?.inputs).toEqual([
      ['a', 'repo', [], false],
      ['image', 'image', ['build'], false],
      ['repo', 'repo', ['build', 'lint'], true],
    ]);
    expect(first.find((row) => row.job === 'idle')).toEqual({ job: 'idle', inputs: null, outputs: null });

    // Rename a job named in `passed` and a resource, drop a job, change inputs and outputs.
    await save(
      [resource('source', 'repo'), resource('image')],
      [
        job('compile', [input('repo', 'source', [], true)], [], 'build'),
        job(
          'test',
          [input('repo', 'source', ['compile'], true), input('image', 'image', ['compile'])],
          [{ name: 'image', resource: 'image' }],
        ),
        job('idle', [input('late', 'image', [])], []),
      ],
    );
    const second = await storedIo(db);
    expect(second).toEqual(await aggregatedIo(db));
    expect(second.find((row) => row.job === 'test')?.inputs).toEqual([
      ['image', 'image', ['compile'], false],
      ['repo', 'source', ['compile'], true],
    ]);
    // The removed job keeps its row, inactive, with nothing to show.
    expect(second.find((row) => row.job === 'lint')).toEqual({ job: 'lint', inputs: null, outputs: null });

    // What the job list presents.
    const summaries = await listJobSummaries(db, { pipelineId });
    expect(summaries.map((s) => [s.name, s.inputs, s.outputs])).toEqual([
      ['compile', [{ name: 'repo', resource: 'source', passed: [], trigger: true }], []],
      [
        'test',
        [
          { name: 'image', resource: 'image', passed: ['compile'], trigger: false },
          { name: 'repo', resource: 'source', passed: ['compile'], trigger: true },
        ],
        [{ name: 'image', resource: 'image' }],
      ],
      ['idle', [{ name: 'late', resource: 'image', passed: [], trigger: false }], []],
    ]);
  });

  it('are filled in from the rows already there when the migration runs, and dropped by its down', async () => {
    const { db } = database;
    const before = await storedIo(db);
    const migrator = new Migrator({ db, provider: { getMigrations: async () => migrations } });
    expect((await migrator.migrateTo('0007_job_build_ids')).error).toBeUndefined();
    const { rows } = await sql<{ column_name: string }>`
      select column_name from information_schema.columns where table_name = 'jobs'`.execute(db);
    expect(rows.map((row) => row.column_name)).not.toContain('summary_inputs');
    await migrateToLatest(db);
    const after = await storedIo(db);
    expect(after).toEqual(before);
    expect(after).toEqual(await aggregatedIo(db));
    expect(after.some((row) => row.inputs !== null)).toBe(true);
  });
});
