// Test support: a real PostgreSQL with the schema, pipelines set from YAML through the same save the API
// uses, versions saved as a check saves them, and upstream builds recorded as the build runner records
// them. Nothing here is used outside tests.
import {
  connectDatabase,
  createJobBuild,
  findJob,
  findOrCreateResourceConfig,
  findOrCreateResourceConfigScope,
  findResource,
  migrateToLatest,
  pinResourceVersion,
  saveBuildInputs,
  saveBuildOutput,
  savePipeline,
  saveResourceVersions,
  setResourceConfigScope,
  sql,
  versionSha256,
  type BuildStatus,
  type Database,
  type DatabaseHandle,
  type Json,
  type Kysely,
  type SavedJob,
  type VersionJson,
} from '@jetbridge/db';
import { startTestPostgres, type TestPostgres } from '@jetbridge/db/testing';
import {
  effectiveMaxInFlight,
  effectiveSerialGroups,
  goPathMatch,
  jobInputs,
  jobOutputs,
  parsePipelineConfig,
  toConfigJson,
  type ConfigJson,
} from '@jetbridge/pipeline-config';
import type {
  BuildStarter,
  BuildStartOutcome,
  SchedulableBuild,
  BuildInputVersion,
} from '../build-starter.js';

export class SchedulerTestDatabase {
  private constructor(
    private readonly postgres: TestPostgres,
    private readonly handle: DatabaseHandle,
    readonly teamId: number,
  ) {}

  get db(): Kysely<Database> {
    return this.handle.db;
  }

  static async start(): Promise<SchedulerTestDatabase> {
    const postgres = await startTestPostgres();
    const handle = connectDatabase({ ...postgres.connection, maxConnections: 20 });
    await migrateToLatest(handle.db);
    const team = await handle.db
      .insertInto('teams')
      .values({ name: 'main', auth: '{}' })
      .returning('id')
      .executeTakeFirstOrThrow();
    return new SchedulerTestDatabase(postgres, handle, team.id);
  }

  /** A second connection pool to the same database, as another web node would have. */
  connectAgain(): DatabaseHandle {
    return connectDatabase({ ...this.postgres.connection, maxConnections: 10 });
  }

  /** Save a pipeline config (unpaused unless asked), the way `fly set-pipeline` + unpause would. */
  async setPipeline(name: string, yaml: string, options: { paused?: boolean } = {}): Promise<TestPipeline> {
    const parsed = parsePipelineConfig(yaml);
    if (!parsed.config) throw new Error(parsed.errors.join('\n'));
    const config = parsed.config;
    const json = toConfigJson(config);
    const jobsJson = (json['jobs'] ?? []) as ConfigJson[];
    const resourcesJson = (json['resources'] ?? []) as ConfigJson[];
    const jobNames = (config.jobs ?? []).map((job) => job.name);
    const jobs: SavedJob[] = (config.jobs ?? []).map((job, index) => ({
      name: job.name,
      config: (jobsJson[index] ?? {}) as Record<string, Json>,
      public: false,
      maxInFlight: effectiveMaxInFlight(job),
      disableManualTrigger: false,
      disableReruns: false,
      interruptible: false,
      serialGroups: effectiveSerialGroups(job),
      groups: [],
      inputs: jobInputs(job).map((input) => ({
        name: input.name,
        resource: input.resource,
        passedJobs: (input.passed ?? []).flatMap((glob) =>
          jobNames.filter((jobName) => goPathMatch(glob, jobName)),
        ),
        trigger: input.trigger,
        version: input.version === undefined || input.version === '' ? null : (input.version as Json),
      })),
      outputs: jobOutputs(job),
    }));
    const { pipeline } = await savePipeline(this.db, {
      teamId: this.teamId,
      name,
      instanceVars: null,
      fromVersion: 0,
      initiallyPaused: options.paused === true,
      config: {
        config: json as Record<string, Json>,
        groups: null,
        display: null,
        userData: null,
        resources: (config.resources ?? []).map((resource, index) => ({
          name: resource.name,
          type: resource.type,
          config: (resourcesJson[index] ?? {}) as Record<string, Json>,
          public: false,
          checkEvery: null,
          webhookToken: null,
          pinnedVersion:
            resource.version && Object.keys(resource.version).length > 0
              ? (resource.version as VersionJson)
              : null,
        })),
        resourceTypes: [],
        jobs,
      },
    });
    return new TestPipeline(this.db, pipeline.id);
  }

