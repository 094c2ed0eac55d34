// The scheduler's writes and the reads they depend on (Concourse's atc/db/job.go `SaveNextInputMapping`,
// `SetHasNewInputs`, `GetPendingBuilds`, `ScheduleBuild`, `UpdateLastScheduled`, and build.go
// `AdoptInputsAndPipes`, `AdoptRerunInputsAndPipes`, `ResourcesChecked`): the job's next-build input
// mapping with the upstream builds behind it, the max-in-flight gate, and a pending build taking its inputs.
import { sql, type Kysely } from 'kysely';
import type { Database, VersionJson } from '../schema.js';

/** A pending build of a job with what deciding about it needs. */
export interface PendingJobBuild {
  id: number;
  name: string;
  jobId: number;
  jobName: string;
  pipelineId: number;
  pipelineName: string;
  teamId: number;
  teamName: string;
  createdBy: string | null;
  createdAt: Date;
  manuallyTriggered: boolean;
  rerunOf: number | null;
  /** An abort was asked for before it started. */
  aborted: boolean;
  /** Already let through the max-in-flight gate (a previous start attempt did not get further). */
  scheduled: boolean;
}

function pendingBuildsQuery(db: Kysely<Database>) {
  return db
    .selectFrom('builds as b')
    .innerJoin('jobs as j', 'j.id', 'b.job_id')
    .innerJoin('pipelines as p', 'p.id', 'j.pipeline_id')
    .innerJoin('teams as t', 't.id', 'p.team_id')
    .select([
      'b.id',
      'b.name',
      'j.id as job_id',
      'j.name as job_name',
      'p.id as pipeline_id',
      'p.name as pipeline_name',
      't.id as team_id',
      't.name as team_name',
      'b.created_by',
      'b.created_at',
      'b.manually_triggered',
      'b.rerun_of',
      'b.aborted',
      'b.scheduled',
    ])
    .where('b.status', '=', 'pending');
}

type PendingRow = Awaited<ReturnType<ReturnType<typeof pendingBuildsQuery>['executeTakeFirstOrThrow']>>;

function toPendingBuild(row: PendingRow): PendingJobBuild {
  return {
    id: row.id,
    name: row.name,
    jobId: row.job_id,
    jobName: row.job_name,
    pipelineId: row.pipeline_id,
    pipelineName: row.pipeline_name,
    teamId: row.team_id,
    teamName: row.team_name,
    createdBy: row.created_by,
    createdAt: row.created_at,
    manuallyTriggered: row.manually_triggered,
    rerunOf: row.rerun_of,
    aborted: row.aborted,
    scheduled: row.scheduled,
  };
}

/** A job's pending builds in start order: oldest first, reruns right after their original (`GetPendingBuilds`). */
export async function listPendingBuildsToStart(
  db: Kysely<Database>,
  jobId: number,
): Promise<PendingJobBuild[]> {
  const rows = await pendingBuildsQuery(db)
    .where('b.job_id', '=', jobId)
    .orderBy(sql`coalesce(b.rerun_of, b.id)`)
    .orderBy('b.id')
    .execute();
  return rows.map(toPendingBuild);
}

/** Pending builds of archived pipelines: archiving aborts them (concourse-semantics.md §5.5). */
export async function listPendingBuildsOfArchivedPipelines(db: Kysely<Database>): Promise<PendingJobBuild[]> {
  const rows = await pendingBuildsQuery(db).where('p.archived', '=', true).orderBy('b.id').execute();
  return rows.map(toPendingBuild);
}

/**
 * The job's current schedule request, exactly as stored (text keeps PostgreSQL's microseconds, which a JS
 * Date would cut): hand it back to {@link markJobScheduledUpTo}. Undefined when the job is gone.
 */
export async function readScheduleRequest(db: Kysely<Database>, jobId: number): Promise<string | undefined> {
  const { rows } = await sql<{ requested: string }>`
    select schedule_requested::text as requested from jobs where id = ${jobId}`.execute(db);
  return rows[0]?.requested;
}

/** The scheduler handled every request up to `requested` (`UpdateLastScheduled`); later ones stay due. */
export async function markJobScheduledUpTo(
  db: Kysely<Database>,
  jobId: number,
  requested: string,
): Promise<void> {
  await sql`update jobs set last_scheduled = ${requested}::timestamptz where id = ${jobId}`.execute(db);
}

/** Ask the scheduler to look at these jobs again (`requestSchedule`). */
export async function requestScheduleForJobs(db: Kysely<Database>, jobIds: readonly number[]): Promise<void> {
  if (jobIds.length === 0) return;
  // Sorted ids: concurrent requests lock the rows in the same order and never deadlock.
  const ids = [...new Set(jobIds)].sort((a, b) => a - b);
  await sql`
    update jobs set schedule_requested = now()
    where id in (select id from jobs where id in (${sql.join(ids)}) order by id for update)`.execute(db);
}

