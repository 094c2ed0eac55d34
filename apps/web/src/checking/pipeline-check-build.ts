// What a pipeline's resource checks and resource type checks run with alike: the check build's identity and
// vars come from its pipeline, and the next check starts from the newest version its scope has.
import type { Database, Kysely } from '@jetbridge/db';
import type { BuildIdentity, VarsResolver } from '@jetbridge/exec';
import type { Version } from '@jetbridge/plan';
import type { VarSourceConfig } from '@jetbridge/pipeline-config';
import { pipelineBuildVarsResolver } from '../creds/build-vars-resolver.js';
import type { CredentialManager } from '../creds/index.js';

/** The pipeline a checked resource or resource type belongs to, as their rows carry it. */
export interface CheckedPipeline {
  teamId: number;
  teamName: string;
  pipelineId: number;
  pipelineName: string;
  pipelineInstanceVars: Record<string, unknown> | null;
}

/** A check build's identity and `((var))` resolver: its pipeline's, with the pipeline's var sources. */
export function pipelineCheckRun(
  credentials: CredentialManager,
  owner: CheckedPipeline,
  varSources: ReadonlyArray<VarSourceConfig | string> | undefined,
): {
  identity: Pick<BuildIdentity, 'teamId' | 'pipelineId' | 'pipelineName' | 'pipelineInstanceVars'>;
  vars: VarsResolver;
} {
  return {
    identity: {
      teamId: owner.teamId,
      pipelineId: owner.pipelineId,
      pipelineName: owner.pipelineName,
      ...(owner.pipelineInstanceVars !== null ? { pipelineInstanceVars: owner.pipelineInstanceVars } : {}),
    },
    vars: pipelineBuildVarsResolver(
      credentials,
      { teamName: owner.teamName, name: owner.pipelineName },
      varSources,
    ),
  };
}

/** The newest version checked in a resource config scope, the `from` of its next check. */
export async function latestVersion(db: Kysely<Database>, scopeId: number): Promise<Version | undefined> {
  const row = await db
    .selectFrom('resource_config_versions')
    .select('version')
    .where('resource_config_scope_id', '=', scopeId)
    .orderBy('check_order', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.version;
}
