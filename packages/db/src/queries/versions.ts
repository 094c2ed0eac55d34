// Resource versions (Concourse's atc/db/resource_config.go, resource_config_scope.go and the version half of
// resource.go): configs and scopes, saving check results in check order, listing versions a page at a time,
// enabling/disabling, and the builds that used or produced a version.
import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database, MetadataJson, VersionJson } from '../schema.js';
import { findPipelineBuilds, type PipelineBuildRecord } from './pipeline-builds.js';
import { requestScheduleForJobsUsingResource } from './resources.js';

/** Go's `json.Marshal` of a free-form value: object keys sorted, `<`, `>`, `&` escaped. */
function goJson(value: unknown): string {
  const sorted = (item: unknown): unknown => {
    if (Array.isArray(item)) return item.map(sorted);
    if (typeof item === 'object' && item !== null) {
      const object = item as Record<string, unknown>;
      return Object.fromEntries(
        Object.keys(object)
          .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
          .map((key) => [key, sorted(object[key])]),
      );
    }
    return item;
  };
  return (JSON.stringify(sorted(value)) ?? 'null')
    .replaceAll('<', '\\u003c')
    .replaceAll('>', '\\u003e')
    .replaceAll('&', '\\u0026')
    .replaceAll('\u2028', '\\u2028')
    .replaceAll('\u2029', '\\u2029');
}

/**
 * The digest every table uses to name a version: sha256 (hex) of the version's Go JSON encoding, as
 * Concourse's `version_sha256` (`encode(digest(<json>, 'sha256'), 'hex')`).
 */
export function versionSha256(version: VersionJson): string {
  return createHash('sha256').update(goJson(version)).digest('hex');
}

/** The `source_hash` of a resource config: sha256 of the interpolated source (with defaults) in Go JSON. */
export function resourceConfigSourceHash(source: unknown): string {
  return createHash('sha256')
    .update(goJson(source ?? null))
    .digest('hex');
}

