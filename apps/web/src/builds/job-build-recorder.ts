// What a job build's get and put steps write to the database (Concourse's get/put step delegates:
// resource.UpdateMetadata, build.SaveOutput):
// - a get of a pipeline resource refreshes the fetched version's metadata in the resource's scope;
// - a put saves the version it created into the resource config scope of the source it used (appended as
//   the newest version when new, an existing one keeps its place), points the resource at that scope, and
//   records the version as a build output, which is what `passed` constraints downstream read. A new
//   version also asks the scheduler to look at the jobs using the resource.
import {
  findResource,
  saveBuildOutput,
  saveResourceVersions,
  versionSha256,
  type Database,
  type Kysely,
} from '@jetbridge/db';
import type { FetchedVersion } from '@jetbridge/exec';
import type { ResourceTypeConfig } from '@jetbridge/pipeline-config';
import type { ResourceConfigScopes } from '../checking/resource-config-scopes.js';

export interface JobBuildRecorderContext {
  db: Kysely<Database>;
  scopes: ResourceConfigScopes;
  buildId: number;
  pipelineId: number;
  resourceTypes: readonly ResourceTypeConfig[];
  /** A put saved a version nobody had seen: the scheduler's doorbell. */
  onNewVersion(resource: { id: number; name: string }): void;
}

export function jobBuildRecorder(context: JobBuildRecorderContext): {
  onGetVersion(result: FetchedVersion): Promise<void>;
  onPutVersion(result: FetchedVersion): Promise<void>;
} {
  const { db } = context;
  return {
    async onGetVersion(result) {
      if (result.resourceName === undefined) return;
      const resource = await findResource(db, context.pipelineId, result.resourceName);
      if (resource === undefined || resource.resourceConfigScopeId === null) return;
      await db
        .updateTable('resource_config_versions')
        .set({ metadata: JSON.stringify(result.metadata) })
        .where('resource_config_scope_id', '=', resource.resourceConfigScopeId)
        .where('version_sha256', '=', versionSha256(result.version))
        .execute();
    },

    async onPutVersion(result) {
      if (result.resourceName === undefined) return;
      const resource = await findResource(db, context.pipelineId, result.resourceName);
      if (resource === undefined) {
        throw new Error(`resource '${result.resourceName}' not found in the build's pipeline`);
      }
      const { scopeId } = await context.scopes.forResource({
        resourceId: resource.id,
        type: result.type,
        source: result.source,
        resourceTypes: context.resourceTypes,
      });
      const added = await saveResourceVersions(db, scopeId, [
        { version: result.version, metadata: result.metadata },
      ]);
      await saveBuildOutput(db, context.buildId, {
        name: result.name,
        resourceId: resource.id,
        version: result.version,
      });
      if (added > 0) context.onNewVersion({ id: resource.id, name: resource.name });
    },
  };
}