/**
 * Jobs worth scheduling once a build of `jobId` finished: the jobs with it in a `passed` constraint
 * (`requestScheduleOnDownstreamJobs`), and the jobs sharing a serial group with it, itself included (a slot
 * freed up). Their schedule is requested; the ids are returned.
 */
export async function requestScheduleAfterBuildFinished(
  db: Kysely<Database>,
  jobId: number,
): Promise<number[]> {
  const { rows } = await sql<{ id: number }>`
    select distinct ji.job_id as id from job_inputs ji where ji.passed_job_id = ${jobId}
    union
    select ${jobId}::integer
    union
    select peer.job_id from job_serial_groups own
    join job_serial_groups peer on peer.serial_group = own.serial_group
    join jobs pj on pj.id = peer.job_id
    join jobs oj on oj.id = own.job_id and oj.pipeline_id = pj.pipeline_id
    where own.job_id = ${jobId}`.execute(db);
  const ids = rows.map((row) => row.id);
  await requestScheduleForJobs(db, ids);
  return ids;
}

/** One input of the next-build mapping the algorithm computed (`db.InputResult`). */
export interface NextInputMappingEntry {
  inputName: string;
  resourceId: number;
  /** Null when the input could not be resolved (then `resolveError` says why). */
  versionSha256: string | null;
  firstOccurrence: boolean;
  resolveError: string | null;
  /** Upstream builds whose outputs satisfied this input's `passed` constraints. */
  passedBuildIds: readonly number[];
}

/**
 * Replace the job's next-build input mapping and the upstream builds behind it (`SaveNextInputMapping`),
 * with `inputs_determined` = every input resolved.
 */
export async function saveNextInputMapping(
  db: Kysely<Database>,
  jobId: number,
  entries: readonly NextInputMappingEntry[],
  inputsDetermined: boolean,
): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx
      .updateTable('jobs')
      .set({ inputs_determined: inputsDetermined })
      .where('id', '=', jobId)
      .execute();
    await tx.deleteFrom('next_build_inputs').where('job_id', '=', jobId).execute();
    await tx.deleteFrom('next_build_pipes').where('to_job_id', '=', jobId).execute();
    if (entries.length === 0) return;
    await tx
      .insertInto('next_build_inputs')
      .values(
        entries.map((entry) => {
          const resolved = entry.resolveError === null && entry.versionSha256 !== null;
          return {
            job_id: jobId,
            input_name: entry.inputName,
            resource_id: resolved ? entry.resourceId : null,
            version_sha256: resolved ? entry.versionSha256 : null,
            first_occurrence: resolved ? entry.firstOccurrence : null,
            resolve_error: resolved ? null : (entry.resolveError ?? 'version of resource not found'),
          };
        }),
      )
      .execute();
    const pipes = [...new Set(entries.flatMap((entry) => entry.passedBuildIds))];
    if (pipes.length > 0) {
      await tx
        .insertInto('next_build_pipes')
        .values(pipes.map((buildId) => ({ to_job_id: jobId, from_build_id: buildId })))
        .onConflict((oc) => oc.doNothing())
        .execute();
    }
  });
}

/** Set the job's `has_new_inputs` (a UI hint), writing only when it changes. */
export async function setJobHasNewInputs(
  db: Kysely<Database>,
  jobId: number,
  hasNewInputs: boolean,
): Promise<void> {
  await db
    .updateTable('jobs')
    .set({ has_new_inputs: hasNewInputs })
    .where('id', '=', jobId)
    .where('has_new_inputs', '!=', hasNewInputs)
    .execute();
}

/** Why {@link scheduleJobBuild} let a build through or not. */
export type ScheduleBuildResult = 'scheduled' | 'paused' | 'max-in-flight' | 'gone';

/**
 * The max-in-flight gate (`job.ScheduleBuild`): refused while the job or its pipeline is paused; with a limit,
 * refused while the started (or already let through) builds of every job sharing a serial group with this one
 * reach it, or while an older pending build of those jobs waits. A build let through is marked `scheduled`
 * and counts as running from then on. Running count and oldest waiting build are read in one statement, one
 * snapshot, so two nodes deciding for two jobs of one serial group at once never both let theirs through.
 * Records the outcome as the job's `max_in_flight_reached`.
 */
