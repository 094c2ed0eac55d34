// Pipelines (Concourse's atc/db/pipeline.go, pipeline_factory.go and the pipeline half of team.go): lookups,
// saving a config with everything it declares, pause/archive/expose, ordering, renaming, destroying.
import { sql, type ExpressionBuilder, type Kysely, type Transaction } from 'kysely';
import type { Database, Json, VersionJson } from '../schema.js';
import { markPrepared } from '../prepared-statements.js';
import { refreshJobSummaryInputsAndOutputs } from './job-summary-io.js';

/** A pipeline with its team's name, as the API presents it. */
export interface PipelineRecord {
  id: number;
  name: string;
  teamId: number;
  teamName: string;
  instanceVars: Record<string, Json> | null;
  /** The stored config as `GET P/config` answers it; null once archived. */
  config: Record<string, Json> | null;
  configVersion: number;
  groups: Json[] | null;
  display: Record<string, Json> | null;
  userData: Json | null;
  paused: boolean;
  pausedBy: string | null;
  pausedAt: Date | null;
  public: boolean;
  archived: boolean;
  ordering: number;
  secondaryOrdering: number;
  parentJobId: number | null;
  parentBuildId: number | null;
  lastUpdated: Date;
}

const pipelineColumnsWithoutConfig = [
  'p.id',
  'p.name',
  'p.team_id',
  't.name as team_name',
  'p.instance_vars',
  'p.version',
  'p.groups',
  'p.display',
  'p.user_data',
  'p.paused',
  'p.paused_by',
  'p.paused_at',
  'p.public',
  'p.archived',
  'p.ordering',
  'p.secondary_ordering',
  'p.parent_job_id',
  'p.parent_build_id',
  'p.last_updated',
] as const;

function pipelinesQuery(db: Kysely<Database>) {
  return db
    .selectFrom('pipelines as p')
    .innerJoin('teams as t', 't.id', 'p.team_id')
    .select([...pipelineColumnsWithoutConfig, 'p.config']);
}

type PipelinesQuery = ReturnType<typeof pipelinesQuery>;
type PipelineRow = Awaited<ReturnType<PipelinesQuery['executeTakeFirstOrThrow']>>;

function toRecord(row: PipelineRow): PipelineRecord {
  return { ...toRecordWithoutConfig(row), config: row.config };
}

function toRecordWithoutConfig(row: Omit<PipelineRow, 'config'>): PipelineWithoutConfig {
  return {
    id: row.id,
    name: row.name,
    teamId: row.team_id,
    teamName: row.team_name,
    instanceVars: row.instance_vars,
    configVersion: Number(row.version),
    groups: row.groups,
    display: row.display,
    userData: row.user_data,
    paused: row.paused,
    pausedBy: row.paused_by,
    pausedAt: row.paused_at,
    public: row.public,
    archived: row.archived,
    ordering: row.ordering,
    secondaryOrdering: row.secondary_ordering,
    parentJobId: row.parent_job_id,
    parentBuildId: row.parent_build_id,
    lastUpdated: row.last_updated,
  };
}

/** `instance_vars` compared as Concourse does (jsonb equality; absent = SQL null). */
function sameInstanceVars(instanceVars: Record<string, Json> | null | undefined) {
  return sql<boolean>`coalesce(p.instance_vars, 'null'::jsonb) = coalesce(${jsonText(instanceVars ?? null)}::jsonb, 'null'::jsonb)`;
}

