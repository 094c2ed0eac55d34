// Jobs (Concourse's atc/db/job.go, job_factory.go): lookups, inputs/outputs as configured, pausing, build
// creation (manual trigger, rerun, scheduler), and the next-build input mapping the scheduler maintains.
import { sql, type Kysely } from 'kysely';
import type { Database, Json, VersionJson } from '../schema.js';
import { findPipelineBuild, type PipelineBuildRecord } from './pipeline-builds.js';

/** An active job with its pipeline's and team's names. */
export interface JobRecord {
  id: number;
  name: string;
  pipelineId: number;
  pipelineName: string;
  pipelineInstanceVars: Record<string, Json> | null;
  pipelinePaused: boolean;
  pipelineArchived: boolean;
  pipelinePublic: boolean;
  teamId: number;
  teamName: string;
  /** Go's encoding of the job config (decode with @jetbridge/pipeline-config); null when archived. */
  config: Record<string, Json> | null;
  paused: boolean;
  pausedBy: string | null;
  pausedAt: Date | null;
  public: boolean;
  maxInFlight: number;
  disableManualTrigger: boolean;
  disableReruns: boolean;
  interruptible: boolean;
  groups: string[];
  hasNewInputs: boolean;
  inputsDetermined: boolean;
  firstLoggedBuildId: number;
  scheduleRequested: Date;
  lastScheduled: Date;
}

function jobsQuery(db: Kysely<Database>) {
  return db
    .selectFrom('jobs as j')
    .innerJoin('pipelines as p', 'p.id', 'j.pipeline_id')
    .innerJoin('teams as t', 't.id', 'p.team_id')
    .select([
      'j.id',
      'j.name',
      'j.pipeline_id',
      'p.name as pipeline_name',
      'p.instance_vars as pipeline_instance_vars',
      'p.paused as pipeline_paused',
      'p.archived as pipeline_archived',
      'p.public as pipeline_public',
      'p.team_id',
      't.name as team_name',
      'j.config',
      'j.paused',
      'j.paused_by',
      'j.paused_at',
      'j.public',
      'j.max_in_flight',
      'j.disable_manual_trigger',
      'j.disable_reruns',
      'j.interruptible',
      'j.groups',
      'j.has_new_inputs',
      'j.inputs_determined',
      'j.first_logged_build_id',
      'j.schedule_requested',
      'j.last_scheduled',
    ])
    .where('j.active', '=', true);
}

type JobsQuery = ReturnType<typeof jobsQuery>;
type JobRow = Awaited<ReturnType<JobsQuery['executeTakeFirstOrThrow']>>;

function toRecord(row: JobRow): JobRecord {
  return {
    id: row.id,
    name: row.name,
    pipelineId: row.pipeline_id,
    pipelineName: row.pipeline_name,
    pipelineInstanceVars: row.pipeline_instance_vars,
    pipelinePaused: row.pipeline_paused,
    pipelineArchived: row.pipeline_archived,
    pipelinePublic: row.pipeline_public,
    teamId: row.team_id,
    teamName: row.team_name,
    config: row.config,
    paused: row.paused,
    pausedBy: row.paused_by,
    pausedAt: row.paused_at,
    public: row.public,
    maxInFlight: row.max_in_flight,
    disableManualTrigger: row.disable_manual_trigger,
    disableReruns: row.disable_reruns,
    interruptible: row.interruptible,
    groups: row.groups,
    hasNewInputs: row.has_new_inputs,
    inputsDetermined: row.inputs_determined,
    firstLoggedBuildId: row.first_logged_build_id,
    scheduleRequested: row.schedule_requested,
    lastScheduled: row.last_scheduled,
  };
}

/** The active job `name` of a pipeline (`pipeline.Job`). */
export async function findJob(
  db: Kysely<Database>,
  pipelineId: number,
  name: string,
): Promise<JobRecord | undefined> {
  if (name.includes('\0')) return undefined;
  const row = await jobsQuery(db)
    .where('j.pipeline_id', '=', pipelineId)
    .where('j.name', '=', name)
    .executeTakeFirst();
  return row === undefined ? undefined : toRecord(row);
}