  async close(): Promise<void> {
    await this.handle.close();
    await this.postgres.destroy();
  }
}

export class TestPipeline {
  constructor(
    readonly db: Kysely<Database>,
    readonly id: number,
  ) {}

  async jobId(name: string): Promise<number> {
    const job = await findJob(this.db, this.id, name);
    if (!job) throw new Error(`no job ${name}`);
    return job.id;
  }

  async resourceId(name: string): Promise<number> {
    const resource = await findResource(this.db, this.id, name);
    if (!resource) throw new Error(`no resource ${name}`);
    return resource.id;
  }

  /** Versions as a check finds them, oldest first (the resource gets its scope on first use). */
  async addVersions(resource: string, versions: readonly VersionJson[]): Promise<void> {
    const scopeId = await this.scopeOf(resource);
    await saveResourceVersions(
      this.db,
      scopeId,
      versions.map((version) => ({ version })),
    );
  }

  private async scopeOf(resourceName: string): Promise<number> {
    const resource = await findResource(this.db, this.id, resourceName);
    if (!resource) throw new Error(`no resource ${resourceName}`);
    if (resource.resourceConfigScopeId !== null) return resource.resourceConfigScopeId;
    const configId = await findOrCreateResourceConfig(this.db, resource.type, {
      pipeline: this.id,
      resource: resource.name,
    });
    const scopeId = await findOrCreateResourceConfigScope(this.db, configId, resource.id);
    await setResourceConfigScope(this.db, resource.id, configId, scopeId);
    return scopeId;
  }

  async disableVersion(resource: string, version: VersionJson): Promise<void> {
    await this.db
      .insertInto('resource_disabled_versions')
      .values({ resource_id: await this.resourceId(resource), version_sha256: versionSha256(version) })
      .execute();
  }

  /** `fly pin-resource`. */
  async pin(resource: string, version: VersionJson): Promise<void> {
    const resourceId = await this.resourceId(resource);
    const row = await this.db
      .selectFrom('resource_config_versions')
      .select('id')
      .where('version_sha256', '=', versionSha256(version))
      .executeTakeFirstOrThrow();
    expectValue(await pinResourceVersion(this.db, resourceId, row.id), 'pinned');
  }

  /**
   * A finished build of `job` as the build runner leaves it: created, its inputs recorded, its puts' versions
   * saved, then finished with `status`. Inputs map an input name to [resource, version].
   */
  async finishedBuild(
    job: string,
    status: BuildStatus,
    inputs: Record<string, [string, VersionJson]>,
    outputs: Record<string, [string, VersionJson]> = {},
  ): Promise<number> {
    const build = await createJobBuild(this.db, await this.jobId(job), {
      createdBy: null,
      manuallyTriggered: false,
    });
    if (!build) throw new Error(`could not create a build of ${job}`);
    await saveBuildInputs(
      this.db,
      build.id,
      await Promise.all(
        Object.entries(inputs).map(async ([name, [resource, version]]) => ({
          name,
          resourceId: await this.resourceId(resource),
          version,
          firstOccurrence: false,
        })),
      ),
    );
    for (const [name, [resource, version]] of Object.entries(outputs)) {
      await saveBuildOutput(this.db, build.id, {
        name,
        resourceId: await this.resourceId(resource),
        version,
      });
    }
    await this.db
      .updateTable('builds')
      .set({ status, start_time: sql<Date>`now()`, end_time: sql<Date>`now()` })
      .where('id', '=', build.id)
      .execute();
    return build.id;
  }