function jsonText(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

/** The pipeline `(team, name, instance vars)` (`team.Pipeline`); instance vars undefined = a plain pipeline. */
export async function findPipeline(
  db: Kysely<Database>,
  teamId: number,
  name: string,
  instanceVars?: Record<string, Json> | null,
): Promise<PipelineRecord | undefined> {
  if (name.includes('\0')) return undefined;
  const row = await pipelinesQuery(db)
    .where('p.team_id', '=', teamId)
    .where('p.name', '=', name)
    .where(sameInstanceVars(instanceVars))
    .executeTakeFirst();
  return row === undefined ? undefined : toRecord(row);
}

/** A pipeline without its stored config: what access checks and most pipeline-scoped routes need. */
export type PipelineWithoutConfig = Omit<PipelineRecord, 'config'>;

/**
 * The pipeline `(name, instance vars)` of the team named `teamName` (any letter case, as Concourse's
 * FindTeam), in one query: routes naming both need one round trip, not a team lookup and then this. Every
 * pipeline-scoped request runs it (the access check), so it leaves out the config — the JSON of every job and
 * resource, which most such routes never show; `findPipelineConfig` reads it where it is wanted.
 */
export async function findPipelineByTeamName(
  db: Kysely<Database>,
  teamName: string,
  name: string,
  instanceVars?: Record<string, Json> | null,
): Promise<PipelineWithoutConfig | undefined> {
  // PostgreSQL text cannot hold NUL: no team or pipeline has such a name (and asking would be an error).
  if (teamName.includes('\0') || name.includes('\0')) return undefined;
  const query = db
    .selectFrom('pipelines as p')
    .innerJoin('teams as t', 't.id', 'p.team_id')
    .select(pipelineColumnsWithoutConfig)
    .where(sql<string>`lower(t.name)`, '=', teamName.toLowerCase())
    .where('p.name', '=', name)
    .where(sameInstanceVars(instanceVars))
    .orderBy('t.id')
    .compile();
  // Every pipeline-scoped request runs this (the access check), with a fixed text: parsing and planning it
  // each time cost PostgreSQL 0.2-0.3 ms of CPU, four times what running it costs (docs/performance.md).
  markPrepared(query.sql);
  const [row] = (await db.executeQuery(query)).rows;
  return row === undefined ? undefined : toRecordWithoutConfig(row);
}

/** A pipeline's stored config with its version, read together (null config once archived). */
export async function findPipelineConfig(
  db: Kysely<Database>,
  pipelineId: number,
): Promise<{ config: Record<string, Json> | null; configVersion: number; archived: boolean } | undefined> {
  const row = await db
    .selectFrom('pipelines')
    .select(['config', 'version', 'archived'])
    .where('id', '=', pipelineId)
    .executeTakeFirst();
  return row === undefined
    ? undefined
    : { config: row.config, configVersion: Number(row.version), archived: row.archived };
}

export async function findPipelineById(
  db: Kysely<Database>,
  id: number,
): Promise<PipelineRecord | undefined> {
  const row = await pipelinesQuery(db).where('p.id', '=', id).executeTakeFirst();
  return row === undefined ? undefined : toRecord(row);
}

/** A team's pipelines in the team's order (`team.Pipelines`, `team.PublicPipelines`). */
export async function listTeamPipelines(
  db: Kysely<Database>,
  teamId: number,
  options: { publicOnly?: boolean } = {},
): Promise<PipelineRecord[]> {
  let query = pipelinesQuery(db).where('p.team_id', '=', teamId);
  if (options.publicOnly) query = query.where('p.public', '=', true);
  const rows = await query.orderBy('p.ordering').orderBy('p.secondary_ordering').orderBy('p.id').execute();
  return rows.map(toRecord);
}

/**
 * The pipelines of `teamNames` (team name, then team order), then the public pipelines of every other team
 * (`pipelineFactory.VisiblePipelines`); every pipeline when `teamNames` is undefined (admins).
 */
export async function listVisiblePipelines(
  db: Kysely<Database>,
  teamNames: readonly string[] | undefined,
): Promise<PipelineRecord[]> {
  const ordered = (q: PipelinesQuery) =>
    q.orderBy('t.name').orderBy('p.ordering').orderBy('p.secondary_ordering').orderBy('p.id');
  if (teamNames === undefined) return (await ordered(pipelinesQuery(db)).execute()).map(toRecord);
  const names = [...teamNames];
  const own =
    names.length === 0 ? [] : await ordered(pipelinesQuery(db).where('t.name', 'in', names)).execute();
  let others = pipelinesQuery(db).where('p.public', '=', true);
  if (names.length > 0) others = others.where('t.name', 'not in', names);
  const publicOnes = await others.orderBy('t.name').orderBy('p.ordering').orderBy('p.id').execute();
  return [...own, ...publicOnes].map(toRecord);
}

/** Whether anyone may read a pipeline's builds: the pipeline's and (optionally) a job's `public` flags. */
export async function findPipelinePublicity(
  db: Kysely<Database>,
  pipelineId: number,
  jobId: number | null,
): Promise<{ pipelinePublic: boolean; jobPublic: boolean } | undefined> {
  const pipeline = await db
    .selectFrom('pipelines')
    .select('public')
    .where('id', '=', pipelineId)
    .executeTakeFirst();
  if (!pipeline) return undefined;
  const job =
    jobId === null
      ? undefined
      : await db.selectFrom('jobs').select('public').where('id', '=', jobId).executeTakeFirst();
  return { pipelinePublic: pipeline.public, jobPublic: job?.public === true };
}

// ------------------------------------------------------------------------------------------------------------
// Saving

/** A resource as the config declares it, ready to store. */
export interface SavedResource {
  name: string;
  /** Rename: the resource currently called `oldName` keeps its versions and pins under `name`. */
  oldName?: string;
  type: string;
  /** Go's encoding of the resource config; its `source` decides whether the version history carries over. */
  config: Record<string, Json>;
  public: boolean;
  checkEvery: string | null;
  webhookToken: string | null;
  /** The config's `version:` pin. */
  pinnedVersion: VersionJson | null;
}

export interface SavedResourceType {
  name: string;
  type: string;
  config: Record<string, Json>;
}

export interface SavedJobInput {
  name: string;
  resource: string;
  /** Concrete job names the `passed` globs matched (Go's path.Match), empty when no `passed`. */
  passedJobs: string[];
  trigger: boolean;
  /** The step's `version:` (`"latest"`, `"every"`, or a version map), null when absent. */
  version: Json | null;
}

export interface SavedJob {
  name: string;
  oldName?: string;
  config: Record<string, Json>;
  public: boolean;
  /** Effective: 1 when serial or in serial groups, else max_in_flight (0 = unlimited). */
  maxInFlight: number;
  disableManualTrigger: boolean;
  disableReruns: boolean;
  interruptible: boolean;
  serialGroups: string[];
  /** Config groups whose job globs match the job. */
  groups: string[];
  inputs: SavedJobInput[];
  outputs: Array<{ name: string; resource: string }>;
}

/** Everything a save stores, derived from a validated config by the caller. */
export interface SavedPipelineConfig {
  /** The whole config in Go's encoding (what `GET P/config` answers). */
  config: Record<string, Json>;
  groups: Json[] | null;
  display: Record<string, Json> | null;
  userData: Json | null;
  resources: SavedResource[];
  resourceTypes: SavedResourceType[];
  jobs: SavedJob[];
}

export interface SavePipelineRequest {
  teamId: number;
  name: string;
  instanceVars: Record<string, Json> | null;
  /** The version the caller saw (`X-Concourse-Config-Version`, 0 when empty); must match for an update. */
  fromVersion: number;
  /** `fly set-pipeline` creates pipelines paused; the set_pipeline step passes false. */
  initiallyPaused: boolean;
  /** The set_pipeline step's job and build, null through the API. */
  parentJobId?: number | null;
  parentBuildId?: number | null;
  config: SavedPipelineConfig;
}

/** The stored config changed since the caller read it (Concourse's ErrConfigComparisonFailed). */
export class ConfigVersionMismatchError extends Error {
  constructor() {
    super('comparison with existing config failed during save');
    this.name = 'ConfigVersionMismatchError';
  }
}

/** A set_pipeline step of an older build lost against a newer one (ErrSetByNewerBuild). */
export class SetByNewerBuildError extends Error {
  constructor() {
    super('pipeline set by a newer build');
    this.name = 'SetByNewerBuildError';
  }
}

/** Two `old_name` renames that swap names (Concourse refuses them too). */
export class NameSwapError extends Error {
  constructor(kind: 'job' | 'resource') {
    super(`${kind} name swapping is not supported at this time`);
    this.name = 'NameSwapError';
  }
}

/**
 * Save a pipeline config (`team.SavePipeline`), in one transaction: create the pipeline (paused when
 * `initiallyPaused`, ordered after the team's pipelines, or next to its instance group) or update it if its
 * version still equals `fromVersion` (un-archiving it). Then upsert resources, resource types and jobs by
 * name (applying `old_name` renames first), deactivate whatever the config no longer names, rewrite serial
 * groups, job inputs/outputs and config pins, and request scheduling of every job.
 *
 * @throws ConfigVersionMismatchError, SetByNewerBuildError, NameSwapError
 */
export async function savePipeline(
  db: Kysely<Database>,
  request: SavePipelineRequest,
): Promise<{ pipeline: PipelineRecord; created: boolean }> {
  return db.transaction().execute(async (tx) => {
    const { config } = request;
    const existing = await tx
      .selectFrom('pipelines as p')
      .select(['p.id'])
      .where('p.team_id', '=', request.teamId)
      .where('p.name', '=', request.name)
      .where(sameInstanceVars(request.instanceVars))
      .forUpdate()
      .executeTakeFirst();

    let pipelineId: number;
    if (existing === undefined) {
      // Another save creating the same pipeline at the same time wins; this one saw no version.
      pipelineId = await insertPipeline(tx, request).catch((err: unknown) => {
        throw isUniqueViolation(err) ? new ConfigVersionMismatchError() : err;
      });
    } else {
      pipelineId = existing.id;
      await updatePipeline(tx, pipelineId, request);
      await deactivatePipelineObjects(tx, pipelineId);
    }

    await applyRenames(tx, 'resources', pipelineId, config.resources);
    const resourceIds = await saveResources(tx, pipelineId, config.resources);
    await saveResourceTypes(tx, pipelineId, config.resourceTypes);
    await applyRenames(tx, 'jobs', pipelineId, config.jobs);
    const jobIds = await saveJobs(tx, pipelineId, config.jobs);
    await saveJobInputsAndOutputs(tx, pipelineId, config.jobs, jobIds, resourceIds);
    // After the renames and job_inputs/job_outputs: the names and rows the job lists show.
    await refreshJobSummaryInputsAndOutputs(tx, pipelineId);
    await requestScheduleForPipeline(tx, pipelineId);

    const pipeline = await findPipelineById(tx, pipelineId);
    if (!pipeline) throw new Error(`pipeline ${pipelineId} vanished during save`);
    return { pipeline, created: existing === undefined };
  });
}

function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23505';
}

