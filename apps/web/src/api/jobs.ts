// Jobs (concourse-api.md §1.5, §2.5, §2.7, §6.7–6.10, §6.15; Concourse's atc/api/jobserver): listing jobs
// with their latest and next builds, a job's builds, triggering and rerunning (the builds are created
// pending; the scheduler starts them), pausing, next inputs, badges, clearing task caches.
import {
  createJobBuild,
  createRerunBuild,
  findFinishedAndNextBuilds,
  findJob,
  findJobBuild,
  findNextBuildInputs,
  InvalidPageError,
  listJobBuilds,
  listJobInputs,
  listJobOutputs,
  listJobSummaries,
  listResources,
  pauseJob,
  requestScheduleForJob,
  unpauseJob,
  type JobRecord,
  type JobSummaryBuild,
  type JobSummaryRecord,
  type Json,
  type PipelineBuildsPage,
  type PipelineWithoutConfig,
} from '@jetbridge/db';
import { jobInputs, parsePipelineConfig, type JobConfig, type JobInput } from '@jetbridge/pipeline-config';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../app-context.js';
import type { Accessor } from '../auth/accessor.js';
import { pathParam, requestQuery } from '../auth/requested-pipeline.js';
import { HttpError } from '../http-error.js';
import { sendBadge } from './badge.js';
import { parseBuildPage } from './builds.js';
import { sendJsonApiNotFound } from './json-api-not-found.js';
import { pageLinks, pipelinePath, presentPipelineBuild, unixSeconds } from './pipeline-json.js';
import { pipelineSchedulingOf } from './pipeline-scheduling.js';
import { requirePipeline } from './pipelines.js';

async function requireJob(
  request: FastifyRequest,
  ctx: AppContext,
  pipeline: PipelineWithoutConfig,
): Promise<JobRecord> {
  const job = await findJob(ctx.db, pipeline.id, pathParam(request, 'job_name'));
  if (!job) throw HttpError.notFound();
  return job;
}

/** What Job and JobSummary share; `pausedAt` in Unix seconds. */
type JobHeadFields = Pick<
  JobSummaryRecord,
  | 'id'
  | 'name'
  | 'teamName'
  | 'pipelineId'
  | 'pipelineName'
  | 'pipelineInstanceVars'
  | 'paused'
  | 'pausedBy'
  | 'pausedAt'
  | 'hasNewInputs'
  | 'groups'
>;

/** Fields Job and JobSummary share, in `atc.Job` order up to `groups`. */
function jobHead(job: JobHeadFields): Record<string, unknown> {
  const json: Record<string, unknown> = {
    id: job.id,
    name: job.name,
    team_name: job.teamName,
    pipeline_id: job.pipelineId,
    pipeline_name: job.pipelineName,
  };
  if (hasInstanceVars(job)) json['pipeline_instance_vars'] = job.pipelineInstanceVars;
  if (job.paused) json['paused'] = true;
  if (job.pausedBy) json['paused_by'] = job.pausedBy;
  if (job.pausedAt !== null) json['paused_at'] = job.pausedAt;
  if (job.hasNewInputs) json['has_new_inputs'] = true;
  if (job.groups.length > 0) json['groups'] = job.groups;
  return json;
}

function hasInstanceVars(job: Pick<JobHeadFields, 'pipelineInstanceVars'>): boolean {
  return job.pipelineInstanceVars !== null && Object.keys(job.pipelineInstanceVars).length > 0;
}

/**
 * `atc.JobSummary` (`pipeline.Dashboard`, `jobFactory.VisibleJobs`): builds as summaries, fields omitted when
 * empty. Built from the one-query list (listJobSummaries); keys in the order `present.JobSummary` gives.
 */