  /** The job's next-build inputs: each input's version, or `error: <reason>`. */
  async nextInputs(job: string): Promise<Record<string, VersionJson | string>> {
    const rows = await this.db
      .selectFrom('next_build_inputs as n')
      .leftJoin('resources as r', 'r.id', 'n.resource_id')
      .leftJoin('resource_config_versions as v', (join) =>
        join
          .onRef('v.resource_config_scope_id', '=', 'r.resource_config_scope_id')
          .onRef('v.version_sha256', '=', 'n.version_sha256'),
      )
      .select(['n.input_name', 'n.resolve_error', 'v.version'])
      .where('n.job_id', '=', await this.jobId(job))
      .execute();
    return Object.fromEntries(
      rows.map((row) => [row.input_name, row.version ?? `error: ${row.resolve_error ?? 'unknown version'}`]),
    );
  }

  /** The job's builds, oldest first. */
  async builds(
    job: string,
  ): Promise<Array<{ id: number; name: string; status: BuildStatus; scheduled: boolean }>> {
    return this.db
      .selectFrom('builds')
      .select(['id', 'name', 'status', 'scheduled'])
      .where('job_id', '=', await this.jobId(job))
      .orderBy('id')
      .execute();
  }

  /** The versions a build took, by input name. */
  async buildInputs(buildId: number): Promise<Record<string, VersionJson>> {
    const rows = await this.db
      .selectFrom('build_resource_config_version_inputs as i')
      .innerJoin('resources as r', 'r.id', 'i.resource_id')
      .innerJoin('resource_config_versions as v', (join) =>
        join
          .onRef('v.resource_config_scope_id', '=', 'r.resource_config_scope_id')
          .onRef('v.version_sha256', '=', 'i.version_sha256'),
      )
      .select(['i.name', 'v.version'])
      .where('i.build_id', '=', buildId)
      .execute();
    return Object.fromEntries(rows.map((row) => [row.name, row.version]));
  }

  async setBuildStatus(buildId: number, status: BuildStatus): Promise<void> {
    await this.db.updateTable('builds').set({ status }).where('id', '=', buildId).execute();
  }
}

function expectValue<T>(actual: T, expected: T): void {
  if (actual !== expected) throw new Error(`expected ${String(expected)}, got ${String(actual)}`);
}

/**
 * A BuildStarter that does what a real one does to the database — the build becomes `started` — and
 * remembers what it was given, so tests can see which builds started with which inputs.
 */
export class RecordingBuildStarter implements BuildStarter {
  readonly started: Array<{ build: SchedulableBuild; inputs: Record<string, VersionJson> }> = [];
  readonly aborted: number[] = [];
  /** Every build id startBuild was called with, including calls that found the build no longer pending. */
  readonly calls: number[] = [];

  constructor(private readonly db: Kysely<Database>) {}

  async startBuild(
    build: SchedulableBuild,
    inputs: readonly BuildInputVersion[],
  ): Promise<BuildStartOutcome> {
    this.calls.push(build.id);
    const result = await this.db
      .updateTable('builds')
      .set({ status: 'started', start_time: sql<Date>`now()` })
      .where('id', '=', build.id)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) return { started: false, reason: 'no longer pending', errored: false };
    this.started.push({
      build,
      inputs: Object.fromEntries(inputs.map((input) => [input.name, input.version])),
    });
    return { started: true };
  }

  async abortPendingBuild(build: SchedulableBuild): Promise<void> {
    await this.db
      .updateTable('builds')
      .set({ status: 'aborted', end_time: sql<Date>`now()` })
      .where('id', '=', build.id)
      .where('status', '=', 'pending')
      .execute();
    this.aborted.push(build.id);
  }

  /** Names of the started builds of one job, in start order. */
  startedNames(jobName: string): string[] {
    return this.started.filter((s) => s.build.jobName === jobName).map((s) => s.build.name);
  }
}