async function insertPipeline(tx: Transaction<Database>, request: SavePipelineRequest): Promise<number> {
  const { config } = request;
  // Instances of a name share the group's position; a new name goes last (its own id, as Concourse does).
  const group = await tx
    .selectFrom('pipelines')
    .select([
      sql<number | null>`max(ordering)`.as('ordering'),
      sql<number | null>`max(secondary_ordering)`.as('secondary'),
    ])
    .where('team_id', '=', request.teamId)
    .where('name', '=', request.name)
    .executeTakeFirst();
  const { rows } = await sql<{ id: number }>`select nextval('pipelines_id_seq')::integer as id`.execute(tx);
  const id = rows[0]?.id;
  if (id === undefined) throw new Error('pipelines_id_seq returned nothing');
  const inGroup = group?.ordering !== null && group?.ordering !== undefined;
  await tx
    .insertInto('pipelines')
    .values({
      id: id,
      team_id: request.teamId,
      name: request.name,
      instance_vars: jsonText(request.instanceVars),
      config: JSON.stringify(config.config),
      version: sql<number>`nextval('config_version_seq')`,
      groups: jsonText(config.groups),
      display: jsonText(config.display),
      user_data: jsonText(config.userData),
      paused: request.initiallyPaused,
      ordering: inGroup ? Number(group.ordering) : id,
      secondary_ordering: inGroup ? Number(group.secondary ?? 0) + 1 : 1,
      parent_job_id: request.parentJobId ?? null,
      parent_build_id: request.parentBuildId ?? null,
      last_updated: sql<Date>`now()`,
    })
    .execute();
  return id;
}