/** Find or create the config for `typeKey` + source (`resourceConfigFactory.FindOrCreateResourceConfig`). */
export async function findOrCreateResourceConfig(
  db: Kysely<Database>,
  typeKey: string,
  source: unknown,
): Promise<number> {
  const sourceHash = resourceConfigSourceHash(source);
  const row = await db
    .insertInto('resource_configs')
    .values({ type_key: typeKey, source_hash: sourceHash })
    .onConflict((oc) =>
      oc.columns(['type_key', 'source_hash']).doUpdateSet({ last_referenced: sql<Date>`now()` }),
    )
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/**
 * Find or create the scope versions of `resourceConfigId` live in: per resource (`resourceId` given), or
 * shared by every resource with that config (`resourceId` null, global resources).
 */
export async function findOrCreateResourceConfigScope(
  db: Kysely<Database>,
  resourceConfigId: number,
  resourceId: number | null,
): Promise<number> {
  const find = () => {
    const query = db
      .selectFrom('resource_config_scopes')
      .select('id')
      .where('resource_config_id', '=', resourceConfigId);
    return (
      resourceId === null
        ? query.where('resource_id', 'is', null)
        : query.where('resource_id', '=', resourceId)
    ).executeTakeFirst();
  };
  const existing = await find();
  if (existing) return existing.id;
  const inserted = await sql<{ id: number }>`
    insert into resource_config_scopes (resource_config_id, resource_id) values (${resourceConfigId}, ${resourceId})
    on conflict do nothing returning id`.execute(db);
  const id = inserted.rows[0]?.id ?? (await find())?.id;
  if (id === undefined) throw new Error(`could not create a scope for resource config ${resourceConfigId}`);
  return id;
}

/** A version as a check (or put) reports it. */
export interface DiscoveredVersion {
  version: VersionJson;
  metadata?: MetadataJson | null;
}

/**
 * Save a check's result into a scope (`resourceConfigScope.SaveVersions`, concourse-semantics.md §6.2): each
 * version is inserted or, if known, gets its metadata updated when given. Only if at least one was new, every
 * version of the list, in list order, is renumbered to the top of the scope's check order; then the jobs of
 * the resources using the scope are asked to schedule. Returns how many versions were new.
 */
export async function saveResourceVersions(
  db: Kysely<Database>,
  scopeId: number,
  versions: readonly DiscoveredVersion[],
): Promise<number> {
  if (versions.length === 0) return 0;
  return db.transaction().execute(async (tx) => {
    await tx
      .selectFrom('resource_config_scopes')
      .select('id')
      .where('id', '=', scopeId)
      .forUpdate()
      .executeTakeFirst();
    let added = 0;
    for (const { version, metadata } of versions) {
      const sha = versionSha256(version);
      const { rows } = await sql<{ inserted: boolean }>`
        insert into resource_config_versions (resource_config_scope_id, version, version_sha256, metadata)
        values (${scopeId}, ${JSON.stringify(version)}::jsonb, ${sha}, ${metadata ? JSON.stringify(metadata) : null}::jsonb)
        on conflict (resource_config_scope_id, version_sha256) do update
          set metadata = coalesce(excluded.metadata, resource_config_versions.metadata)
        returning (xmax = 0) as inserted`.execute(tx);
      if (rows[0]?.inserted) added += 1;
    }
    if (added === 0) return 0;
    for (const { version } of versions) {
      await sql`
        update resource_config_versions
        set check_order = (select coalesce(max(check_order), 0) + 1 from resource_config_versions
                           where resource_config_scope_id = ${scopeId})
        where resource_config_scope_id = ${scopeId} and version_sha256 = ${versionSha256(version)}`.execute(
        tx,
      );
    }
    // Rows locked in id order, so concurrent updates of overlapping jobs never deadlock (as in Concourse);
    // the job ids' hash aggregate alone would lock them in any order.
    await tx
      .updateTable('jobs')
      .set({ schedule_requested: sql<Date>`now()` })
      .where('id', 'in', (eb) =>
        eb
          .selectFrom('jobs as j')
          .select('j.id')
          .where('j.id', 'in', (inner) =>
            inner
              .selectFrom('job_inputs as ji')
              .innerJoin('resources as r', 'r.id', 'ji.resource_id')
              .select('ji.job_id')
              .where('r.resource_config_scope_id', '=', scopeId),
          )
          .orderBy('j.id')
          .forUpdate(),
      )
      .execute();
    return added;
  });
}

/** A version of a resource as the API lists it (`atc.ResourceVersion`). */
export interface ResourceVersionRecord {
  id: number;
  version: VersionJson;
  metadata: MetadataJson | null;
  /** Not disabled for this resource. */
  enabled: boolean;
  checkOrder: number;
  versionSha256: string;
}

export interface ResourceVersionsPage {
  /** Newest (highest check order) first. */
  versions: ResourceVersionRecord[];
  /** `to` (a version id) of the next older page. */
  olderTo?: number;
  /** `from` (a version id) of the next newer page. */
  newerFrom?: number;
}

/** Page bounds are version ids (inclusive), turned into check orders. */
export interface VersionPage {
  limit: number;
  from?: number;
  to?: number;
}

/**
 * A resource's versions in its current scope (`resource.Versions`): newest first, `filter` keeping versions
 * that contain every given key/value, `from`/`to` bounds given as version ids. Undefined when the resource
 * does not exist; an empty page when it has no scope yet.
 */
export async function listResourceVersions(
  db: Kysely<Database>,
  resourceId: number,
  page: VersionPage,
  filter: VersionJson = {},
): Promise<ResourceVersionsPage | undefined> {
  return db.transaction().execute(async (tx) => {
    const resource = await tx
      .selectFrom('resources')
      .select('resource_config_scope_id')
      .where('id', '=', resourceId)
      .executeTakeFirst();
    if (!resource) return undefined;
    const scopeId = resource.resource_config_scope_id;
    if (scopeId === null) return { versions: [] };

    const base = tx
      .selectFrom('resource_config_versions as v')
      .select([
        'v.id',
        'v.version',
        'v.metadata',
        'v.check_order',
        'v.version_sha256',
        sql<boolean>`not exists (select 1 from resource_disabled_versions d
          where d.resource_id = ${resourceId} and d.version_sha256 = v.version_sha256)`.as('enabled'),
      ])
      .where('v.resource_config_scope_id', '=', scopeId)
      .where(sql<boolean>`v.version @> ${JSON.stringify(filter)}::jsonb`);
    const checkOrderOf = (id: number) =>
      sql<number>`(select check_order from resource_config_versions where id = ${id})`;

    let rows;
    if (page.from !== undefined) {
      rows = (
        await base
          .where('v.check_order', '>=', checkOrderOf(page.from))
          .orderBy('v.check_order', 'asc')
          .limit(page.limit)
          .execute()
      ).reverse();
    } else if (page.to !== undefined) {
      rows = await base
        .where('v.check_order', '<=', checkOrderOf(page.to))
        .orderBy('v.check_order', 'desc')
        .limit(page.limit)
        .execute();
    } else {
      rows = await base.orderBy('v.check_order', 'desc').limit(page.limit).execute();
    }
    const versions = rows.map((row) => ({
      id: row.id,
      version: row.version,
      metadata: row.metadata,
      enabled: row.enabled,
      checkOrder: Number(row.check_order),
      versionSha256: row.version_sha256,
    }));
    const newest = versions[0];
    const oldest = versions[versions.length - 1];
    if (newest === undefined || oldest === undefined) return { versions };

    // As in Concourse, the neighbours ignore the filter.
    const neighbour = (direction: 'older' | 'newer') =>
      tx
        .selectFrom('resource_config_versions')
        .select('id')
        .where('resource_config_scope_id', '=', scopeId)
        .where(
          'check_order',
          direction === 'older' ? '<' : '>',
          direction === 'older' ? oldest.checkOrder : newest.checkOrder,
        )
        .orderBy('check_order', direction === 'older' ? 'desc' : 'asc')
        .limit(1)
        .executeTakeFirst();
    const older = await neighbour('older');
    const newer = await neighbour('newer');
    return {
      versions,
      ...(older ? { olderTo: older.id } : {}),
      ...(newer ? { newerFrom: newer.id } : {}),
    };
  });
}

/** One version of a resource by id, if it is in the resource's current scope. */
export async function findResourceVersion(
  db: Kysely<Database>,
  resourceId: number,
  versionId: number,
): Promise<ResourceVersionRecord | undefined> {
  const row = await db
    .selectFrom('resource_config_versions as v')
    .innerJoin('resources as r', 'r.resource_config_scope_id', 'v.resource_config_scope_id')
    .select([
      'v.id',
      'v.version',
      'v.metadata',
      'v.check_order',
      'v.version_sha256',
      sql<boolean>`not exists (select 1 from resource_disabled_versions d
        where d.resource_id = r.id and d.version_sha256 = v.version_sha256)`.as('enabled'),
    ])
    .where('r.id', '=', resourceId)
    .where('v.id', '=', versionId)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    id: row.id,
    version: row.version,
    metadata: row.metadata,
    enabled: row.enabled,
    checkOrder: Number(row.check_order),
    versionSha256: row.version_sha256,
  };
}

