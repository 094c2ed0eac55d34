// Builds seen from a pipeline: job builds, check builds and pipeline one-off builds, with the names the API
// shows next to them (job, pipeline, resource, rerun original). Creation of job builds is in ./jobs.ts, of
// check builds in ./resources.ts; this file reads them (atc/db/build.go `buildsQuery`, build_factory.go
// pagination, job.go `FinishedAndNextBuild`: the ids stored on the job row).
import { sql, type Kysely } from 'kysely';
import type { Database, Json } from '../schema.js';
import { InvalidPageError, type BuildPage, type BuildRecord } from './builds.js';

/** A build with the pipeline objects it belongs to, as `atc.Build` needs them. */
export interface PipelineBuildRecord extends BuildRecord {
  pipelineName: string | null;
  pipelineInstanceVars: Record<string, Json> | null;
  /** Whether the build's pipeline is public (false for one-off builds). */
  pipelinePublic: boolean;
  jobName: string | null;
  /** Whether the build's job is public (false when it has no job). */
  jobPublic: boolean;
  /** The checked resource (or resource type) of a check build. */
  resourceId: number | null;
  resourceTypeId: number | null;
  resourceName: string | null;
  /** Name of the build this one reruns. */
  rerunOfName: string | null;
  manuallyTriggered: boolean;
  inputsReady: boolean;
}

/** Unique names of the joined tables, so callers can filter on `b.*`, `j.*`, `p.*`. */
export type PipelineBuildsQuery = ReturnType<typeof pipelineBuildsQuery>;

export function pipelineBuildsQuery(db: Kysely<Database>) {
  return db
    .selectFrom('builds as b')
    .innerJoin('teams as t', 't.id', 'b.team_id')
    .leftJoin('pipelines as p', 'p.id', 'b.pipeline_id')
    .leftJoin('jobs as j', 'j.id', 'b.job_id')
    .leftJoin('resources as r', 'r.id', 'b.resource_id')
    .leftJoin('resource_types as rt', 'rt.id', 'b.resource_type_id')
    .leftJoin('builds as rb', 'rb.id', 'b.rerun_of')
    .select([
      'b.id',
      'b.name',
      'b.team_id',
      't.name as team_name',
      'b.status',
      'b.plan',
      'b.schema',
      'b.pipeline_id',
      'b.job_id',
      'b.resource_id',
      'b.resource_type_id',
      'b.created_by',
      'b.comment',
      'b.aborted',
      'b.rerun_of',
      'b.rerun_number',
      'b.tracked_by',
      'b.created_at',
      'b.start_time',
      'b.end_time',
      'b.reap_time',
      'b.manually_triggered',
      'b.inputs_ready',
      'p.name as pipeline_name',
      'p.instance_vars as pipeline_instance_vars',
      'p.public as pipeline_public',
      'j.name as job_name',
      'j.public as job_public',
      sql<string | null>`coalesce(r.name, rt.name)`.as('resource_name'),
      'rb.name as rerun_of_name',
    ]);
}

type PipelineBuildRow = Awaited<ReturnType<PipelineBuildsQuery['executeTakeFirstOrThrow']>>;

function toRecord(row: PipelineBuildRow): PipelineBuildRecord {
  return {
    id: row.id,
    name: row.name,
    teamId: row.team_id,
    teamName: row.team_name,
    status: row.status,
    plan: row.plan,
    schema: row.schema,
    pipelineId: row.pipeline_id,
    jobId: row.job_id,
    createdBy: row.created_by,
    comment: row.comment,
    aborted: row.aborted,
    rerunOf: row.rerun_of,
    rerunNumber: row.rerun_number,
    trackedBy: row.tracked_by,
    createdAt: row.created_at,
    startTime: row.start_time,
    endTime: row.end_time,
    reapTime: row.reap_time,
    pipelineName: row.pipeline_name,
    pipelineInstanceVars: row.pipeline_instance_vars,
    pipelinePublic: row.pipeline_public === true,
    jobName: row.job_name,
    jobPublic: row.job_public === true,
    resourceId: row.resource_id,
    resourceTypeId: row.resource_type_id,
    resourceName: row.resource_name,
    rerunOfName: row.rerun_of_name,
    manuallyTriggered: row.manually_triggered,
    inputsReady: row.inputs_ready,
  };
}