async function updatePipeline(
  tx: Transaction<Database>,
  id: number,
  request: SavePipelineRequest,
): Promise<void> {
  const { config } = request;
  let update = tx
    .updateTable('pipelines')
    .set({
      archived: false,
      config: JSON.stringify(config.config),
      groups: jsonText(config.groups),
      display: jsonText(config.display),
      user_data: jsonText(config.userData),
      version: sql<number>`nextval('config_version_seq')`,
      last_updated: sql<Date>`now()`,
      parent_job_id: request.parentJobId ?? null,
      parent_build_id: request.parentBuildId ?? null,
    })
    .where('id', '=', id)
    .where('version', '=', request.fromVersion);
  // The set_pipeline step keeps a paused pipeline paused but revives an archived one (fly keeps it paused).
  if (!request.initiallyPaused) update = update.set({ paused: sql<boolean>`paused and not archived` });
  const parentBuildId = request.parentBuildId ?? null;
  if (parentBuildId !== null) {
    update = update.where((eb) =>
      eb.or([eb('parent_build_id', '<', parentBuildId), eb('parent_build_id', 'is', null)]),
    );
  }
  const result = await update.executeTakeFirst();
  if (result.numUpdatedRows > 0n) return;
  if (parentBuildId !== null) {
    const current = await tx
      .selectFrom('pipelines')
      .select('parent_build_id')
      .where('id', '=', id)
      .executeTakeFirst();
    if (
      current?.parent_build_id !== null &&
      current?.parent_build_id !== undefined &&
      parentBuildId < current.parent_build_id
    ) {
      throw new SetByNewerBuildError();
    }
  }
  throw new ConfigVersionMismatchError();
}

