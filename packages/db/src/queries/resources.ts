// Resources and resource types of pipelines (Concourse's atc/db/resource.go, resource_type.go,
// resource_factory.go): lookups, pins, check builds, and pointing a resource at its config scope.
import { sql, type Kysely } from 'kysely';
import type { Database, Json, VersionJson } from '../schema.js';
import { findPipelineBuild, type PipelineBuildRecord } from './pipeline-builds.js';

/** An active resource with its pipeline, team, and the state of its last check. */
export interface ResourceRecord {
  id: number;
  name: string;
  pipelineId: number;
  pipelineName: string;
  pipelineInstanceVars: Record<string, Json> | null;
  pipelinePaused: boolean;
  pipelinePublic: boolean;
  teamId: number;
  teamName: string;
  type: string;
  /** Go's encoding of the resource config (`source`, `icon`, `check_every`…); null when archived. */
  config: Record<string, Json> | null;
  public: boolean;
  checkEvery: string | null;
  webhookToken: string | null;
  resourceConfigId: number | null;
  resourceConfigScopeId: number | null;
  pinnedVersion: VersionJson | null;
  pinnedInConfig: boolean;
  pinComment: string;
  lastCheckBuildId: number | null;
  checkError: string | null;
  /** From the resource's scope: when its last check started and ended, and whether it succeeded. */
  lastCheckStartTime: Date | null;
  lastCheckEndTime: Date | null;
  lastCheckSucceeded: boolean | null;
  nextCheckTime: Date | null;
}

function resourcesQuery(db: Kysely<Database>) {
  return db
    .selectFrom('resources as r')
    .innerJoin('pipelines as p', 'p.id', 'r.pipeline_id')
    .innerJoin('teams as t', 't.id', 'p.team_id')
    .leftJoin('resource_config_scopes as s', 's.id', 'r.resource_config_scope_id')
    .select([
      'r.id',
      'r.name',
      'r.pipeline_id',
      'p.name as pipeline_name',
      'p.instance_vars as pipeline_instance_vars',
      'p.paused as pipeline_paused',
      'p.public as pipeline_public',
      'p.team_id',
      't.name as team_name',
      'r.type',
      'r.config',
      'r.public',
      'r.check_every',
      'r.webhook_token',
      'r.resource_config_id',
      'r.resource_config_scope_id',
      'r.pinned_version',
      'r.pinned_in_config',
      'r.pin_comment',
      'r.last_check_build_id',
      'r.check_error',
      's.last_check_start_time',
      's.last_check_end_time',
      's.last_check_succeeded',
      's.next_check_time',
    ])
    .where('r.active', '=', true);
}

type ResourcesQuery = ReturnType<typeof resourcesQuery>;
type ResourceRow = Awaited<ReturnType<ResourcesQuery['executeTakeFirstOrThrow']>>;

function toRecord(row: ResourceRow): ResourceRecord {
  return {
    id: row.id,
    name: row.name,
    pipelineId: row.pipeline_id,
    pipelineName: row.pipeline_name,
    pipelineInstanceVars: row.pipeline_instance_vars,
    pipelinePaused: row.pipeline_paused,
    pipelinePublic: row.pipeline_public,
    teamId: row.team_id,
    teamName: row.team_name,
    type: row.type,
    config: row.config,
    public: row.public,
    checkEvery: row.check_every,
    webhookToken: row.webhook_token,
    resourceConfigId: row.resource_config_id,
    resourceConfigScopeId: row.resource_config_scope_id,
    pinnedVersion: row.pinned_version,
    pinnedInConfig: row.pinned_in_config,
    pinComment: row.pin_comment,
    lastCheckBuildId: row.last_check_build_id,
    checkError: row.check_error,
    lastCheckStartTime: row.last_check_start_time ?? null,
    lastCheckEndTime: row.last_check_end_time ?? null,
    lastCheckSucceeded: row.last_check_succeeded ?? null,
    nextCheckTime: row.next_check_time ?? null,
  };
}

