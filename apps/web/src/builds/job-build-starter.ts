// Starting a job's pending build once the scheduler has chosen its inputs (Concourse's
// atc/scheduler/buildstarter.go, from "plan it" on): the job's config at the pipeline's current version is
// planned with those versions, the inputs are recorded (first_occurrence as the scheduler decided; this is
// what `GET /builds/:id/resources` and later input resolution read), and the build runs through the build
// tracker with the pipeline's credentials, the local resource types, and a recorder that saves what puts
// produce and pipelines set_pipeline sets. A plan that cannot be made (a get without a version, an unknown
// resource) finishes the build errored before it starts.
//
// The scheduler (@jetbridge/scheduler) calls it through its BuildStarter interface, which this class meets
// structurally. When a build finishes, a succeeded build archives the pipelines an older build of the job
// had set (Concourse's build.Finish), then `onBuildFinished` lets the scheduler look at downstream jobs.
import {
  archivePipeline,
  findPipelineBuild,
  saveBuildInputs,
  sql,
  type Database,
  type PipelineBuildRecord,
  type Kysely,
} from '@jetbridge/db';
import type { BuildOutcome, ResourceTypeResolver } from '@jetbridge/exec';
import type { Version } from '@jetbridge/plan';
import { planJobBuild, PlanIdFactory } from '@jetbridge/planner';
import type { FastifyBaseLogger } from 'fastify';
import { ResourceConfigScopes } from '../checking/resource-config-scopes.js';
import { loadStoredPipeline, type StoredPipeline } from '../checking/stored-pipeline-config.js';
import { pipelineBuildVarsResolver } from '../creds/build-vars-resolver.js';
import type { CredentialManager } from '../creds/index.js';
import type { BuildTracker, PipelineBuildRun } from './build-tracker.js';
import { jobBuildRecorder } from './job-build-recorder.js';
import { jobBuildPipelineSetter } from './job-build-set-pipeline.js';

/** The version the scheduler chose for one of the job's get steps (its BuildInputVersion fits). */
export interface JobBuildInput {
  /** The get step's name. */
  name: string;
  resourceId: number;
  version: Version;
  /** No earlier build of the job used this version for this input. */
  firstOccurrence: boolean;
}

export type JobBuildStart =
  | { started: true }
  /** `errored`: the build was finished errored (its plan could not be made). */
  | { started: false; reason: string; errored: boolean };

/** What the scheduler calls once a pending build may start with `inputs`, or will never start. */
export interface BuildStarter {
  startBuild(build: { id: number }, inputs: readonly JobBuildInput[]): Promise<JobBuildStart>;
  abortPendingBuild(build: { id: number }): Promise<void>;
}

export interface JobBuildStarterOptions {
  db: Kysely<Database>;
  logger: FastifyBaseLogger;
  tracker: BuildTracker;
  credentials: CredentialManager;
  resourceTypes: ResourceTypeResolver;
  globalResources: boolean;
  /** The scheduler's doorbell: jobs were asked to schedule (a put made a version, a pipeline was set). */
  scheduleRequested(reason: string): void;
  /** The checker's doorbell: a set_pipeline step saved a pipeline. */
  resourceScanRequested(reason: string): void;
  /**
   * A started build finished (after its follow-ups): the scheduler looks at its downstream jobs and serial
   * group (`JobScheduler.jobBuildFinished`).
   */
  onBuildFinished(build: { id: number; jobId: number; status: BuildOutcome }): void;
}

export class JobBuildStarter implements BuildStarter {
  private readonly scopes: ResourceConfigScopes;
  private readonly planIds = new PlanIdFactory();

  constructor(private readonly options: JobBuildStarterOptions) {
    this.scopes = new ResourceConfigScopes(options.db, { globalResources: options.globalResources });
  }