/** Before re-saving: every object inactive, serial groups gone; the save re-activates what it names. */
async function deactivatePipelineObjects(tx: Transaction<Database>, pipelineId: number): Promise<void> {
  await tx
    .deleteFrom('job_serial_groups')
    .where('job_id', 'in', (eb) => eb.selectFrom('jobs').select('id').where('pipeline_id', '=', pipelineId))
    .execute();
  await tx
    .updateTable('jobs')
    .set({ active: false })
    .where('id', 'in', lockPipelineJobsInIdOrder(pipelineId))
    .execute();
  await tx.updateTable('resources').set({ active: false }).where('pipeline_id', '=', pipelineId).execute();
  await tx
    .updateTable('resource_types')
    .set({ active: false })
    .where('pipeline_id', '=', pipelineId)
    .execute();
}

/**
 * `old_name` renames (`updateJobsName`, `updateResourcesName`): an inactive row already holding the new name
 * is dropped, then the old row takes the new name, renames into a name another rename frees going last.
 */
async function applyRenames(
  tx: Transaction<Database>,
  table: 'jobs' | 'resources',
  pipelineId: number,
  objects: ReadonlyArray<{ name: string; oldName?: string }>,
): Promise<void> {
  const renames: Array<{ from: string; to: string }> = [];
  for (const object of objects) {
    if (object.oldName === undefined || object.oldName === '' || object.oldName === object.name) continue;
    const found = await tx
      .selectFrom(table)
      .select('id')
      .where('pipeline_id', '=', pipelineId)
      .where('name', '=', object.oldName)
      .executeTakeFirst();
    if (found) renames.push({ from: object.oldName, to: object.name });
  }
  if (renames.length === 0) return;

  const targetOf = new Map(renames.map((r) => [r.from, r.to]));
  for (const { from } of renames) {
    let current = targetOf.get(from);
    for (let steps = 0; current !== undefined && steps <= renames.length; steps++) {
      if (current === from) throw new NameSwapError(table === 'jobs' ? 'job' : 'resource');
      current = targetOf.get(current);
    }
  }
  // A rename whose target is another rename's source waits until that one has moved away.
  const ordered: typeof renames = [];
  const pending = [...renames];
  while (pending.length > 0) {
    const index = pending.findIndex((r) => !pending.some((other) => other !== r && other.from === r.to));
    const [next] = pending.splice(index === -1 ? 0 : index, 1);
    if (next) ordered.push(next);
  }
  for (const { from, to } of ordered) {
    await tx
      .deleteFrom(table)
      .where('pipeline_id', '=', pipelineId)
      .where('name', '=', to)
      .where('active', '=', false)
      .execute();
    await tx
      .updateTable(table)
      .set({ name: to })
      .where('pipeline_id', '=', pipelineId)
      .where('name', '=', from)
      .execute();
  }
}