function presentJobSummary(job: JobSummaryRecord): Record<string, unknown> {
  const json = jobHead(job);
  const withInstanceVars = hasInstanceVars(job);
  // `atc.BuildSummary`: a job's builds belong to its pipeline and team.
  const summary = (build: JobSummaryBuild): Record<string, unknown> => {
    const built: Record<string, unknown> = { id: build.id, name: build.name, status: build.status };
    if (build.startTime !== null) built['start_time'] = build.startTime;
    if (build.endTime !== null) built['end_time'] = build.endTime;
    built['team_name'] = job.teamName;
    built['pipeline_id'] = job.pipelineId;
    built['pipeline_name'] = job.pipelineName;
    if (withInstanceVars) built['pipeline_instance_vars'] = job.pipelineInstanceVars;
    built['job_name'] = job.name;
    return built;
  };
  if (job.finishedBuild) json['finished_build'] = summary(job.finishedBuild);
  if (job.nextBuild) json['next_build'] = summary(job.nextBuild);
  if (job.inputs.length > 0) {
    json['inputs'] = job.inputs.map((input) => ({
      name: input.name,
      resource: input.resource,
      ...(input.passed.length > 0 ? { passed: input.passed } : {}),
      ...(input.trigger ? { trigger: true } : {}),
    }));
  }
  if (job.outputs.length > 0) json['outputs'] = job.outputs;
  return json;
}

/** `atc.Job` (`present.Job`): next/finished builds always present (null when none), inputs without versions. */
async function presentJob(
  ctx: AppContext,
  job: JobRecord,
  accessor: Accessor,
): Promise<Record<string, unknown>> {
  const [builds, inputs, outputs] = await Promise.all([
    findFinishedAndNextBuilds(ctx.db, [job.id]),
    listJobInputs(ctx.db, [job.id]),
    listJobOutputs(ctx.db, [job.id]),
  ]);
  const { finished, next } = builds.get(job.id) ?? { finished: null, next: null };
  const showComment = job.public || accessor.hasTeamRole(job.teamName, 'viewer');
  const json = jobHead({ ...job, pausedAt: job.pausedAt ? unixSeconds(job.pausedAt) : null });
  if (job.firstLoggedBuildId) json['first_logged_build_id'] = job.firstLoggedBuildId;
  if (job.disableManualTrigger) json['disable_manual_trigger'] = true;
  if (job.disableReruns) json['disable_reruns'] = true;
  json['next_build'] = next ? presentPipelineBuild(next, { showComment }) : null;
  json['finished_build'] = finished ? presentPipelineBuild(finished, { showComment }) : null;
  const jobInputs = inputs.get(job.id) ?? [];
  if (jobInputs.length > 0) {
    json['inputs'] = jobInputs.map((input) => ({
      name: input.name,
      resource: input.resource,
      trigger: input.trigger,
      ...(input.passed.length > 0 ? { passed: input.passed } : {}),
    }));
  }
  const jobOutputs = outputs.get(job.id) ?? [];
  if (jobOutputs.length > 0) json['outputs'] = jobOutputs.map(({ name, resource }) => ({ name, resource }));
  return json;
}

/** A stored job config decoded back into its typed form (undefined for an archived job). */
export function decodeJobConfig(config: Record<string, Json> | null): JobConfig | undefined {
  if (config === null) return undefined;
  return parsePipelineConfig(JSON.stringify({ jobs: [config] }), 'application/json').config?.jobs?.[0];
}

function sourceOf(config: Record<string, Json> | null): Json {
  return config?.['source'] ?? null;
}

