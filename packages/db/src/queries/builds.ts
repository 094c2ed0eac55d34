// Builds: creating one-off builds, finishing them, and listing them newest first with Concourse's
// pagination (atc/db/build_factory.go `getBuildsWithPagination`).
import { sql, type Kysely } from 'kysely';
import type { BuildStatus, Database } from '../schema.js';

/** A build with its team's name, as the API presents it. */
export interface BuildRecord {
  id: number;
  name: string;
  teamId: number;
  teamName: string;
  status: BuildStatus;
  /** The private plan the engine runs (null until planned). */
  plan: Record<string, unknown> | null;
  schema: string;
  pipelineId: number | null;
  jobId: number | null;
  createdBy: string | null;
  comment: string | null;
  /** An abort was asked for; the node running the build stops it. */
  aborted: boolean;
  rerunOf: number | null;
  rerunNumber: number | null;
  trackedBy: string | null;
  createdAt: Date;
  startTime: Date | null;
  endTime: Date | null;
  reapTime: Date | null;
}

export const FINISHED_BUILD_STATUSES: readonly BuildStatus[] = ['succeeded', 'failed', 'errored', 'aborted'];

export function isFinishedStatus(status: BuildStatus): boolean {
  return FINISHED_BUILD_STATUSES.includes(status);
}

function buildsQuery(db: Kysely<Database>) {
  return db
    .selectFrom('builds as b')
    .innerJoin('teams as t', 't.id', 'b.team_id')
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
    ]);
}

type BuildsQuery = ReturnType<typeof buildsQuery>;
type BuildRow = Awaited<ReturnType<BuildsQuery['executeTakeFirstOrThrow']>>;

function toRecord(row: BuildRow): BuildRecord {
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
  };
}

export interface NewOneOffBuild {
  /** From {@link allocateBuildId}, so the tracker can take the build's lock before anyone sees it. */
  id: number;
  teamName: string;
  plan: Record<string, unknown>;
  /** Display user id of whoever created it (`created_by`). */
  createdBy: string | null;
  /** The web node that will run it. */
  trackedBy: string;
  /** A pipeline's one-off build (`fly execute -j`): it belongs to the pipeline, which must be of the team. */
  pipelineId?: number;
}

/**
 * Create a one-off build (`fly execute`), already started: its name is the next value of the global
 * `one_off_build_name` sequence, as in Concourse (`team.CreateStartedBuild`). Undefined when the team is gone.
 */
export async function createStartedOneOffBuild(
  db: Kysely<Database>,
  build: NewOneOffBuild,
): Promise<BuildRecord | undefined> {
  const inserted = await db
    .insertInto('builds')
    .columns([
      'id',
      'name',
      'team_id',
      'status',
      'plan',
      'created_by',
      'tracked_by',
      'start_time',
      'pipeline_id',
    ])
    .expression((eb) =>
      eb
        .selectFrom('teams')
        .select([
          sql<number>`${build.id}::integer`.as('id'),
          sql<string>`nextval('one_off_build_name')::text`.as('name'),
          'teams.id',
          sql<BuildStatus>`'started'`.as('status'),
          sql<string>`${JSON.stringify(build.plan)}::jsonb`.as('plan'),
          sql<string | null>`${build.createdBy}::text`.as('created_by'),
          sql<string>`${build.trackedBy}::text`.as('tracked_by'),
          sql<Date>`now()`.as('start_time'),
          sql<number | null>`${build.pipelineId ?? null}::integer`.as('pipeline_id'),
        ])
        .where('teams.name', '=', build.teamName)
        .$if(build.pipelineId !== undefined, (qb) =>
          qb.where(({ exists, selectFrom }) =>
            exists(
              selectFrom('pipelines')
                .select('pipelines.id')
                .where('pipelines.id', '=', build.pipelineId ?? 0)
                .whereRef('pipelines.team_id', '=', 'teams.id'),
            ),
          ),
        ),
    )
    .returning('id')
    .executeTakeFirst();
  if (inserted === undefined) return undefined;
  return findBuild(db, inserted.id);
}

/** Reserve the id of a build about to be created. */
export async function allocateBuildId(db: Kysely<Database>): Promise<number> {
  const { rows } = await sql<{ id: number }>`select nextval('builds_id_seq')::integer as id`.execute(db);
  const id = rows[0]?.id;
  if (id === undefined) throw new Error('builds_id_seq returned nothing');
  return id;
}