async function saveResources(
  tx: Transaction<Database>,
  pipelineId: number,
  resources: readonly SavedResource[],
): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  for (const resource of resources) {
    const row = await tx
      .insertInto('resources')
      .values({
        pipeline_id: pipelineId,
        name: resource.name,
        type: resource.type,
        config: JSON.stringify(resource.config),
        active: true,
        public: resource.public,
        check_every: resource.checkEvery,
        webhook_token: resource.webhookToken,
      })
      .onConflict((oc) =>
        oc.columns(['pipeline_id', 'name']).doUpdateSet({
          type: (eb) => eb.ref('excluded.type'),
          config: (eb) => eb.ref('excluded.config'),
          active: true,
          public: (eb) => eb.ref('excluded.public'),
          check_every: (eb) => eb.ref('excluded.check_every'),
          webhook_token: (eb) => eb.ref('excluded.webhook_token'),
          // A new type or source starts a new version history: the checker finds the new config.
          resource_config_id: sql<number | null>`case when resources.type = excluded.type
            and (resources.config -> 'source') is not distinct from (excluded.config -> 'source')
            then resources.resource_config_id end`,
          resource_config_scope_id: sql<number | null>`case when resources.type = excluded.type
            and (resources.config -> 'source') is not distinct from (excluded.config -> 'source')
            then resources.resource_config_scope_id end`,
        }),
      )
      .returning('id')
      .executeTakeFirstOrThrow();
    ids.set(resource.name, row.id);

    // Config pins replace whatever pin there was (comment included); removing one from the config unpins.
    if (resource.pinnedVersion !== null) {
      await tx
        .updateTable('resources')
        .set({
          pinned_version: JSON.stringify(resource.pinnedVersion),
          pinned_in_config: true,
          pin_comment: '',
        })
        .where('id', '=', row.id)
        .execute();
    } else {
      await tx
        .updateTable('resources')
        .set({ pinned_version: null, pinned_in_config: false, pin_comment: '' })
        .where('id', '=', row.id)
        .where('pinned_in_config', '=', true)
        .execute();
    }
  }
  return ids;
}

async function saveResourceTypes(
  tx: Transaction<Database>,
  pipelineId: number,
  resourceTypes: readonly SavedResourceType[],
): Promise<void> {
  for (const resourceType of resourceTypes) {
    await tx
      .insertInto('resource_types')
      .values({
        pipeline_id: pipelineId,
        name: resourceType.name,
        type: resourceType.type,
        config: JSON.stringify(resourceType.config),
        active: true,
      })
      .onConflict((oc) =>
        oc.columns(['pipeline_id', 'name']).doUpdateSet({
          type: (eb) => eb.ref('excluded.type'),
          config: (eb) => eb.ref('excluded.config'),
          active: true,
          resource_config_id: sql<number | null>`case when resource_types.type = excluded.type
            and (resource_types.config -> 'source') is not distinct from (excluded.config -> 'source')
            then resource_types.resource_config_id end`,
          resource_config_scope_id: sql<number | null>`case when resource_types.type = excluded.type
            and (resource_types.config -> 'source') is not distinct from (excluded.config -> 'source')
            then resource_types.resource_config_scope_id end`,
        }),
      )
      .execute();
  }
}

async function saveJobs(
  tx: Transaction<Database>,
  pipelineId: number,
  jobs: readonly SavedJob[],
): Promise<Map<string, number>> {
  const ids = new Map<string, number>();
  for (const job of jobs) {
    const row = await tx
      .insertInto('jobs')
      .values({
        pipeline_id: pipelineId,
        name: job.name,
        config: JSON.stringify(job.config),
        active: true,
        public: job.public,
        max_in_flight: job.maxInFlight,
        disable_manual_trigger: job.disableManualTrigger,
        disable_reruns: job.disableReruns,
        interruptible: job.interruptible,
        groups: job.groups,
      })
      .onConflict((oc) =>
        oc.columns(['pipeline_id', 'name']).doUpdateSet({
          config: (eb) => eb.ref('excluded.config'),
          active: true,
          public: (eb) => eb.ref('excluded.public'),
          max_in_flight: (eb) => eb.ref('excluded.max_in_flight'),
          disable_manual_trigger: (eb) => eb.ref('excluded.disable_manual_trigger'),
          disable_reruns: (eb) => eb.ref('excluded.disable_reruns'),
          interruptible: (eb) => eb.ref('excluded.interruptible'),
          groups: (eb) => eb.ref('excluded.groups'),
        }),
      )
      .returning('id')
      .executeTakeFirstOrThrow();
    ids.set(job.name, row.id);
    for (const group of new Set(job.serialGroups)) {
      await tx.insertInto('job_serial_groups').values({ job_id: row.id, serial_group: group }).execute();
    }
  }
  return ids;
}