export async function findPipelineBuild(
  db: Kysely<Database>,
  id: number,
): Promise<PipelineBuildRecord | undefined> {
  const row = await pipelineBuildsQuery(db).where('b.id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : toRecord(row);
}

/** Several builds by id, in the order of `ids` (missing ones left out). */
export async function findPipelineBuilds(
  db: Kysely<Database>,
  ids: readonly number[],
): Promise<PipelineBuildRecord[]> {
  if (ids.length === 0) return [];
  const rows = await pipelineBuildsQuery(db)
    .where('b.id', 'in', [...ids])
    .execute();
  const byId = new Map(rows.map((row) => [row.id, toRecord(row)]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}

/** A job's build by name, or its newest build for `latest` (`job.Build`). */
export async function findJobBuild(
  db: Kysely<Database>,
  jobId: number,
  name: string,
): Promise<PipelineBuildRecord | undefined> {
  let query = pipelineBuildsQuery(db).where('b.job_id', '=', jobId);
  query = name === 'latest' ? query.orderBy('b.id', 'desc').limit(1) : query.where('b.name', '=', name);
  const row = await query.executeTakeFirst();
  return row === undefined ? undefined : toRecord(row);
}

export interface PipelineBuildsPage {
  /** Newest first. */
  builds: PipelineBuildRecord[];
  /** `to` of the next older page, when there is one. */
  olderTo?: number;
  /** `from` of the next newer page, when there is one. */
  newerFrom?: number;
}

type Scope = (query: PipelineBuildsQuery) => PipelineBuildsQuery;

/** The builds of a job, a page at a time (`job.Builds`, `job.BuildsWithTime`). */
export function listJobBuilds(
  db: Kysely<Database>,
  jobId: number,
  page: BuildPage,
): Promise<PipelineBuildsPage> {
  return pageBuilds(db, (q) => q.where('b.job_id', '=', jobId), page);
}

/** Every build of a pipeline (jobs, checks, one-offs), a page at a time (`pipeline.Builds`). */
export function listPipelineBuilds(
  db: Kysely<Database>,
  pipelineId: number,
  page: BuildPage,
): Promise<PipelineBuildsPage> {
  return pageBuilds(db, (q) => q.where('b.pipeline_id', '=', pipelineId), page);
}

/**
 * Concourse's build pagination (concourse-api.md §7.1): newest first by `COALESCE(rerun_of, id), id`, id
 * bounds (or start-time bounds with `timestamps`, which produce no neighbours), and the ids of the
 * neighbouring pages read in the same snapshot.
 */
async function pageBuilds(db: Kysely<Database>, scope: Scope, page: BuildPage): Promise<PipelineBuildsPage> {
  const desc = (q: PipelineBuildsQuery) =>
    q.orderBy(sql`coalesce(b.rerun_of, b.id)`, 'desc').orderBy('b.id', 'desc');
  const asc = (q: PipelineBuildsQuery) =>
    q.orderBy(sql`coalesce(b.rerun_of, b.id)`, 'asc').orderBy('b.id', 'asc');
  const run = async (q: PipelineBuildsQuery): Promise<PipelineBuildRecord[]> =>
    (await q.execute()).map(toRecord);

  if (page.timestamps) {
    let query = scope(pipelineBuildsQuery(db));
    if (page.from !== undefined)
      query = query.where(sql<boolean>`b.start_time >= to_timestamp(${page.from})`);
    if (page.to !== undefined) query = query.where(sql<boolean>`b.start_time <= to_timestamp(${page.to})`);
    return { builds: await run(desc(query).limit(page.limit)) };
  }

  const { from, to } = page;
  if (from !== undefined && to !== undefined && from > to) throw new InvalidPageError();
  return db.transaction().execute(async (trx) => {
    let query = scope(pipelineBuildsQuery(trx));
    if (from !== undefined) query = query.where('b.id', '>=', from);
    if (to !== undefined) query = query.where('b.id', '<=', to);
    const builds =
      from !== undefined && to === undefined
        ? (await run(asc(query).limit(page.limit))).reverse()
        : await run(desc(query).limit(page.limit));
    const newest = builds[0];
    const oldest = builds[builds.length - 1];
    if (newest === undefined || oldest === undefined) return { builds };
    const [older] = await run(desc(scope(pipelineBuildsQuery(trx)).where('b.id', '<', oldest.id)).limit(1));
    const [newer] = await run(asc(scope(pipelineBuildsQuery(trx)).where('b.id', '>', newest.id)).limit(1));
    return {
      builds,
      ...(older ? { olderTo: older.id } : {}),
      ...(newer ? { newerFrom: newer.id } : {}),
    };
  });
}

/** A job's latest finished build and the build it runs next (what fly's `jobs` and `watch -j` show). */
export interface FinishedAndNextBuild {
  finished: PipelineBuildRecord | null;
  next: PipelineBuildRecord | null;
}

/**
 * For each job: the finished build (the latest completed rerun of the latest completed non-rerun build, else
 * that build) and the next build (the oldest pending or started build that is not a rerun of an older
 * build), as Concourse keeps them in `jobs.latest_completed_build_id` / `next_build_id` — and as JetBridge
 * does since migration 0007, whose triggers on `builds` keep them.
 */
export async function findFinishedAndNextBuilds(
  db: Kysely<Database>,
  jobIds: readonly number[],
): Promise<Map<number, FinishedAndNextBuild>> {
  const result = new Map<number, FinishedAndNextBuild>();
  if (jobIds.length === 0) return result;
  const rows = (
    await db
      .selectFrom('jobs')
      .select(['id', 'latest_completed_build_id', 'next_build_id'])
      .where('id', 'in', [...jobIds])
      .execute()
  ).map((row) => ({
    job_id: row.id,
    finished_id: row.latest_completed_build_id,
    next_id: row.next_build_id,
  }));
  const buildIds = rows
    .flatMap((row) => [row.finished_id, row.next_id])
    .filter((id): id is number => id !== null);
  const builds = new Map((await findPipelineBuilds(db, [...new Set(buildIds)])).map((b) => [b.id, b]));
  for (const row of rows) {
    result.set(row.job_id, {
      finished: row.finished_id === null ? null : (builds.get(row.finished_id) ?? null),
      next: row.next_id === null ? null : (builds.get(row.next_id) ?? null),
    });
  }
  return result;
}
