// Which builds a web node can go on with after a restart, and what they run with (vars, resource types,
// recorders): a job build as its job build starter started it, a team's one-off build (`fly execute`) with the
// team's credentials, a pipeline's one-off build (`fly execute -j`) as the API started it (pipelineOneOffRun).
// Check builds are not resumed (their interrupted steps are collected and the build ends errored, as before):
// see resumedBuildRun.
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
  // A check build (of a resource or a resource type) runs with its checker's recorder: the scope its versions
  // go to, the check's end time and interval, the jobs waiting for it, the cross-node lock of its config —
  // state of the checker that started it, which a restarted node does not have. It ends errored; the
  // resource's next check (its check_every) runs a fresh one, as after any failed check.
  if ((await findBuildCheckTarget(ctx.db, build.id)) !== undefined) return undefined;
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
