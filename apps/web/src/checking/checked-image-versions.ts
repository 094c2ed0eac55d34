// The version histories of image resources — a resource type's image, a task's image_resource — for runtimes
// that pull images by reference (Kubernetes): the latest version checks saved for that type and source.
// Concourse's image check finds it in the scope of the image resource's config (atc/exec/check_step.go,
// scope.LatestVersion); here type checks save into the shared scope (no resource) of the same config — see
// resource-type-checker.ts — so a lookup never creates a config or scope, it only reads one.
import { resourceConfigSourceHash, type Database, type Kysely } from '@jetbridge/db';
import type { ImageVersionLookup, ImageVersionQuery } from '@jetbridge/exec';
import type { Version } from '@jetbridge/plan';
import { resourceConfigType } from './resource-config-scopes.js';

export class CheckedImageVersions implements ImageVersionLookup {
  constructor(private readonly db: Kysely<Database>) {}

  async latestVersion(query: ImageVersionQuery): Promise<Version | undefined> {
    const { typeKey } = resourceConfigType(
      query.type,
      query.resourceTypes.map((type) => ({ name: type.name, type: type.type, source: type.source })),
    );
    const row = await this.db
      .selectFrom('resource_config_versions as v')
      .innerJoin('resource_config_scopes as s', 's.id', 'v.resource_config_scope_id')
      .innerJoin('resource_configs as c', 'c.id', 's.resource_config_id')
      .select('v.version')
      .where('c.type_key', '=', typeKey)
      .where('c.source_hash', '=', resourceConfigSourceHash(query.source))
      .where('s.resource_id', 'is', null)
      .orderBy('v.check_order', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row?.version;
  }
}