/**
 * Enable or disable a version for one resource (`resource.toggleVersion`). False when nothing changed: the
 * version is unknown to the resource, or already in that state (Concourse answers 500 then).
 */
export async function setResourceVersionEnabled(
  db: Kysely<Database>,
  resourceId: number,
  versionId: number,
  enabled: boolean,
): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    const version = await findResourceVersion(tx, resourceId, versionId);
    if (!version) return false;
    let changed: bigint;
    if (enabled) {
      const result = await tx
        .deleteFrom('resource_disabled_versions')
        .where('resource_id', '=', resourceId)
        .where('version_sha256', '=', version.versionSha256)
        .executeTakeFirst();
      changed = result.numDeletedRows;
    } else {
      const result = await tx
        .insertInto('resource_disabled_versions')
        .values({ resource_id: resourceId, version_sha256: version.versionSha256 })
        .onConflict((oc) => oc.doNothing())
        .executeTakeFirst();
      changed = result.numInsertedOrUpdatedRows ?? 0n;
    }
    if (changed === 0n) return false;
    await requestScheduleForJobsUsingResource(tx, resourceId);
    return true;
  });
}

/** Builds that used the version as an input (`pipeline.GetBuildsWithVersionAsInput`), by id. */
export async function listBuildsWithVersionAsInput(
  db: Kysely<Database>,
  resourceId: number,
  versionId: number,
): Promise<PipelineBuildRecord[]> {
  const rows = await db
    .selectFrom('build_resource_config_version_inputs as bi')
    .innerJoin('resource_config_versions as v', 'v.version_sha256', 'bi.version_sha256')
    .select('bi.build_id')
    .distinct()
    .where('v.id', '=', versionId)
    .where('bi.resource_id', '=', resourceId)
    .orderBy('bi.build_id')
    .execute();
  return findPipelineBuilds(
    db,
    rows.map((row) => row.build_id),
  );
}

/** Builds that produced the version with a put (`pipeline.GetBuildsWithVersionAsOutput`), by id. */
export async function listBuildsWithVersionAsOutput(
  db: Kysely<Database>,
  resourceId: number,
  versionId: number,
): Promise<PipelineBuildRecord[]> {
  const rows = await db
    .selectFrom('build_resource_config_version_outputs as bo')
    .innerJoin('resource_config_versions as v', 'v.version_sha256', 'bo.version_sha256')
    .select('bo.build_id')
    .distinct()
    .where('v.id', '=', versionId)
    .where('bo.resource_id', '=', resourceId)
    .orderBy('bo.build_id')
    .execute();
  return findPipelineBuilds(
    db,
    rows.map((row) => row.build_id),
  );
}

