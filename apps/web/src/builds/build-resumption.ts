// Which builds a web node can go on with after a restart, and what they run with (vars, resource types,
// recorders): a job build as its job build starter started it, a team's one-off build (`fly execute`) with the
// team's credentials, a pipeline's one-off build (`fly execute -j`) as the API started it (pipelineOneOffRun),
// a check build (of a resource or a resource type) as its checker ran it.
import { findBuildCheckTarget, findPipelineById, type BuildRecord, type PipelineRecord } from '@jetbridge/db';
import type { AppContext } from '../app-context.js';
import { loadStoredPipeline } from '../checking/stored-pipeline-config.js';
import { oneOffBuildVarsResolver, pipelineBuildVarsResolver } from '../creds/build-vars-resolver.js';
import { noCredentials } from '../creds/index.js';
import type { PipelineBuildRun } from './build-tracker.js';

export async function resumedBuildRun(
  ctx: AppContext,
  build: BuildRecord,
): Promise<PipelineBuildRun | undefined> {
  if (build.jobId !== null) return ctx.jobBuildStarter?.resumedRun(build.id);
  if (build.pipelineId === null)
    return { vars: oneOffBuildVarsResolver(ctx.credentials ?? noCredentials, build.teamName) };
  // A check build: its checker saves the versions found and records the check, as it would have.
  const checked = await findBuildCheckTarget(ctx.db, build.id);
  if (checked !== undefined) {
    return 'resourceId' in checked
      ? ctx.checker?.resumedRun(build, checked.resourceId)
      : ctx.resourceTypeChecker?.resumedRun(build, checked.resourceTypeId);
  }
  const pipeline = await findPipelineById(ctx.db, build.pipelineId);
  if (pipeline === undefined) return undefined;
  return pipelineOneOffRun(ctx, pipeline);
}

/**
 * What a pipeline's one-off build (`fly execute -j`, Concourse's CreatePipelineBuild) runs with: the
 * pipeline's identity, its vars (its var_sources while it has a config) and the cluster's resource types.
 */
export async function pipelineOneOffRun(
  ctx: AppContext,
  pipeline: Pick<PipelineRecord, 'id' | 'name' | 'teamId' | 'teamName' | 'instanceVars'>,
): Promise<PipelineBuildRun> {
  const stored = await loadStoredPipeline(ctx.db, pipeline.id);
  return {
    identity: {
      teamId: pipeline.teamId,
      pipelineId: pipeline.id,
      pipelineName: pipeline.name,
      ...(pipeline.instanceVars !== null ? { pipelineInstanceVars: pipeline.instanceVars } : {}),
    },
    vars: pipelineBuildVarsResolver(ctx.credentials ?? noCredentials, pipeline, stored?.config.var_sources),
    ...(ctx.resourceTypes !== undefined ? { resourceTypes: ctx.resourceTypes } : {}),
    defaultCheckTimeoutMs: ctx.config.globalResourceCheckTimeoutMs,
  };
}
