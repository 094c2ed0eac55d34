// What a resource step needs from the pipeline's resource types (atc/config.go ImageForType and
// FetchImagePlan, atc/db/job_factory.go ApplySourceDefaults): the resource's source with its type's
// `defaults` under it, and the TypeImage that says how to get the type's image — the base type's own image,
// or for a custom type an image-check and image-get sub-plan, recursively down to a base type.
import type {
  Plan,
  PlanId,
  ResourceTypeConfig as PlanResourceType,
  Source,
  TypeImage,
} from '@jetbridge/plan';
import { canonicalGoDuration, type ResourceTypeConfig } from '@jetbridge/pipeline-config';

/** Concourse's DefaultCheckInterval and DefaultResourceTypeInterval: a type image is re-checked after 1m. */
export const DEFAULT_CHECK_INTERVAL = '1m0s';

/**
 * `defaults.Merge(source)` (atc.Source.Merge): a copy of the defaults with the source's top-level keys over
 * them; the source alone when there are no defaults.
 */
export function mergeSource(defaults: Source | undefined, source: Source | undefined): Source {
  if (defaults === undefined || Object.keys(defaults).length === 0) return { ...(source ?? {}) };
  return { ...defaults, ...(source ?? {}) };
}

/** The pipeline's resource types with lookups by name, and the cluster's defaults for base types. */
export class PipelineResourceTypes {
  constructor(
    readonly types: readonly ResourceTypeConfig[],
    /** `CONCOURSE_BASE_RESOURCE_TYPE_DEFAULTS`: defaults for resources of a base type. */
    readonly baseTypeDefaults: Readonly<Record<string, Source>> = {},
  ) {}

  lookup(name: string): ResourceTypeConfig | undefined {
    return this.types.find((type) => type.name === name);
  }

  /** Without `name`: inside a type's own `type:`, its name means the base type it shadows. */
  without(name: string): PipelineResourceTypes {
    return new PipelineResourceTypes(
      this.types.filter((type) => type.name !== name),
      this.baseTypeDefaults,
    );
  }

  /** The source of a resource of `type`, its parent type's (or base type's) `defaults` merged under it. */
  sourceWithDefaults(type: string, source: Source | undefined): Source {
    const parent = this.lookup(type);
    if (parent !== undefined) return mergeSource(parent.defaults, source);
    return mergeSource(this.baseTypeDefaults[type], source);
  }

  /** As a task plan's `resource_types` carries them (for the task's image_resource). */
  toPlanResourceTypes(): PlanResourceType[] {
    return this.types.map((type) => {
      const planType: PlanResourceType = { name: type.name, type: type.type, source: type.source ?? {} };
      if (type.defaults !== undefined && Object.keys(type.defaults).length > 0)
        planType.defaults = type.defaults;
      if (type.privileged === true) planType.privileged = true;
      if (type.check_every !== undefined && type.check_every !== '') planType.check_every = type.check_every;
      if (type.tags !== undefined && type.tags.length > 0) planType.tags = type.tags;
      if (type.params !== undefined && Object.keys(type.params).length > 0) planType.params = type.params;
      return planType;
    });
  }

  /**
   * How a step with plan id `planId` gets the image of `type` (ImageForType): a base type is its own image;
   * a custom type is fetched by `<planId>/image-get` from the version `<planId>/image-check` finds.
   */
  imageForType(
    planId: PlanId,
    type: string,
    stepTags: readonly string[] | undefined,
    skipInterval: boolean,
  ): TypeImage {
    const parent = this.lookup(type);
    if (parent === undefined) return { base_type: type };
    const { getPlan, checkPlan } = this.without(parent.name).imagePlans(
      planId,
      parent,
      stepTags,
      skipInterval,
    );
    if (checkPlan !== undefined && 'check' in checkPlan) checkPlan.check.resource_type = type;
    const image: TypeImage = {};
    if (checkPlan !== undefined) image.check_plan = checkPlan;
    image.get_plan = getPlan;
    const baseType = 'get' in getPlan ? getPlan.get.image.base_type : undefined;
    if (baseType !== undefined) image.base_type = baseType;
    if (parent.privileged === true) image.privileged = true;
    return image;
  }

  /** FetchImagePlan: check the type's image resource (it has no pinned version), then get what was found. */
  private imagePlans(
    planId: PlanId,
    parent: ResourceTypeConfig,
    stepTags: readonly string[] | undefined,
    skipInterval: boolean,
  ): { getPlan: Plan; checkPlan: Plan | undefined } {
    const tags = parent.tags !== undefined && parent.tags.length > 0 ? parent.tags : stepTags;
    const getId = `${planId}/image-get`;
    const checkId = `${planId}/image-check`;
    const interval =
      parent.check_every === undefined || parent.check_every === ''
        ? DEFAULT_CHECK_INTERVAL
        : parent.check_every === 'never'
          ? 'never'
          : canonicalGoDuration(parent.check_every);
    const checkPlan: Plan = {
      id: checkId,
      check: {
        name: parent.name,
        type: parent.type,
        source: parent.source ?? {},
        image: this.imageForType(checkId, parent.type, tags, skipInterval),
        interval,
        ...(skipInterval ? { skip_interval: true } : {}),
        ...(tags !== undefined && tags.length > 0 ? { tags: [...tags] } : {}),
      },
    };
    const getPlan: Plan = {
      id: getId,
      get: {
        name: parent.name,
        type: parent.type,
        source: parent.source ?? {},
        image: this.imageForType(getId, parent.type, tags, skipInterval),
        version_from: checkId,
        ...(parent.params !== undefined && Object.keys(parent.params).length > 0
          ? { params: parent.params }
          : {}),
        ...(tags !== undefined && tags.length > 0 ? { tags: [...tags] } : {}),
      },
    };
    return { getPlan, checkPlan };
  }
}