/** An input a build used. */
export interface BuildVersionInput {
  name: string;
  resourceId: number;
  version: VersionJson;
  firstOccurrence: boolean;
}

/**
 * Record a build's inputs and mark them ready (`build.AdoptInputsAndPipes`), which also makes the build
 * rerunnable.
 */
export async function saveBuildInputs(
  db: Kysely<Database>,
  buildId: number,
  inputs: readonly BuildVersionInput[],
): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.deleteFrom('build_resource_config_version_inputs').where('build_id', '=', buildId).execute();
    if (inputs.length > 0) {
      await tx
        .insertInto('build_resource_config_version_inputs')
        .values(
          inputs.map((input) => ({
            build_id: buildId,
            resource_id: input.resourceId,
            version_sha256: versionSha256(input.version),
            name: input.name,
            first_occurrence: input.firstOccurrence,
          })),
        )
        .onConflict((oc) => oc.doNothing())
        .execute();
    }
    await tx.updateTable('builds').set({ inputs_ready: true }).where('id', '=', buildId).execute();
  });
}

/** Record a version a build's put step produced (`build.SaveOutput`). */
export async function saveBuildOutput(
  db: Kysely<Database>,
  buildId: number,
  output: { name: string; resourceId: number; version: VersionJson },
): Promise<void> {
  await db
    .insertInto('build_resource_config_version_outputs')
    .values({
      build_id: buildId,
      resource_id: output.resourceId,
      version_sha256: versionSha256(output.version),
      name: output.name,
    })
    .onConflict((oc) => oc.doNothing())
    .execute();
}

/** The inputs and outputs of a build with their versions, for `GET /api/v1/builds/:id/resources`. */
export async function listBuildResources(
  db: Kysely<Database>,
  buildId: number,
): Promise<{
  inputs: Array<{ name: string; version: VersionJson; pipelineId: number; firstOccurrence: boolean }>;
  outputs: Array<{ name: string; version: VersionJson }>;
}> {
  const inputs = await db
    .selectFrom('build_resource_config_version_inputs as bi')
    .innerJoin('resources as r', 'r.id', 'bi.resource_id')
    .innerJoin('resource_config_versions as v', (join) =>
      join
        .onRef('v.version_sha256', '=', 'bi.version_sha256')
        .onRef('v.resource_config_scope_id', '=', 'r.resource_config_scope_id'),
    )
    .select(['bi.name', 'v.version', 'r.pipeline_id', 'bi.first_occurrence'])
    .where('bi.build_id', '=', buildId)
    .orderBy('bi.name')
    .execute();
  const outputs = await db
    .selectFrom('build_resource_config_version_outputs as bo')
    .innerJoin('resources as r', 'r.id', 'bo.resource_id')
    .innerJoin('resource_config_versions as v', (join) =>
      join
        .onRef('v.version_sha256', '=', 'bo.version_sha256')
        .onRef('v.resource_config_scope_id', '=', 'r.resource_config_scope_id'),
    )
    .select(['bo.name', 'v.version'])
    .where('bo.build_id', '=', buildId)
    .orderBy('bo.name')
    .execute();
  return {
    inputs: inputs.map((row) => ({
      name: row.name,
      version: row.version,
      pipelineId: row.pipeline_id,
      firstOccurrence: row.first_occurrence,
    })),
    outputs: outputs.map((row) => ({ name: row.name, version: row.version })),
  };
}

/** Concourse's `atc.DebugVersionsDB` (`GET P/versions-db`), field names as Go encodes them. */
export interface VersionsDebugDump {
  Jobs: Array<{ Name: string; ID: number }>;
  Resources: Array<{ Name: string; ID: number; ScopeID: number | null }>;
  ResourceVersions: Array<{ VersionID: number; ResourceID: number; CheckOrder: number; ScopeID: number }>;
  BuildOutputs: Array<{
    VersionID: number;
    ResourceID: number;
    CheckOrder: number;
    ScopeID: number;
    BuildID: number;
    JobID: number;
  }>;
  BuildInputs: Array<{
    VersionID: number;
    ResourceID: number;
    CheckOrder: number;
    ScopeID: number;
    BuildID: number;
    JobID: number;
    InputName: string;
  }>;
  BuildReruns: Array<{ BuildID: number; JobID: number; RerunOf: number }>;
}

/**
 * What the scheduler's input resolution sees of a pipeline (`pipeline.LoadDebugVersionsDB`): active jobs and
 * resources, enabled versions, build inputs and outputs (a succeeded build's inputs count as its outputs),
 * and reruns.
 */