export async function scheduleJobBuild(db: Kysely<Database>, buildId: number): Promise<ScheduleBuildResult> {
  return db.transaction().execute(async (tx) => {
    // The build row first, then the job's: finishing a build locks them in that order (the build, then its
    // job row in the trigger keeping the job's next build id, migration 0007), so a pending build aborted while
    // it is being scheduled waits here instead of deadlocking on the job row this updates below.
    const { rows } = await sql<{
      job_id: number;
      status: string;
      scheduled: boolean;
      job_paused: boolean;
      pipeline_paused: boolean;
      max_in_flight: number;
    }>`
      select b.job_id, b.status, b.scheduled, j.paused as job_paused, p.paused as pipeline_paused,
        j.max_in_flight
      from builds b join jobs j on j.id = b.job_id join pipelines p on p.id = j.pipeline_id
      where b.id = ${buildId}
      for no key update of b`.execute(tx);
    const build = rows[0];
    if (!build || build.status !== 'pending') return 'gone';
    if (build.scheduled) return 'scheduled';
    if (build.job_paused || build.pipeline_paused) return 'paused';

    let reached = false;
    if (build.max_in_flight > 0) {
      const { rows: gate } = await sql<{ running: number; next_pending: number | null }>`
        with group_jobs as (
          select distinct peer.job_id
          from job_serial_groups own
          join job_serial_groups peer on peer.serial_group = own.serial_group
          join jobs pj on pj.id = peer.job_id
          join jobs oj on oj.id = own.job_id and oj.pipeline_id = pj.pipeline_id
          where own.job_id = ${build.job_id}
          union select ${build.job_id}::integer
        )
        select
          (select count(*) from builds r
            where r.job_id in (select job_id from group_jobs)
              and (r.status = 'started' or (r.status = 'pending' and r.scheduled)))::integer as running,
          (select w.id from builds w join jobs wj on wj.id = w.job_id
            where w.job_id in (select job_id from group_jobs) and w.status = 'pending' and not w.scheduled
              and not wj.paused and (wj.inputs_determined or wj.id = ${build.job_id})
            order by coalesce(w.rerun_of, w.id), w.id limit 1) as next_pending`.execute(tx);
      const { running, next_pending: nextPending } = gate[0] ?? { running: 0, next_pending: null };
      reached = running >= build.max_in_flight || nextPending !== buildId;
    }
    await tx
      .updateTable('jobs')
      .set({ max_in_flight_reached: reached })
      .where('id', '=', build.job_id)
      .execute();
    if (reached) return 'max-in-flight';
    await tx.updateTable('builds').set({ scheduled: true }).where('id', '=', buildId).execute();
    return 'scheduled';
  });
}

/** An input version a build took, with the version itself. */
export interface AdoptedBuildInput {
  name: string;
  resourceId: number;
  resourceName: string;
  versionSha256: string;
  version: VersionJson;
  firstOccurrence: boolean;
}

/**
 * A scheduler-created or manually triggered build takes the job's current next-build inputs
 * (`AdoptInputsAndPipes`): they become its recorded inputs and upstream builds, and it becomes rerunnable.
 * Undefined when the job's inputs are not determined, or a chosen version left the resource's scope since
 * (that input then records why).
 */
export async function adoptNextBuildInputs(
  db: Kysely<Database>,
  buildId: number,
  jobId: number,
): Promise<AdoptedBuildInput[] | undefined> {
  const result = await db.transaction().execute(async (tx) => {
    const job = await tx
      .selectFrom('jobs')
      .select('inputs_determined')
      .where('id', '=', jobId)
      .executeTakeFirst();
    if (!job?.inputs_determined) return { missing: undefined, inputs: undefined };
    const rows = await tx
      .selectFrom('next_build_inputs as n')
      .leftJoin('resources as r', 'r.id', 'n.resource_id')
      .leftJoin('resource_config_versions as v', (join) =>
        join
          .onRef('v.resource_config_scope_id', '=', 'r.resource_config_scope_id')
          .onRef('v.version_sha256', '=', 'n.version_sha256'),
      )
      .select([
        'n.input_name',
        'n.resource_id',
        'r.name as resource_name',
        'n.version_sha256',
        'n.first_occurrence',
        'n.resolve_error',
        'v.version',
      ])
      .where('n.job_id', '=', jobId)
      .orderBy('n.input_name')
      .execute();
    const inputs: AdoptedBuildInput[] = [];
    for (const row of rows) {
      if (row.resolve_error !== null) return { missing: undefined, inputs: undefined };
      if (row.resource_id === null || row.version_sha256 === null || !row.version || !row.resource_name) {
        return { missing: row.input_name, inputs: undefined };
      }
      inputs.push({
        name: row.input_name,
        resourceId: row.resource_id,
        resourceName: row.resource_name,
        versionSha256: row.version_sha256,
        version: row.version,
        firstOccurrence: row.first_occurrence === true,
      });
    }
    await recordBuildInputs(tx, buildId, inputs);
    await tx.deleteFrom('build_pipes').where('to_build_id', '=', buildId).execute();
    await sql`
      insert into build_pipes (from_build_id, to_build_id)
      select from_build_id, ${buildId} from next_build_pipes where to_job_id = ${jobId}
      on conflict do nothing`.execute(tx);
    await tx.updateTable('builds').set({ inputs_ready: true }).where('id', '=', buildId).execute();
    return { missing: undefined, inputs };
  });
  if (result.missing !== undefined) {
    await db
      .updateTable('next_build_inputs')
      .set({ resolve_error: `chosen version of input ${result.missing} not available` })
      .where('job_id', '=', jobId)
      .where('input_name', '=', result.missing)
      .execute();
  }
  return result.inputs;
}