/** The active resource `name` of a pipeline (`pipeline.Resource`). */
export async function findResource(
  db: Kysely<Database>,
  pipelineId: number,
  name: string,
): Promise<ResourceRecord | undefined> {
  if (name.includes('\0')) return undefined;
  const row = await resourcesQuery(db)
    .where('r.pipeline_id', '=', pipelineId)
    .where('r.name', '=', name)
    .executeTakeFirst();
  return row === undefined ? undefined : toRecord(row);
}

export async function findResourceById(
  db: Kysely<Database>,
  id: number,
): Promise<ResourceRecord | undefined> {
  const row = await resourcesQuery(db).where('r.id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : toRecord(row);
}

/** A pipeline's active resources, by id. */
export async function listResources(db: Kysely<Database>, pipelineId: number): Promise<ResourceRecord[]> {
  const rows = await resourcesQuery(db).where('r.pipeline_id', '=', pipelineId).orderBy('r.id').execute();
  return rows.map(toRecord);
}

/**
 * Active resources of `teamNames`' pipelines and of public pipelines (`resourceFactory.VisibleResources`);
 * all when `teamNames` is undefined (admins).
 */
export async function listVisibleResources(
  db: Kysely<Database>,
  teamNames: readonly string[] | undefined,
): Promise<ResourceRecord[]> {
  let query = resourcesQuery(db);
  if (teamNames !== undefined) {
    const names = [...teamNames];
    query = query.where((eb) =>
      names.length === 0
        ? eb('p.public', '=', true)
        : eb.or([eb('t.name', 'in', names), eb('p.public', '=', true)]),
    );
  }
  const rows = await query.orderBy('r.id').execute();
  return rows.map(toRecord);
}

/** An active resource type of a pipeline. */
export interface ResourceTypeRecord {
  id: number;
  name: string;
  pipelineId: number;
  type: string;
  /** Go's encoding of `atc.ResourceType` (source, defaults, privileged, check_every, tags, params). */
  config: Record<string, Json> | null;
  resourceConfigId: number | null;
  resourceConfigScopeId: number | null;
  lastCheckBuildId: number | null;
  checkError: string | null;
}

/** A pipeline's active resource types, by id. */
export async function listResourceTypes(
  db: Kysely<Database>,
  pipelineId: number,
): Promise<ResourceTypeRecord[]> {
  const rows = await db
    .selectFrom('resource_types')
    .selectAll()
    .where('pipeline_id', '=', pipelineId)
    .where('active', '=', true)
    .orderBy('id')
    .execute();
  return rows.map((row) => ({
    id: row.id,
    name: row.name,
    pipelineId: row.pipeline_id,
    type: row.type,
    config: row.config,
    resourceConfigId: row.resource_config_id,
    resourceConfigScopeId: row.resource_config_scope_id,
    lastCheckBuildId: row.last_check_build_id,
    checkError: row.check_error,
  }));
}

export type PinResult = 'pinned' | 'version-not-found' | 'pinned-in-config';

/**
 * Pin a resource to one of its versions (`resource.PinVersion`): the version must belong to the resource's
 * current scope. A pin from the config cannot be overridden. Requests scheduling of the jobs using it.
 */
export async function pinResourceVersion(
  db: Kysely<Database>,
  resourceId: number,
  versionId: number,
): Promise<PinResult> {
  return db.transaction().execute(async (tx) => {
    const resource = await tx
      .selectFrom('resources')
      .select(['pinned_in_config', 'resource_config_scope_id'])
      .where('id', '=', resourceId)
      .forUpdate()
      .executeTakeFirst();
    if (!resource) return 'version-not-found';
    if (resource.pinned_in_config) return 'pinned-in-config';
    if (resource.resource_config_scope_id === null) return 'version-not-found';
    const version = await tx
      .selectFrom('resource_config_versions')
      .select('version')
      .where('id', '=', versionId)
      .where('resource_config_scope_id', '=', resource.resource_config_scope_id)
      .executeTakeFirst();
    if (!version) return 'version-not-found';
    await tx
      .updateTable('resources')
      .set({ pinned_version: JSON.stringify(version.version), pinned_in_config: false })
      .where('id', '=', resourceId)
      .execute();
    await requestScheduleForJobsUsingResource(tx, resourceId);
    return 'pinned';
  });
}

/**
 * Remove the pin, whether from the API or the config (until the next save), with its comment
 * (`resource.UnpinVersion`). False when nothing was pinned.
 */
export async function unpinResource(db: Kysely<Database>, resourceId: number): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    const result = await tx
      .updateTable('resources')
      .set({ pinned_version: null, pinned_in_config: false, pin_comment: '' })
      .where('id', '=', resourceId)
      .where('pinned_version', 'is not', null)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) return false;
    await requestScheduleForJobsUsingResource(tx, resourceId);
    return true;
  });
}

