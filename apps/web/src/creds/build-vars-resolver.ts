// The `((var))` resolver of a stored build, rebuilt from what the database knows about it: the cluster's
// credential manager in its team's context, plus its pipeline's name and `var_sources` for a pipeline build
// (a job build or `fly execute -j`) — the same resolver the node that started the build gave the engine.
// Used where a node deals with a build it did not start (step recovery after a restart or a replica's death).
import type { Database, Kysely } from '@jetbridge/db';
import type { VarsResolver } from '@jetbridge/exec';
import { loadStoredPipeline } from '../checking/stored-pipeline-config.js';
import type { CredentialManager } from './credential-manager.js';
import { pipelineVarsResolver } from './pipeline-vars-resolver.js';

/** The pipeline of a pipeline build is gone or archived: its var sources and lookup context are unknown. */
export class BuildPipelineUnavailableError extends Error {
  constructor(pipelineId: number) {
    super(`pipeline ${pipelineId} of the build is gone or archived`);
    this.name = 'BuildPipelineUnavailableError';
  }
}

export async function buildVarsResolver(
  db: Kysely<Database>,
  manager: CredentialManager,
  build: { teamName: string; pipelineId: number | null },
): Promise<VarsResolver> {
  // A team's one-off build: `<team>/<var>` only (as api/builds.ts gives `fly execute` without -j).
  if (build.pipelineId === null) return pipelineVarsResolver(manager, { teamName: build.teamName });
  const stored = await loadStoredPipeline(db, build.pipelineId);
  if (stored === undefined) throw new BuildPipelineUnavailableError(build.pipelineId);
  return pipelineVarsResolver(manager, {
    teamName: stored.pipeline.teamName,
    pipelineName: stored.pipeline.name,
    varSources: stored.config.var_sources ?? [],
  });
}