/**
 * A rerun takes its original's exact inputs and upstream builds (`AdoptRerunInputsAndPipes`), none a first
 * occurrence. Undefined when the original's inputs were never recorded or a version left its resource's scope.
 */
export async function adoptRerunBuildInputs(
  db: Kysely<Database>,
  buildId: number,
  originalId: number,
): Promise<AdoptedBuildInput[] | undefined> {
  return db.transaction().execute(async (tx) => {
    const original = await tx
      .selectFrom('builds')
      .select('inputs_ready')
      .where('id', '=', originalId)
      .executeTakeFirst();
    if (!original?.inputs_ready) return undefined;
    const rows = await tx
      .selectFrom('build_resource_config_version_inputs as i')
      .innerJoin('resources as r', 'r.id', 'i.resource_id')
      .leftJoin('resource_config_versions as v', (join) =>
        join
          .onRef('v.resource_config_scope_id', '=', 'r.resource_config_scope_id')
          .onRef('v.version_sha256', '=', 'i.version_sha256'),
      )
      .select(['i.name', 'i.resource_id', 'r.name as resource_name', 'i.version_sha256', 'v.version'])
      .where('i.build_id', '=', originalId)
      .orderBy('i.name')
      .execute();
    const inputs: AdoptedBuildInput[] = [];
    for (const row of rows) {
      if (!row.version) return undefined;
      inputs.push({
        name: row.name,
        resourceId: row.resource_id,
        resourceName: row.resource_name,
        versionSha256: row.version_sha256,
        version: row.version,
        firstOccurrence: false,
      });
    }
    await recordBuildInputs(tx, buildId, inputs);
    await tx.deleteFrom('build_pipes').where('to_build_id', '=', buildId).execute();
    await sql`
      insert into build_pipes (from_build_id, to_build_id)
      select from_build_id, ${buildId} from build_pipes where to_build_id = ${originalId}
      on conflict do nothing`.execute(tx);
    await tx.updateTable('builds').set({ inputs_ready: true }).where('id', '=', buildId).execute();
    return inputs;
  });
}

async function recordBuildInputs(
  tx: Kysely<Database>,
  buildId: number,
  inputs: readonly AdoptedBuildInput[],
): Promise<void> {
  await tx.deleteFrom('build_resource_config_version_inputs').where('build_id', '=', buildId).execute();
  if (inputs.length === 0) return;
  await tx
    .insertInto('build_resource_config_version_inputs')
    .values(
      inputs.map((input) => ({
        build_id: buildId,
        resource_id: input.resourceId,
        version_sha256: input.versionSha256,
        name: input.name,
        first_occurrence: input.firstOccurrence,
      })),
    )
    .onConflict((oc) =>
      oc
        .columns(['build_id', 'resource_id', 'version_sha256', 'name'])
        .doUpdateSet({ first_occurrence: (eb) => eb.ref('excluded.first_occurrence') }),
    )
    .execute();
}

/**
 * Inputs a pending build waits to see checked before it takes its versions (`ResourcesChecked`,
 * `NonTriggeringResourcesChecked`): for a manual trigger, every unpinned input without `passed` whose last
 * check ended before the build was created (or that was never checked); for a scheduler build, the
 * non-trigger ones among them whose next periodic check was due before the build was created. Resource ids.
 */
export async function listInputResourcesAwaitingCheck(
  db: Kysely<Database>,
  build: { jobId: number; createdAt: Date; manuallyTriggered: boolean },
): Promise<number[]> {
  const stale = build.manuallyTriggered
    ? sql<boolean>`(s.id is null or s.last_check_end_time is null or s.last_check_end_time < ${build.createdAt})`
    : sql<boolean>`(not ji.trigger and s.next_check_time < ${build.createdAt})`;
  const { rows } = await sql<{ id: number }>`
    select distinct r.id from job_inputs ji
    join resources r on r.id = ji.resource_id
    left join resource_config_scopes s on s.id = r.resource_config_scope_id
    where ji.job_id = ${build.jobId} and ji.passed_job_id is null and r.pinned_version is null and ${stale}
    order by r.id`.execute(db);
  return rows.map((row) => row.id);
}