async function saveJobInputsAndOutputs(
  tx: Transaction<Database>,
  pipelineId: number,
  jobs: readonly SavedJob[],
  jobIds: ReadonlyMap<string, number>,
  resourceIds: ReadonlyMap<string, number>,
): Promise<void> {
  // Rewritten for every job of the pipeline, so removed jobs keep no stale inputs (`insertJobPipes`).
  const pipelineJobs = (eb: ExpressionBuilder<Database, 'job_inputs' | 'job_outputs'>) =>
    eb.selectFrom('jobs').select('jobs.id').where('jobs.pipeline_id', '=', pipelineId);
  await tx.deleteFrom('job_inputs').where('job_id', 'in', pipelineJobs).execute();
  await tx.deleteFrom('job_outputs').where('job_id', 'in', pipelineJobs).execute();
  for (const job of jobs) {
    const jobId = jobIds.get(job.name);
    if (jobId === undefined) continue;
    for (const input of job.inputs) {
      const resourceId = resourceIds.get(input.resource);
      if (resourceId === undefined) continue;
      const passed = input.passedJobs.flatMap((name) => jobIds.get(name) ?? []);
      const base = {
        job_id: jobId,
        name: input.name,
        resource_id: resourceId,
        trigger: input.trigger,
        version: jsonText(input.version),
      };
      const rows =
        passed.length === 0
          ? [{ ...base, passed_job_id: null }]
          : passed.map((id) => ({ ...base, passed_job_id: id }));
      await tx.insertInto('job_inputs').values(rows).execute();
    }
    for (const output of job.outputs) {
      const resourceId = resourceIds.get(output.resource);
      if (resourceId === undefined) continue;
      await tx
        .insertInto('job_outputs')
        .values({ job_id: jobId, name: output.name, resource_id: resourceId })
        .execute();
    }
  }
}

/**
 * The ids of a pipeline's jobs (only its active ones when `active`), their rows locked in id order. Statements
 * updating many jobs take their rows through this: two transactions taking overlapping rows in different
 * orders (heap order, an index's, a hash's) deadlock, so every one takes them in the same order, as Concourse
 * orders such updates by job id.
 */
function lockPipelineJobsInIdOrder(pipelineId: number, active?: boolean) {
  return (eb: ExpressionBuilder<Database, 'jobs'>) => {
    let query = eb.selectFrom('jobs as j').select('j.id').where('j.pipeline_id', '=', pipelineId);
    if (active !== undefined) query = query.where('j.active', '=', active);
    return query.orderBy('j.id').forUpdate();
  };
}

/** Ask the scheduler to look at every active job of a pipeline (`requestScheduleForJobsInPipeline`). */
export async function requestScheduleForPipeline(db: Kysely<Database>, pipelineId: number): Promise<void> {
  await db
    .updateTable('jobs')
    .set({ schedule_requested: sql<Date>`now()` })
    .where('id', 'in', lockPipelineJobsInIdOrder(pipelineId, true))
    .execute();
}

// ------------------------------------------------------------------------------------------------------------
// State changes

/** Pause (no-op when already paused, so the first pauser is kept). */
export async function pausePipeline(db: Kysely<Database>, id: number, pausedBy: string): Promise<void> {
  await db
    .updateTable('pipelines')
    .set({ paused: true, paused_by: pausedBy, paused_at: sql<Date>`now()` })
    .where('id', '=', id)
    .where('paused', '=', false)
    .execute();
}

/** Unpause and request scheduling of its jobs. */
export async function unpausePipeline(db: Kysely<Database>, id: number): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx
      .updateTable('pipelines')
      .set({ paused: false, paused_by: null, paused_at: null })
      .where('id', '=', id)
      .where('paused', '=', true)
      .execute();
    await requestScheduleForPipeline(tx, id);
  });
}

/**
 * Archive (`pipeline.Archive`): paused by `automatic-pipeline-archiver`, config version 0, every config
 * cleared (GET config answers 404), every object inactive. Builds and versions are kept; pending builds are
 * the build starter's to abort.
 */
export async function archivePipeline(db: Kysely<Database>, id: number): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx
      .updateTable('pipelines')
      .set({
        archived: true,
        config: null,
        version: 0,
        paused: true,
        paused_by: 'automatic-pipeline-archiver',
        paused_at: sql<Date>`now()`,
        last_updated: sql<Date>`now()`,
      })
      .where('id', '=', id)
      .execute();
    await tx
      .updateTable('jobs')
      .set({ config: null, active: false })
      .where('id', 'in', lockPipelineJobsInIdOrder(id))
      .execute();
    await tx
      .updateTable('resources')
      .set({ config: null, active: false })
      .where('pipeline_id', '=', id)
      .execute();
    await tx
      .updateTable('resource_types')
      .set({ config: null, active: false })
      .where('pipeline_id', '=', id)
      .execute();
  });
}

