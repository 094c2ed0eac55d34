// Where a resource's versions live (Concourse's atc/db/resource_config.go findOrCreateResourceConfigScope):
// the resource config is the type plus the interpolated source; its scope is the resource's own unless
// global resources are on, in which case every resource with the same config shares one scope — except
// resources of a base type with a unique version history (`time`), which always keep their own. Checks
// and puts both go through here and point the resource at the scope they used.
import { createHash } from 'node:crypto';
import {
  findOrCreateResourceConfig,
  findOrCreateResourceConfigScope,
  setResourceConfigScope,
  type Database,
  type Kysely,
} from '@jetbridge/db';
import type { ResourceTypeConfig } from '@jetbridge/pipeline-config';

/** Base types whose versions are never shared between resources (worker `unique_version_history`). */
const UNIQUE_VERSION_HISTORY_TYPES = new Set(['time']);

export interface ResourceScopeRequest {
  resourceId: number;
  /** The resource's type: a base type or one of `resourceTypes`. */
  type: string;
  /** The source as the step evaluated it (type defaults merged, vars resolved). */
  source: Record<string, unknown>;
  /** The pipeline's resource types. */
  resourceTypes: readonly ResourceTypeConfig[];
}

export interface ResourceScope {
  resourceConfigId: number;
  scopeId: number;
}

export class ResourceConfigScopes {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly options: { globalResources: boolean },
  ) {}

  /** Find or create the config and scope of the resource's current source, and point the resource at them. */
  async forResource(request: ResourceScopeRequest): Promise<ResourceScope> {
    const { typeKey, baseType } = resourceConfigType(request.type, request.resourceTypes);
    const resourceConfigId = await findOrCreateResourceConfig(this.db, typeKey, request.source);
    const unique = !this.options.globalResources || UNIQUE_VERSION_HISTORY_TYPES.has(baseType);
    const scopeId = await findOrCreateResourceConfigScope(
      this.db,
      resourceConfigId,
      unique ? request.resourceId : null,
    );
    await setResourceConfigScope(this.db, request.resourceId, resourceConfigId, scopeId);
    return { resourceConfigId, scopeId };
  }
}

/**
 * The `type_key` of a resource config: a base type's name; for a pipeline's custom type, a digest of the
 * chain of type definitions down to the base type (Concourse keys it by the type's image resource cache, so
 * a different image means a different history; the local runtime has no image versions to key by).
 */
export function resourceConfigType(
  type: string,
  resourceTypes: readonly ResourceTypeConfig[],
): { typeKey: string; baseType: string } {
  const chain: unknown[] = [];
  let current = type;
  let remaining = [...resourceTypes];
  for (;;) {
    const custom = remaining.find((candidate) => candidate.name === current);
    if (custom === undefined) break;
    chain.push({ name: custom.name, type: custom.type, source: custom.source ?? null });
    // Inside a type's own `type:`, its name means the base type it shadows.
    remaining = remaining.filter((candidate) => candidate !== custom);
    current = custom.type;
  }
  if (chain.length === 0) return { typeKey: type, baseType: type };
  const digest = createHash('sha256').update(JSON.stringify(chain)).digest('hex').slice(0, 16);
  return { typeKey: `custom:${type}:${digest}`, baseType: current };
}