  async startBuild(buildRef: { id: number }, inputs: readonly JobBuildInput[]): Promise<JobBuildStart> {
    const { db, tracker, logger } = this.options;
    const build = await findPipelineBuild(db, buildRef.id);
    if (build === undefined || build.jobId === null || build.pipelineId === null) {
      return { started: false, reason: 'not a job build', errored: false };
    }
    if (build.status !== 'pending')
      return { started: false, reason: `build is ${build.status}`, errored: false };
    const jobId = build.jobId;
    const stored = await loadStoredPipeline(db, build.pipelineId);
    const job = stored?.config.jobs?.find((candidate) => candidate.name === build.jobName);
    if (stored === undefined || job === undefined) {
      return this.fail(build.id, `job ${build.jobName ?? jobId} is not in the pipeline's config`);
    }

    let plan;
    try {
      plan = planJobBuild({
        job,
        resources: stored.config.resources ?? [],
        resourceTypes: stored.config.resource_types ?? [],
        prototypes: stored.config.prototypes ?? [],
        inputs: inputs.map(({ name, version }) => ({ name, version })),
        manuallyTriggered: build.manuallyTriggered,
        planIds: this.planIds,
      });
    } catch (err) {
      return this.fail(build.id, err instanceof Error ? err.message : String(err));
    }

    // The scheduler records the inputs it adopts; a direct caller's are recorded here.
    if (!build.inputsReady) {
      await saveBuildInputs(
        db,
        build.id,
        inputs.map(({ name, resourceId, version, firstOccurrence }) => ({
          name,
          resourceId,
          version,
          firstOccurrence,
        })),
      );
    }

    const started = await tracker.startPendingBuild(build.id, plan, this.pipelineRun(build, jobId, stored));
    if (started === undefined)
      return { started: false, reason: 'the build was taken or is no longer pending', errored: false };
    logger.info({ buildId: build.id, jobId, buildName: build.name }, 'job build started');
    return { started: true };
  }

  /**
   * What a job build interrupted by a restart runs with when it resumes on this node (its stored plan
   * replayed): the same vars, resource types, recorder and follow-ups as when it started. Undefined when it
   * is not a job build or its pipeline is gone.
   */
  async resumedRun(buildId: number): Promise<PipelineBuildRun | undefined> {
    const build = await findPipelineBuild(this.options.db, buildId);
    if (build === undefined || build.jobId === null || build.pipelineId === null) return undefined;
    const stored = await loadStoredPipeline(this.options.db, build.pipelineId);
    if (stored === undefined) return undefined;
    return this.pipelineRun(build, build.jobId, stored);
  }

  private pipelineRun(build: PipelineBuildRecord, jobId: number, stored: StoredPipeline): PipelineBuildRun {
    const { db } = this.options;
    const { pipeline, config } = stored;
    const recorder = jobBuildRecorder({
      db,
      scopes: this.scopes,
      buildId: build.id,
      pipelineId: pipeline.id,
      resourceTypes: config.resource_types ?? [],
      onNewVersion: (resource) =>
        this.options.scheduleRequested(`put created a version of resource ${resource.id}`),
    });
    const setPipeline = jobBuildPipelineSetter({
      db,
      buildId: build.id,
      jobId,
      onSaved: (pipelineId) => {
        this.options.scheduleRequested(`pipeline ${pipelineId} set by build ${build.id}`);
        this.options.resourceScanRequested(`pipeline ${pipelineId} set by build ${build.id}`);
      },
    });
    return {
      identity: {
        teamId: build.teamId,
        pipelineId: pipeline.id,
        pipelineName: pipeline.name,
        ...(pipeline.instanceVars !== null ? { pipelineInstanceVars: pipeline.instanceVars } : {}),
        jobId,
        ...(build.jobName !== null ? { jobName: build.jobName } : {}),
        ...(build.createdBy !== null ? { createdBy: build.createdBy } : {}),
      },
      vars: pipelineBuildVarsResolver(this.options.credentials, pipeline, config.var_sources),
      resourceTypes: this.options.resourceTypes,
      ...recorder,
      setPipeline,
      onFinished: (status) => this.finished(build.id, jobId, status),
    };
  }

  /** A pending build that will never start (aborted, or its pipeline archived) ends `aborted`. */
  async abortPendingBuild(build: { id: number }): Promise<void> {
    await this.options.tracker.finishPendingBuild(build.id, 'aborted');
  }

  private async fail(buildId: number, message: string): Promise<JobBuildStart> {
    this.options.logger.info({ buildId, reason: message }, 'job build could not be planned');
    const failed = await this.options.tracker.finishPendingBuild(buildId, 'errored', message);
    return { started: false, reason: message, errored: failed };
  }

  /** build.Finish's follow-up: a success archives the pipelines older builds of the job set, recursively. */
  private async finished(buildId: number, jobId: number, status: BuildOutcome): Promise<void> {
    const { db, logger } = this.options;
    try {
      if (status !== 'succeeded') return;
      const { rows } = await sql<{ id: number }>`
        with recursive pipelines_to_archive as (
          select id from pipelines where not archived and parent_job_id = ${jobId} and parent_build_id < ${buildId}
          union
          select p.id from pipelines p
            join jobs j on p.parent_job_id = j.id
            join pipelines_to_archive pa on j.pipeline_id = pa.id
          where not p.archived
        )
        select id from pipelines_to_archive`.execute(db);
      for (const { id } of rows) {
        await archivePipeline(db, id);
        logger.info({ pipelineId: id, buildId }, 'archived a pipeline an older build had set');
      }
    } finally {
      this.options.onBuildFinished({ id: buildId, jobId, status });
    }
  }
}