export async function findJobById(db: Kysely<Database>, id: number): Promise<JobRecord | undefined> {
  const row = await jobsQuery(db).where('j.id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : toRecord(row);
}

/** A pipeline's active jobs in config-creation order (`pipeline.Jobs`, ordered by id). */
export async function listJobs(db: Kysely<Database>, pipelineId: number): Promise<JobRecord[]> {
  const rows = await jobsQuery(db).where('j.pipeline_id', '=', pipelineId).orderBy('j.id').execute();
  return rows.map(toRecord);
}

/**
 * Active jobs of the teams in `teamNames` and of every public pipeline (`jobFactory.VisibleJobs`); all
 * active jobs when `teamNames` is undefined (admins).
 */
export async function listVisibleJobs(
  db: Kysely<Database>,
  teamNames: readonly string[] | undefined,
): Promise<JobRecord[]> {
  let query = jobsQuery(db);
  if (teamNames !== undefined) {
    const names = [...teamNames];
    query = query.where((eb) =>
      names.length === 0
        ? eb('p.public', '=', true)
        : eb.or([eb('t.name', 'in', names), eb('p.public', '=', true)]),
    );
  }
  const rows = await query.orderBy('j.id').execute();
  return rows.map(toRecord);
}

/** An input as configured: passed job names in job-id order (`job.Inputs`). */
export interface JobInputRecord {
  name: string;
  resource: string;
  resourceId: number;
  passed: string[];
  trigger: boolean;
  /** `"latest"`, `"every"`, a version map, or null. */
  version: Json | null;
}

/** Configured inputs per job, sorted by input name (as Concourse sorts them). */
export async function listJobInputs(
  db: Kysely<Database>,
  jobIds: readonly number[],
): Promise<Map<number, JobInputRecord[]>> {
  const result = new Map<number, JobInputRecord[]>();
  if (jobIds.length === 0) return result;
  const { rows } = await sql<{
    job_id: number;
    name: string;
    resource: string;
    resource_id: number;
    passed: string[] | null;
    trigger: boolean;
    version: Json | null;
  }>`
    select ji.job_id, ji.name, r.name as resource, r.id as resource_id,
      array_remove(array_agg(pj.name order by pj.id), null) as passed, ji.trigger, ji.version
    from job_inputs ji
    join resources r on r.id = ji.resource_id
    left join jobs pj on pj.id = ji.passed_job_id
    where ji.job_id in (${sql.join(jobIds.map((id) => sql`${id}`))})
    group by ji.job_id, ji.name, r.name, r.id, ji.trigger, ji.version
    order by ji.job_id, ji.name`.execute(db);
  for (const row of rows) {
    const list = result.get(row.job_id) ?? [];
    list.push({
      name: row.name,
      resource: row.resource,
      resourceId: row.resource_id,
      passed: row.passed ?? [],
      trigger: row.trigger,
      version: row.version,
    });
    result.set(row.job_id, list);
  }
  return result;
}

/** Configured outputs (put steps) per job, sorted by name. */
export async function listJobOutputs(
  db: Kysely<Database>,
  jobIds: readonly number[],
): Promise<Map<number, Array<{ name: string; resource: string; resourceId: number }>>> {
  const result = new Map<number, Array<{ name: string; resource: string; resourceId: number }>>();
  if (jobIds.length === 0) return result;
  const rows = await db
    .selectFrom('job_outputs as jo')
    .innerJoin('resources as r', 'r.id', 'jo.resource_id')
    .select(['jo.job_id', 'jo.name', 'r.name as resource', 'r.id as resource_id'])
    .where('jo.job_id', 'in', [...jobIds])
    .orderBy('jo.job_id')
    .orderBy('jo.name')
    .orderBy('jo.id')
    .execute();
  for (const row of rows) {
    const list = result.get(row.job_id) ?? [];
    list.push({ name: row.name, resource: row.resource, resourceId: row.resource_id });
    result.set(row.job_id, list);
  }
  return result;
}

/** Pause a job (the first pauser is kept). */
export async function pauseJob(db: Kysely<Database>, jobId: number, pausedBy: string): Promise<void> {
  await db
    .updateTable('jobs')
    .set({ paused: true, paused_by: pausedBy, paused_at: sql<Date>`now()` })
    .where('id', '=', jobId)
    .where('paused', '=', false)
    .execute();
}

/** Unpause a job and, if it was paused, request its scheduling. */
export async function unpauseJob(db: Kysely<Database>, jobId: number): Promise<void> {
  await db
    .updateTable('jobs')
    .set({ paused: false, paused_by: null, paused_at: null, schedule_requested: sql<Date>`now()` })
    .where('id', '=', jobId)
    .where('paused', '=', true)
    .execute();
}

/** Ask the scheduler to look at a job again (`job.RequestSchedule`). */
export async function requestScheduleForJob(db: Kysely<Database>, jobId: number): Promise<void> {
  await db
    .updateTable('jobs')
    .set({ schedule_requested: sql<Date>`now()` })
    .where('id', '=', jobId)
    .execute();
}

/**
 * Jobs whose scheduling was requested since they were last scheduled (`jobFactory.JobsToSchedule`), with
 * the request time to hand back to {@link markJobScheduled}.
 */
export async function listJobsToSchedule(db: Kysely<Database>): Promise<JobRecord[]> {
  const rows = await jobsQuery(db)
    .where(sql<boolean>`j.schedule_requested > j.last_scheduled`)
    .orderBy('j.id')
    .execute();
  return rows.map(toRecord);
}

/** Record that the scheduler handled the job's request made at `requestedAt` (`job.UpdateLastScheduled`). */
export async function markJobScheduled(
  db: Kysely<Database>,
  jobId: number,
  requestedAt: Date,
): Promise<void> {
  await db.updateTable('jobs').set({ last_scheduled: requestedAt }).where('id', '=', jobId).execute();
}

/**
 * Create a pending build of a job, named after the job's next build number (`job.CreateBuild` for a manual
 * trigger, `EnsurePendingBuildExists` for the scheduler, which passes `onlyIfNonePending` so at most one
 * scheduler-created pending build exists). Requests the job's scheduling. Undefined when the job is gone or
 * (with `onlyIfNonePending`) a pending build exists.
 */
export async function createJobBuild(
  db: Kysely<Database>,
  jobId: number,
  options: { createdBy: string | null; manuallyTriggered: boolean; onlyIfNonePending?: boolean },
): Promise<PipelineBuildRecord | undefined> {
  const id = await db.transaction().execute(async (tx) => {
    const job = await tx
      .selectFrom('jobs as j')
      .innerJoin('pipelines as p', 'p.id', 'j.pipeline_id')
      .select(['j.id', 'j.pipeline_id', 'p.team_id'])
      .where('j.id', '=', jobId)
      // The job row only: locking the pipeline row too deadlocks with an unpause (pipeline, then its jobs).
      .forUpdate('j')
      .executeTakeFirst();
    if (!job) return undefined;
    if (options.onlyIfNonePending) {
      const pending = await tx
        .selectFrom('builds')
        .select('id')
        .where('job_id', '=', jobId)
        .where('status', '=', 'pending')
        .executeTakeFirst();
      if (pending) return undefined;
    }
    const numbered = await tx
      .updateTable('jobs')
      .set({ next_build_number: sql<number>`next_build_number + 1`, schedule_requested: sql<Date>`now()` })
      .where('id', '=', jobId)
      .returning(sql<number>`next_build_number - 1`.as('number'))
      .executeTakeFirstOrThrow();
    const row = await tx
      .insertInto('builds')
      .values({
        name: String(numbered.number),
        team_id: job.team_id,
        pipeline_id: job.pipeline_id,
        job_id: jobId,
        status: 'pending',
        manually_triggered: options.manuallyTriggered,
        created_by: options.createdBy,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    return row.id;
  });
  return id === undefined ? undefined : findPipelineBuild(db, id);
}

/**
 * Create a rerun of `buildId` (`job.RerunBuild`): a pending build of the same job named `<original>.<n>`,
 * where a rerun of a rerun counts against the original (4 → 4.1, 4.2). The scheduler gives it the
 * original's inputs. Requests the job's scheduling. Undefined when the build is gone.
 */
export async function createRerunBuild(
  db: Kysely<Database>,
  buildId: number,
  createdBy: string | null,
): Promise<PipelineBuildRecord | undefined> {
  const id = await db.transaction().execute(async (tx) => {
    const target = await tx
      .selectFrom('builds')
      .select(['id', 'rerun_of', 'job_id'])
      .where('id', '=', buildId)
      .executeTakeFirst();
    if (!target || target.job_id === null) return undefined;
    const originalId = target.rerun_of ?? target.id;
    // Serialise reruns of one original so their numbers never collide.
    const original = await tx
      .selectFrom('builds')
      .select(['id', 'name', 'team_id', 'pipeline_id', 'job_id'])
      .where('id', '=', originalId)
      .forUpdate()
      .executeTakeFirst();
    if (!original) return undefined;
    const count = await tx
      .selectFrom('builds')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('rerun_of', '=', originalId)
      .executeTakeFirstOrThrow();
    const rerunNumber = Number(count.n) + 1;
    const row = await tx
      .insertInto('builds')
      .values({
        name: `${original.name}.${rerunNumber}`,
        team_id: original.team_id,
        pipeline_id: original.pipeline_id,
        job_id: original.job_id,
        status: 'pending',
        rerun_of: originalId,
        rerun_number: rerunNumber,
        created_by: createdBy,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    if (original.job_id !== null) await requestScheduleForJob(tx, original.job_id);
    return row.id;
  });
  return id === undefined ? undefined : findPipelineBuild(db, id);
}

/** A job's pending builds in start order (`job.GetPendingBuilds`): reruns right after their original. */
export async function listPendingJobBuilds(db: Kysely<Database>, jobId: number): Promise<number[]> {
  const rows = await db
    .selectFrom('builds')
    .select('id')
    .where('job_id', '=', jobId)
    .where('status', '=', 'pending')
    .orderBy(sql`coalesce(rerun_of, id)`)
    .orderBy('id')
    .execute();
  return rows.map((row) => row.id);
}

/** One input of the scheduler's mapping for a job's next build. */
export interface NextBuildInput {
  inputName: string;
  /** Set with `version` when resolved. */
  resourceId: number | null;
  version: VersionJson | null;
  versionSha256: string | null;
  firstOccurrence: boolean;
  /** Why no version could be chosen; null when resolved. */
  resolveError: string | null;
}

/**
 * Replace a job's next-build input mapping (`job.SaveNextInputMapping`); `inputsDetermined` = every input
 * resolved. Each resolved input names a version by its sha256 in the resource's current scope.
 */
export async function saveNextBuildInputs(
  db: Kysely<Database>,
  jobId: number,
  inputs: ReadonlyArray<Omit<NextBuildInput, 'version'>>,
  inputsDetermined: boolean,
): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx
      .updateTable('jobs')
      .set({ inputs_determined: inputsDetermined })
      .where('id', '=', jobId)
      .execute();
    await tx.deleteFrom('next_build_inputs').where('job_id', '=', jobId).execute();
    if (inputs.length === 0) return;
    await tx
      .insertInto('next_build_inputs')
      .values(
        inputs.map((input) => ({
          job_id: jobId,
          input_name: input.inputName,
          resource_id: input.resolveError === null ? input.resourceId : null,
          version_sha256: input.resolveError === null ? input.versionSha256 : null,
          first_occurrence: input.resolveError === null ? input.firstOccurrence : null,
          resolve_error: input.resolveError,
        })),
      )
      .execute();
  });
}

/**
 * The job's next-build inputs with their versions (`job.GetFullNextBuildInputs`); undefined until the
 * scheduler has determined them.
 */
export async function findNextBuildInputs(
  db: Kysely<Database>,
  jobId: number,
): Promise<NextBuildInput[] | undefined> {
  const job = await db
    .selectFrom('jobs')
    .select('inputs_determined')
    .where('id', '=', jobId)
    .executeTakeFirst();
  if (!job?.inputs_determined) return undefined;
  const rows = await db
    .selectFrom('next_build_inputs as i')
    .leftJoin('resources as r', 'r.id', 'i.resource_id')
    .leftJoin('resource_config_versions as v', (join) =>
      join
        .onRef('v.version_sha256', '=', 'i.version_sha256')
        .onRef('v.resource_config_scope_id', '=', 'r.resource_config_scope_id'),
    )
    .select([
      'i.input_name',
      'i.resource_id',
      'i.version_sha256',
      'i.first_occurrence',
      'i.resolve_error',
      'v.version',
    ])
    .where('i.job_id', '=', jobId)
    .orderBy('i.input_name')
    .execute();
  return rows.map((row) => ({
    inputName: row.input_name,
    resourceId: row.resource_id,
    version: row.version ?? null,
    versionSha256: row.version_sha256,
    firstOccurrence: row.first_occurrence === true,
    resolveError: row.resolve_error,
  }));
}
