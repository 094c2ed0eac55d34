// The plan of a resource's check build (atc/db/resource.go CheckPlan, atc/db/check_factory.go
// TryCreateCheck): one `check` node for the resource's type and source (type defaults merged), its tags and
// `check_timeout`, the version to check from, and the interval the check is due on.
import type { Plan, Source, Version } from '@jetbridge/plan';
import {
  canonicalGoDuration,
  type ResourceConfig,
  type ResourceTypeConfig,
} from '@jetbridge/pipeline-config';
import { PlanIdFactory } from './plan-ids.js';
import { DEFAULT_CHECK_INTERVAL, PipelineResourceTypes } from './resource-types.js';

export interface CheckPlanRequest {
  resource: ResourceConfig;
  resourceTypes?: readonly ResourceTypeConfig[];
  /** Check from this version (manual `--from`, or the pinned version); the scope's latest when absent. */
  fromVersion?: Version;
  /**
   * The interval when the resource sets no `check_every` (`--resource-checking-interval`, or
   * `--resource-with-webhook-checking-interval` for resources with a webhook token); a Go duration.
   */
  defaultInterval?: string;
  /** A manual check: due regardless of the interval. */
  skipInterval?: boolean;
  /** With `skipInterval`: re-check custom type images too (`fly check-resource` without `--shallow`). */
  skipIntervalRecursively?: boolean;
  baseResourceTypeDefaults?: Readonly<Record<string, Source>>;
  planIds?: PlanIdFactory;
}

/**
 * The check plan of a resource.
 *
 * @example
 * planResourceCheck({ resource: { name: 'repo', type: 'git', source: { uri } }, skipInterval: true });
 */
export function planResourceCheck(request: CheckPlanRequest): Plan {
  const { resource } = request;
  const ids = request.planIds ?? new PlanIdFactory();
  const types = new PipelineResourceTypes(request.resourceTypes ?? [], request.baseResourceTypeDefaults);
  const skipInterval = request.skipInterval === true;
  const id = ids.next();
  const tags = resource.tags !== undefined && resource.tags.length > 0 ? resource.tags : undefined;
  return {
    id,
    check: {
      name: resource.name,
      type: resource.type,
      source: types.sourceWithDefaults(resource.type, resource.source),
      image: types.imageForType(
        id,
        resource.type,
        tags,
        skipInterval && request.skipIntervalRecursively === true,
      ),
      ...(request.fromVersion !== undefined ? { from_version: { ...request.fromVersion } } : {}),
      resource: resource.name,
      interval: checkInterval(resource.check_every, request.defaultInterval),
      ...(skipInterval ? { skip_interval: true } : {}),
      ...(resource.check_timeout ? { timeout: resource.check_timeout } : {}),
      ...(tags !== undefined ? { tags: [...tags] } : {}),
    },
  };
}

/** `check_every` as Concourse encodes it: `never`, or the canonical Go duration; the default when unset. */
export function checkInterval(checkEvery: string | undefined, defaultInterval: string | undefined): string {
  if (checkEvery === 'never') return 'never';
  if (checkEvery !== undefined && checkEvery !== '') return canonicalGoDuration(checkEvery);
  return defaultInterval === undefined ? DEFAULT_CHECK_INTERVAL : canonicalGoDuration(defaultInterval);
}