export async function loadVersionsDebugDump(
  db: Kysely<Database>,
  pipelineId: number,
): Promise<VersionsDebugDump> {
  return db.transaction().execute(async (tx) => {
    const jobs = await tx
      .selectFrom('jobs')
      .select(['id', 'name'])
      .where('pipeline_id', '=', pipelineId)
      .where('active', '=', true)
      .orderBy('id')
      .execute();
    const resources = await tx
      .selectFrom('resources')
      .select(['id', 'name', 'resource_config_scope_id'])
      .where('pipeline_id', '=', pipelineId)
      .where('active', '=', true)
      .orderBy('id')
      .execute();
    const enabledVersion = sql<boolean>`not exists (select 1 from resource_disabled_versions d
      where d.resource_id = r.id and d.version_sha256 = v.version_sha256)`;
    const versions = await tx
      .selectFrom('resource_config_versions as v')
      .innerJoin('resources as r', 'r.resource_config_scope_id', 'v.resource_config_scope_id')
      .select(['v.id', 'v.check_order', 'r.id as resource_id', 'v.resource_config_scope_id'])
      .where('r.pipeline_id', '=', pipelineId)
      .where('r.active', '=', true)
      .where(enabledVersion)
      .orderBy('v.id')
      .execute();
    const outputs = await tx
      .selectFrom('build_resource_config_version_outputs as o')
      .innerJoin('builds as b', 'b.id', 'o.build_id')
      .innerJoin('resources as r', 'r.id', 'o.resource_id')
      .innerJoin('resource_config_versions as v', (join) =>
        join
          .onRef('v.version_sha256', '=', 'o.version_sha256')
          .onRef('v.resource_config_scope_id', '=', 'r.resource_config_scope_id'),
      )
      .select([
        'v.id',
        'v.check_order',
        'r.id as resource_id',
        'v.resource_config_scope_id',
        'o.build_id',
        'b.job_id',
      ])
      .where('b.status', '=', 'succeeded')
      .where('r.pipeline_id', '=', pipelineId)
      .where('r.active', '=', true)
      .where(enabledVersion)
      .execute();
    const inputs = await tx
      .selectFrom('build_resource_config_version_inputs as i')
      .innerJoin('builds as b', 'b.id', 'i.build_id')
      .innerJoin('resources as r', 'r.id', 'i.resource_id')
      .innerJoin('resource_config_versions as v', (join) =>
        join
          .onRef('v.version_sha256', '=', 'i.version_sha256')
          .onRef('v.resource_config_scope_id', '=', 'r.resource_config_scope_id'),
      )
      .select([
        'v.id',
        'v.check_order',
        'r.id as resource_id',
        'v.resource_config_scope_id',
        'i.build_id',
        'i.name',
        'b.job_id',
        'b.status',
      ])
      .where('r.pipeline_id', '=', pipelineId)
      .where('r.active', '=', true)
      .where(enabledVersion)
      .execute();
    const reruns = await tx
      .selectFrom('builds as b')
      .innerJoin('jobs as j', 'j.id', 'b.job_id')
      .select(['j.id as job_id', 'b.id', 'b.rerun_of'])
      .where('b.pipeline_id', '=', pipelineId)
      .where('j.active', '=', true)
      .where('b.rerun_of', 'is not', null)
      .execute();

    const versionFields = (row: {
      id: number;
      check_order: number;
      resource_id: number;
      resource_config_scope_id: number;
    }) => ({
      VersionID: row.id,
      ResourceID: row.resource_id,
      CheckOrder: Number(row.check_order),
      ScopeID: row.resource_config_scope_id,
    });
    return {
      Jobs: jobs.map((job) => ({ Name: job.name, ID: job.id })),
      Resources: resources.map((r) => ({ Name: r.name, ID: r.id, ScopeID: r.resource_config_scope_id })),
      ResourceVersions: versions.map(versionFields),
      BuildOutputs: [
        ...outputs.map((row) => ({ ...versionFields(row), BuildID: row.build_id, JobID: row.job_id ?? 0 })),
        ...inputs
          .filter((row) => row.status === 'succeeded')
          .map((row) => ({ ...versionFields(row), BuildID: row.build_id, JobID: row.job_id ?? 0 })),
      ],
      BuildInputs: inputs.map((row) => ({
        ...versionFields(row),
        BuildID: row.build_id,
        JobID: row.job_id ?? 0,
        InputName: row.name,
      })),
      BuildReruns: reruns.map((row) => ({ BuildID: row.id, JobID: row.job_id, RerunOf: row.rerun_of ?? 0 })),
    };
  });
}
