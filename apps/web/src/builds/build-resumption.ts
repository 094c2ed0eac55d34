// Which builds a web node can go on with after a restart, and what they run with (vars, resource types,
// recorders): a job build as its job build starter started it, a team's one-off build (`fly execute`) with the
// team's credentials. Others — `fly execute -j` one-offs, check builds — are not resumed (their interrupted
// steps are collected and the build ends errored, as before).
import type { BuildRecord } from '@jetbridge/db';
import type { AppContext } from '../app-context.js';
import { oneOffBuildVarsResolver } from '../creds/build-vars-resolver.js';
import { noCredentials } from '../creds/index.js';
import type { PipelineBuildRun } from './build-tracker.js';

export async function resumedBuildRun(
  ctx: AppContext,
  build: BuildRecord,
): Promise<PipelineBuildRun | undefined> {
  if (build.jobId !== null) return ctx.jobBuildStarter?.resumedRun(build.id);
  if (build.pipelineId === null)
    return { vars: oneOffBuildVarsResolver(ctx.credentials ?? noCredentials, build.teamName) };
  return undefined;
}