export async function findBuild(db: Kysely<Database>, id: number): Promise<BuildRecord | undefined> {
  const row = await buildsQuery(db).where('b.id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : toRecord(row);
}

/** What a check build checks (its resource or resource type); undefined for any other build. */
export async function findBuildCheckTarget(
  db: Kysely<Database>,
  id: number,
): Promise<{ resourceId: number } | { resourceTypeId: number } | undefined> {
  const row = await db
    .selectFrom('builds')
    .select(['resource_id', 'resource_type_id'])
    .where('id', '=', id)
    .executeTakeFirst();
  if (row?.resource_id != null) return { resourceId: row.resource_id };
  if (row?.resource_type_id != null) return { resourceTypeId: row.resource_type_id };
  return undefined;
}

/**
 * Finish a build that is still running: set its status and end time. False when it had already finished
 * (whoever finished it first wins; a build's status never changes after that).
 */
export async function finishBuild(db: Kysely<Database>, id: number, status: BuildStatus): Promise<boolean> {
  const result = await db
    .updateTable('builds')
    .set({ status, end_time: sql<Date>`now()` })
    .where('id', '=', id)
    .where('status', 'in', ['pending', 'started'])
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Status and end time of each of these builds that exists (garbage collection: is its owner still around). */
export async function listBuildLifetimes(
  db: Kysely<Database>,
  ids: readonly number[],
): Promise<Array<{ id: number; status: BuildStatus; endTime: Date | null }>> {
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom('builds')
    .select(['id', 'status', 'end_time'])
    .where('id', 'in', [...ids])
    .execute();
  return rows.map((row) => ({ id: row.id, status: row.status, endTime: row.end_time }));
}

/** Record that an abort was asked for (Concourse's `MarkAsAborted`); the tracking node acts on it. */
export async function markBuildAborted(db: Kysely<Database>, id: number): Promise<void> {
  await db.updateTable('builds').set({ aborted: true }).where('id', '=', id).execute();
}

export async function setBuildComment(db: Kysely<Database>, id: number, comment: string): Promise<void> {
  await db.updateTable('builds').set({ comment }).where('id', '=', id).execute();
}

/**
 * Started builds with the node that runs them (for restart recovery). Pending builds are left out: no node
 * runs them yet, they wait for the scheduler.
 */
export async function listStartedBuilds(
  db: Kysely<Database>,
): Promise<Array<{ id: number; trackedBy: string | null }>> {
  const rows = await db
    .selectFrom('builds')
    .select(['id', 'tracked_by'])
    .where('status', '=', 'started')
    .orderBy('id')
    .execute();
  return rows.map((row) => ({ id: row.id, trackedBy: row.tracked_by }));
}

/** Which of `ids` have an abort request (the tracker polls this for abort requests made on other nodes). */
export async function listAbortRequested(db: Kysely<Database>, ids: readonly number[]): Promise<number[]> {
  if (ids.length === 0) return [];
  const rows = await db
    .selectFrom('builds')
    .select('id')
    .where('id', 'in', [...ids])
    .where('aborted', '=', true)
    .execute();
  return rows.map((row) => row.id);
}

/** A page request as the API's `limit`/`from`/`to`/`timestamps` query (concourse-api.md §7.1). */
export interface BuildPage {
  limit: number;
  /** Inclusive lower bound: a build id, or Unix seconds of start time with `timestamps`. */
  from?: number;
  /** Inclusive upper bound: a build id, or Unix seconds of start time with `timestamps`. */
  to?: number;
  timestamps?: boolean;
}

export interface BuildsPage {
  /** Newest first. */
  builds: BuildRecord[];
  /** `to` of the next older page, when there is one. */
  olderTo?: number;
  /** `from` of the next newer page, when there is one. */
  newerFrom?: number;
}

export class InvalidPageError extends Error {
  constructor() {
    super('invalid range boundaries');
    this.name = 'InvalidPageError';
  }
}

/**
 * Builds newest first (a rerun sorts next to the build it reruns), restricted to `teamNames` unless it is
 * undefined (an admin sees all). Id bounds produce the ids of the neighbouring pages; time bounds do not.
 */
export async function listBuilds(
  db: Kysely<Database>,
  filter: { teamNames?: readonly string[] },
  page: BuildPage,
): Promise<BuildsPage> {
  if (filter.teamNames !== undefined && filter.teamNames.length === 0) return { builds: [] };
  const { teamNames } = filter;
  const scoped = (conn: Kysely<Database>): BuildsQuery =>
    teamNames === undefined ? buildsQuery(conn) : buildsQuery(conn).where('t.name', 'in', [...teamNames]);
  const desc = (q: BuildsQuery) => q.orderBy(sql`coalesce(b.rerun_of, b.id)`, 'desc').orderBy('b.id', 'desc');
  const asc = (q: BuildsQuery) => q.orderBy(sql`coalesce(b.rerun_of, b.id)`, 'asc').orderBy('b.id', 'asc');
  const run = async (q: BuildsQuery): Promise<BuildRecord[]> => (await q.execute()).map(toRecord);

  if (page.timestamps) {
    let query = scoped(db);
    if (page.from !== undefined)
      query = query.where(sql<boolean>`b.start_time >= to_timestamp(${page.from})`);
    if (page.to !== undefined) query = query.where(sql<boolean>`b.start_time <= to_timestamp(${page.to})`);
    return { builds: await run(desc(query).limit(page.limit)) };
  }

  const { from, to } = page;
  if (from !== undefined && to !== undefined && from > to) throw new InvalidPageError();

  // One snapshot for the page and its neighbours, so the links agree with the page.
  return db.transaction().execute(async (trx) => {
    let query = scoped(trx);
    if (from !== undefined) query = query.where('b.id', '>=', from);
    if (to !== undefined) query = query.where('b.id', '<=', to);
    // `from` alone asks for the builds closest to `from`, which are then presented newest first.
    const builds =
      from !== undefined && to === undefined
        ? (await run(asc(query).limit(page.limit))).reverse()
        : await run(desc(query).limit(page.limit));
    const newest = builds[0];
    const oldest = builds[builds.length - 1];
    if (newest === undefined || oldest === undefined) return { builds };

    const [older] = await run(desc(scoped(trx).where('b.id', '<', oldest.id)).limit(1));
    const [newer] = await run(asc(scoped(trx).where('b.id', '>', newest.id)).limit(1));
    return {
      builds,
      ...(older ? { olderTo: older.id } : {}),
      ...(newer ? { newerFrom: newer.id } : {}),
    };
  });
}
