// Resource types on a runtime with real containers (Kubernetes): a step runs its type's check/in/out at
// /opt/resource/ in the type's image. Concourse fetches a custom type's image through the plan's image
// sub-plans (check the type's `source`, then `get` the version found into a volume); a pod cannot start from
// a volume, so here the image is the registry reference those sub-plans would fetch: the custom type's
// `source.repository` at the version's `digest` — the image get's fixed version, else the latest version the
// type's checks saved (`imageVersions`), else the source's own `digest` — or, with no digest known, at its
// `tag` (default `latest`), pulled by the node. A base type (`git`, `registry-image`, ...) runs the image
// configured for it. A task's `image_resource` is run the same way (its `version:`, else the latest checked).
import type {
  Plan,
  ResourceTypeConfig,
  Source,
  TaskImageResource,
  TypeImage,
  Version,
} from '@jetbridge/plan';
import type { ImageSpec } from '@jetbridge/runtime';
import {
  InvalidImageDigestError,
  imageTypeChain,
  registryImageAt,
  type ImageVersionLookup,
  type ImageVersionQuery,
  type VersionOrigin,
} from './image-versions.js';
import type {
  ImageResolveContext,
  ResourceTypeExecutables,
  ResourceTypeResolver,
} from './resource-type-resolver.js';

/** A custom type whose image is not a registry image this runtime can pull. */
export class ResourceTypeImageError extends Error {
  constructor(type: string, reason: string) {
    super(`resource type '${type}': ${reason}`);
    this.name = 'ResourceTypeImageError';
  }
}

/** Concourse's images of its bundled base types are `concourse/<type>-resource`. */
export function defaultBaseTypeImage(baseType: string): string {
  return `concourse/${baseType}-resource`;
}

/** `repository[:tag]` or `repository@digest` → an ImageSpec of kind registry. */
function parseImageReference(reference: string): ImageSpec {
  const at = reference.indexOf('@');
  const digest = at >= 0 ? reference.slice(at + 1) : undefined;
  const name = at >= 0 ? reference.slice(0, at) : reference;
  // A colon after the last slash is a tag (a colon before it is a registry port).
  const colon = name.lastIndexOf(':');
  const tag = colon > name.lastIndexOf('/') ? name.slice(colon + 1) : undefined;
  const repository = tag === undefined ? name : name.slice(0, colon);
  return {
    kind: 'registry',
    repository,
    ...(tag === undefined ? {} : { tag }),
    ...(digest === undefined ? {} : { digest }),
  };
}

/**
 * The registry image of a custom type from its image get sub-plan: `source.repository`, `source.tag` (or
 * `latest`), pinned by the digest of `version` (the get's fixed version, or the one the resolver found) or
 * of `source.digest`. `source` is the get's source with vars resolved (the plan's own when not given).
 */
export function customTypeImage(
  type: string,
  getPlan: Plan,
  resolved?: { source?: Source; version?: { version: Version; origin: VersionOrigin } },
): ImageSpec {
  if (!('get' in getPlan)) throw new ResourceTypeImageError(type, 'its image plan is not a get');
  const source = resolved?.source ?? getPlan.get.source;
  const fixed = getPlan.get.version;
  const version = fixed !== undefined ? { version: fixed, origin: 'version' as const } : resolved?.version;
  let image: ImageSpec | undefined;
  try {
    image = registryImageAt(source, version, 'latest');
  } catch (error) {
    if (error instanceof InvalidImageDigestError) throw new ResourceTypeImageError(type, error.message);
    throw error;
  }
  if (image === undefined) {
    throw new ResourceTypeImageError(
      type,
      `its source has no 'repository': the Kubernetes runtime runs resource types from registry images only (type '${getPlan.get.type}')`,
    );
  }
  return image;
}

export interface ContainerResourceTypeResolverOptions {
  /** Image references of base types by name, e.g. `{ git: 'concourse/git-resource:1.17' }`. */
  baseTypeImages?: Readonly<Record<string, string>>;
  /** Image of a base type not in `baseTypeImages`; default `concourse/<type>-resource`. */
  defaultImage?: (baseType: string) => string;
  /** Secrets every resource type image is pulled with. */
  pullSecrets?: readonly string[];
  /**
   * The version histories checks saved: a custom type's or task image's latest checked version pins its
   * image. Without it (or with no version checked yet), images run at their tag.
   */
  imageVersions?: ImageVersionLookup;
}

/** A ResourceTypeResolver for runtimes that run images (`{ kind: 'image' }`), with `privileged` passed on. */
export class ContainerResourceTypeResolver implements ResourceTypeResolver {
  constructor(private readonly options: ContainerResourceTypeResolverOptions = {}) {}

  async resolve(
    type: string,
    image: TypeImage,
    context?: ImageResolveContext,
  ): Promise<ResourceTypeExecutables> {
    const privileged = image.privileged === true;
    let spec: ImageSpec;
    if (image.get_plan !== undefined) {
      spec = await this.customTypeImageAt(type, image.get_plan, context);
    } else {
      const baseType = image.base_type ?? type;
      const reference =
        this.options.baseTypeImages?.[baseType] ??
        (this.options.defaultImage ?? defaultBaseTypeImage)(baseType);
      spec = parseImageReference(reference);
    }
    return { kind: 'image', image: this.withPullSecrets(spec), ...(privileged ? { privileged } : {}) };
  }

  /** A task's image_resource at its `version:`, else at the latest version its checks saved. */
  async taskImage(
    resource: TaskImageResource,
    resourceTypes: readonly ResourceTypeConfig[],
  ): Promise<ImageSpec | undefined> {
    const version =
      resource.version !== undefined
        ? { version: resource.version, origin: 'version' as const }
        : await this.latestChecked(resource.source, {
            type: resource.type,
            source: resource.source,
            resourceTypes,
          });
    return registryImageAt(resource.source, version);
  }

  private async customTypeImageAt(
    type: string,
    getPlan: Plan,
    context: ImageResolveContext | undefined,
  ): Promise<ImageSpec> {
    if (!('get' in getPlan)) return customTypeImage(type, getPlan);
    const get = getPlan.get;
    const source = context === undefined ? get.source : await context.interpolate(get.source);
    const version =
      get.version !== undefined
        ? undefined
        : await this.latestChecked(source, {
            type: get.type,
            source,
            resourceTypes: imageTypeChain(get.image),
          });
    return customTypeImage(type, getPlan, { source, ...(version === undefined ? {} : { version }) });
  }

  /** The latest checked version, unless the source pins a digest itself (its check finds only that one). */
  private async latestChecked(
    source: Source,
    query: ImageVersionQuery,
  ): Promise<{ version: Version; origin: 'checked version' } | undefined> {
    if (this.options.imageVersions === undefined) return undefined;
    if (typeof source['digest'] === 'string' && source['digest'] !== '') return undefined;
    const version = await this.options.imageVersions.latestVersion(query);
    return version === undefined ? undefined : { version, origin: 'checked version' };
  }

  private withPullSecrets(spec: ImageSpec): ImageSpec {
    const secrets = this.options.pullSecrets;
    if (spec.kind !== 'registry' || secrets === undefined || secrets.length === 0) return spec;
    return { ...spec, pullSecrets: [...secrets] };
  }
}
