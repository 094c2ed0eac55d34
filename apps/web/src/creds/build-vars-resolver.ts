// The `((var))` resolver of a build: the cluster's credential manager in its team's context, plus its
// pipeline's name and `var_sources` for a pipeline build (a job build or `fly execute -j`). The node that
// starts a build and a node that deals with a build it did not start (step recovery after a restart or a
// replica's death, via `buildVarsResolver`) build it here alike, so both resolve the same vars.
import type { Database, Kysely } from '@jetbridge/db';
import type { VarsResolver } from '@jetbridge/exec';
import { loadStoredPipeline } from '../checking/stored-pipeline-config.js';
import type { CredentialManager } from './credential-manager.js';
import { pipelineVarsResolver, type PipelineVarsContext } from './pipeline-vars-resolver.js';

/** The pipeline of a pipeline build is gone or archived: its var sources and lookup context are unknown. */
export class BuildPipelineUnavailableError extends Error {
  constructor(pipelineId: number) {
    super(`pipeline ${pipelineId} of the build is gone or archived`);
    this.name = 'BuildPipelineUnavailableError';
  }
}

/** A team's one-off build (`fly execute` without -j): `<team>/<var>` only. */
export function oneOffBuildVarsResolver(manager: CredentialManager, teamName: string): VarsResolver {
  return pipelineVarsResolver(manager, { teamName });
}

/** A build of a pipeline (a job build or `fly execute -j`): the pipeline's lookup context and var sources. */
export function pipelineBuildVarsResolver(
  manager: CredentialManager,
  pipeline: { teamName: string; name: string },
  varSources: PipelineVarsContext['varSources'],
): VarsResolver {
  return pipelineVarsResolver(manager, {
    teamName: pipeline.teamName,
    pipelineName: pipeline.name,
    varSources: varSources ?? [],
  });
}

/** The resolver of a stored build, rebuilt from what the database knows about it. */
export async function buildVarsResolver(
  db: Kysely<Database>,
  manager: CredentialManager,
  build: { teamName: string; pipelineId: number | null },
): Promise<VarsResolver> {
  if (build.pipelineId === null) return oneOffBuildVarsResolver(manager, build.teamName);
  const stored = await loadStoredPipeline(db, build.pipelineId);
  if (stored === undefined) throw new BuildPipelineUnavailableError(build.pipelineId);
  return pipelineBuildVarsResolver(manager, stored.pipeline, stored.config.var_sources);
}