export async function setPipelinePublic(db: Kysely<Database>, id: number, isPublic: boolean): Promise<void> {
  await db.updateTable('pipelines').set({ public: isPublic }).where('id', '=', id).execute();
}

/** Destroy a pipeline and, through the foreign keys, its jobs, resources, versions' links and builds. */
export async function deletePipeline(db: Kysely<Database>, id: number): Promise<void> {
  await db.transaction().execute(async (tx) => {
    // Builds before jobs: the cascade would lock the job rows first, then the builds, while finishing a build
    // locks the build, then its job row (the trigger keeping the job's build ids): the two would deadlock.
    await tx.deleteFrom('builds').where('pipeline_id', '=', id).execute();
    await tx.deleteFrom('pipelines').where('id', '=', id).execute();
  });
}

/**
 * Rename every instance of `oldName` in the team (`team.RenamePipeline`). `name-taken` when another pipeline
 * already has the new name with the same instance vars.
 */
export async function renamePipeline(
  db: Kysely<Database>,
  teamId: number,
  oldName: string,
  newName: string,
): Promise<'renamed' | 'not-found' | 'name-taken'> {
  if (oldName.includes('\0')) return 'not-found';
  return db.transaction().execute(async (tx) => {
    const clash = await tx
      .selectFrom('pipelines as a')
      .innerJoin('pipelines as b', (join) =>
        join
          .onRef('a.team_id', '=', 'b.team_id')
          .on(
            sql<boolean>`coalesce(a.instance_vars, 'null'::jsonb) = coalesce(b.instance_vars, 'null'::jsonb)`,
          ),
      )
      .select('a.id')
      .where('a.team_id', '=', teamId)
      .where('a.name', '=', oldName)
      .where('b.name', '=', newName)
      .where((eb) => eb('a.id', '!=', eb.ref('b.id')))
      .executeTakeFirst();
    if (clash) return 'name-taken';
    const result = await tx
      .updateTable('pipelines')
      .set({ name: newName })
      .where('team_id', '=', teamId)
      .where('name', '=', oldName)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n ? 'renamed' : 'not-found';
  });
}

/** A name (and instance vars) given to an ordering request that matches no pipeline (ErrPipelineNotFound). */
export class PipelineNotFoundError extends Error {
  constructor(readonly pipelineRef: string) {
    super(`pipeline '${pipelineRef}' not found`);
    this.name = 'PipelineNotFoundError';
  }
}

/** `fly order-pipelines`: each named pipeline (all its instances) gets its index as ordering. */
export async function orderPipelines(
  db: Kysely<Database>,
  teamId: number,
  names: readonly string[],
): Promise<void> {
  await db.transaction().execute(async (tx) => {
    for (const [index, name] of names.entries()) {
      const result = await tx
        .updateTable('pipelines')
        .set({ ordering: index })
        .where('team_id', '=', teamId)
        .where('name', '=', name)
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n) throw new PipelineNotFoundError(name);
    }
  });
}

/**
 * `fly order-instanced-pipelines`: each listed instance of `name` gets its index + 1 as secondary ordering.
 * `describe` renders a not-found instance for the error message.
 */
export async function orderPipelinesWithinGroup(
  db: Kysely<Database>,
  teamId: number,
  name: string,
  instanceVarsList: ReadonlyArray<Record<string, Json> | null>,
  describe: (instanceVars: Record<string, Json> | null) => string,
): Promise<void> {
  await db.transaction().execute(async (tx) => {
    for (const [index, vars] of instanceVarsList.entries()) {
      const empty = vars === null || Object.keys(vars).length === 0;
      const result = await tx
        .updateTable('pipelines as p')
        .set({ secondary_ordering: index + 1 })
        .where('p.team_id', '=', teamId)
        .where('p.name', '=', name)
        .where(
          empty
            ? sql<boolean>`p.instance_vars is null`
            : sql<boolean>`p.instance_vars = ${JSON.stringify(vars)}::jsonb`,
        )
        .executeTakeFirst();
      if (result.numUpdatedRows === 0n) throw new PipelineNotFoundError(describe(empty ? null : vars));
    }
  });
}