/** Set the pin's comment; without a pin there is nothing to comment and nothing changes. */
export async function setPinComment(
  db: Kysely<Database>,
  resourceId: number,
  comment: string,
): Promise<void> {
  await db
    .updateTable('resources')
    .set({ pin_comment: comment })
    .where('id', '=', resourceId)
    .where('pinned_version', 'is not', null)
    .execute();
}

/** Ask the scheduler to look at every job with the resource as an input (`requestScheduleForJobsUsingResource`). */
export async function requestScheduleForJobsUsingResource(
  db: Kysely<Database>,
  resourceId: number,
): Promise<void> {
  // Rows locked in id order, so concurrent updates of overlapping jobs never deadlock (as in Concourse).
  await db
    .updateTable('jobs')
    .set({ schedule_requested: sql<Date>`now()` })
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('jobs as j')
        .select('j.id')
        .where('j.id', 'in', (inner) =>
          inner.selectFrom('job_inputs').select('job_id').where('resource_id', '=', resourceId),
        )
        .orderBy('j.id')
        .forUpdate(),
    )
    .execute();
}

/**
 * Create a check build of a resource (`resource.CreateBuild`): named `check`, pending, no plan yet. The
 * checker plans and runs it, then records it as the resource's last check.
 */
export async function createResourceCheckBuild(
  db: Kysely<Database>,
  resourceId: number,
  options: { createdBy: string | null; manuallyTriggered: boolean },
): Promise<PipelineBuildRecord | undefined> {
  const id = await db.transaction().execute(async (tx) => {
    const resource = await tx
      .selectFrom('resources as r')
      .innerJoin('pipelines as p', 'p.id', 'r.pipeline_id')
      .select(['r.id', 'r.pipeline_id', 'p.team_id'])
      .where('r.id', '=', resourceId)
      .executeTakeFirst();
    if (!resource) return undefined;
    const row = await tx
      .insertInto('builds')
      .values({
        name: 'check',
        team_id: resource.team_id,
        pipeline_id: resource.pipeline_id,
        resource_id: resource.id,
        status: 'pending',
        manually_triggered: options.manuallyTriggered,
        created_by: options.createdBy,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await tx
      .updateTable('resources')
      .set({ last_check_build_id: row.id })
      .where('id', '=', resource.id)
      .execute();
    return row.id;
  });
  return id === undefined ? undefined : findPipelineBuild(db, id);
}

/** Point a resource at the config and scope its current source resolved to (the checker does this). */
export async function setResourceConfigScope(
  db: Kysely<Database>,
  resourceId: number,
  resourceConfigId: number,
  scopeId: number,
): Promise<void> {
  await db
    .updateTable('resources')
    .set({ resource_config_id: resourceConfigId, resource_config_scope_id: scopeId })
    .where('id', '=', resourceId)
    .execute();
}

/** Record why a check could not run (null to clear). */
export async function setResourceCheckError(
  db: Kysely<Database>,
  resourceId: number,
  error: string | null,
): Promise<void> {
  await db.updateTable('resources').set({ check_error: error }).where('id', '=', resourceId).execute();
}