export async function jobRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const scheduling = pipelineSchedulingOf(ctx);
  const J = '/api/v1/teams/:team_name/pipelines/:pipeline_name/jobs/:job_name';

  app.get('/api/v1/jobs', { config: { access: { kind: 'open' } } }, async (request) => {
    const accessor = request.accessor;
    const teamNames = accessor.isAdmin ? undefined : accessor.visibleTeamNames();
    return (await listJobSummaries(ctx.db, { teamNames })).map(presentJobSummary);
  });

  app.get(
    '/api/v1/teams/:team_name/pipelines/:pipeline_name/jobs',
    { config: { access: { kind: 'pipeline' } } },
    async (request) => {
      const pipeline = await requirePipeline(request, ctx);
      return (await listJobSummaries(ctx.db, { pipelineId: pipeline.id })).map(presentJobSummary);
    },
  );

  app.get(J, { config: { access: { kind: 'pipeline' } } }, async (request) => {
    const pipeline = await requirePipeline(request, ctx);
    return presentJob(ctx, await requireJob(request, ctx, pipeline), request.accessor);
  });

  app.get(`${J}/builds`, { config: { access: { kind: 'pipeline' } } }, async (request, reply) => {
    const pipeline = await requirePipeline(request, ctx);
    const job = await requireJob(request, ctx, pipeline);
    const page = parseBuildPage(Object.fromEntries(requestQuery(request)));
    let result: PipelineBuildsPage;
    try {
      result = await listJobBuilds(ctx.db, job.id, page);
    } catch (err) {
      // Concourse answers a failed listing of a job's builds with 404.
      if (err instanceof InvalidPageError) throw HttpError.notFound();
      throw err;
    }
    const base = `${ctx.config.externalUrl}${pipelinePath(pipeline)}/jobs/${encodeURIComponent(job.name)}/builds`;
    const links = pageLinks(base, result, page.limit, pipeline.instanceVars);
    if (links.length > 0) reply.header('link', links);
    const showComment = job.public || request.accessor.hasTeamRole(job.teamName, 'viewer');
    return result.builds.map((build) => presentPipelineBuild(build, { showComment }));
  });

  app.post(
    `${J}/builds`,
    { config: { access: { kind: 'team-pipeline', role: 'pipeline-operator' } } },
    async (request) => {
      const pipeline = await requirePipeline(request, ctx);
      const job = await requireJob(request, ctx, pipeline);
      if (job.disableManualTrigger)
        throw new HttpError(409, 'manual triggering is disabled for this job', '');
      const build = await createJobBuild(ctx.db, job.id, {
        createdBy: request.accessor.displayUserId,
        manuallyTriggered: true,
      });
      if (!build) throw HttpError.notFound();
      request.log.info({ buildId: build.id, job: job.name, buildName: build.name }, 'job triggered');
      scheduling.jobBuildCreated({ id: build.id, jobId: job.id, pipelineId: pipeline.id, rerunOf: null });
      // Concourse answers 200 here (fly accepts 201 too).
      return presentPipelineBuild(build, { showComment: false });
    },
  );

  app.get(`${J}/builds/:build_name`, { config: { access: { kind: 'pipeline' } } }, async (request) => {
    const pipeline = await requirePipeline(request, ctx);
    const job = await requireJob(request, ctx, pipeline);
    const build = await findJobBuild(ctx.db, job.id, pathParam(request, 'build_name'));
    if (!build) throw HttpError.notFound();
    const showComment = job.public || request.accessor.hasTeamRole(job.teamName, 'viewer');
    return presentPipelineBuild(build, { showComment });
  });

  app.post(
    `${J}/builds/:build_name`,
    { config: { access: { kind: 'team-pipeline', role: 'pipeline-operator' } } },
    async (request) => {
      const pipeline = await requirePipeline(request, ctx);
      const job = await requireJob(request, ctx, pipeline);
      if (job.disableReruns) throw new HttpError(409, 'reruns are disabled for this job', '');
      const original = await findJobBuild(ctx.db, job.id, pathParam(request, 'build_name'));
      if (!original) throw HttpError.notFound();
      // Only a build whose inputs were recorded can be rerun with them (Concourse answers 500; a conflict here).
      if (!original.inputsReady) throw HttpError.conflict('build inputs are not ready');
      const build = await createRerunBuild(ctx.db, original.id, request.accessor.displayUserId);
      if (!build) throw HttpError.notFound();
      request.log.info({ buildId: build.id, rerunOf: original.id, buildName: build.name }, 'build rerun');
      scheduling.jobBuildCreated({
        id: build.id,
        jobId: job.id,
        pipelineId: pipeline.id,
        rerunOf: build.rerunOf,
      });
      return presentPipelineBuild(build, { showComment: false });
    },
  );

  app.get(`${J}/inputs`, { config: { access: { kind: 'team', role: 'viewer' } } }, async (request) => {
    const pipeline = await requirePipeline(request, ctx);
    const job = await requireJob(request, ctx, pipeline);
    const inputs = await findNextBuildInputs(ctx.db, job.id);
    if (!inputs) throw HttpError.notFound();
    const configured = new Map<string, JobInput>(
      jobInputs(decodeJobConfig(job.config) ?? { name: job.name }).map((input) => [input.name, input]),
    );
    const resources = new Map(
      (await listResources(ctx.db, pipeline.id)).map((resource) => [resource.name, resource]),
    );
    return inputs.map((input) => {
      const config = configured.get(input.inputName);
      const resource = config ? resources.get(config.resource) : undefined;
      if (!config || !resource) throw new HttpError(500, `input ${input.inputName} has no resource`, '');
      return {
        name: input.inputName,
        resource: resource.name,
        type: resource.type,
        source: sourceOf(resource.config),
        ...(config.params !== undefined && Object.keys(config.params).length > 0
          ? { params: config.params }
          : {}),
        version: input.version,
        ...(config.tags !== undefined && config.tags.length > 0 ? { tags: config.tags } : {}),
      };
    });
  });

  for (const action of ['pause', 'unpause'] as const) {
    app.put(
      `${J}/${action}`,
      { config: { access: { kind: 'team', role: 'pipeline-operator' } } },
      async (request, reply) => {
        const pipeline = await requirePipeline(request, ctx);
        const job = await requireJob(request, ctx, pipeline);
        if (action === 'pause') {
          await pauseJob(ctx.db, job.id, request.accessor.displayUserId);
        } else {
          await unpauseJob(ctx.db, job.id);
          scheduling.scheduleRequested(`job ${job.id} unpaused`);
        }
        return reply.code(200).send();
      },
    );
  }

  app.put(
    `${J}/schedule`,
    { config: { access: { kind: 'team-pipeline', role: 'pipeline-operator' } } },
    async (request, reply) => {
      const pipeline = await requirePipeline(request, ctx);
      const job = await requireJob(request, ctx, pipeline);
      await requestScheduleForJob(ctx.db, job.id);
      scheduling.scheduleRequested(`job ${job.id} scheduled by hand`);
      return reply.code(200).send();
    },
  );

  app.get(`${J}/badge`, { config: { access: { kind: 'pipeline' } } }, async (request, reply) => {
    const pipeline = await requirePipeline(request, ctx);
    const job = await requireJob(request, ctx, pipeline);
    const { finished } = (await findFinishedAndNextBuilds(ctx.db, [job.id])).get(job.id) ?? {
      finished: null,
    };
    return sendBadge(reply, finished?.status, requestQuery(request).get('title') ?? undefined);
  });

  // The pre-teams badge URL: a permanent redirect to the main team's (mainredirect.Handler).
  app.get(
    '/api/v1/pipelines/:pipeline_name/jobs/:job_name/badge',
    { config: { access: { kind: 'open' } } },
    async (request, reply) => {
      const pipeline = encodeURIComponent(pathParam(request, 'pipeline_name'));
      const job = encodeURIComponent(pathParam(request, 'job_name'));
      return reply.redirect(`/api/v1/teams/main/pipelines/${pipeline}/jobs/${job}/badge`, 301);
    },
  );

  app.delete(
    `${J}/tasks/:step_name/cache`,
    { config: { access: { kind: 'team', role: 'pipeline-operator' } } },
    async (request, reply) => {
      const pipeline = await requirePipeline(request, ctx);
      const jobName = pathParam(request, 'job_name');
      const job = await findJob(ctx.db, pipeline.id, jobName);
      if (!job) return sendJsonApiNotFound(reply, 'Job', jobName);
      // Task caches live with the runtime's volumes; none are tracked per job yet, so none are removed.
      return { caches_removed: 0 };
    },
  );
}
