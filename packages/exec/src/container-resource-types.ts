// Resource types on a runtime with real containers (Kubernetes): a step runs its type's check/in/out at
// /opt/resource/ in the type's image. Concourse fetches a custom type's image through the plan's image
// sub-plans (check the type's `source`, then `get` it into a volume); a pod cannot start from a volume, so
// here the image is the registry reference those sub-plans would fetch: the custom type's
// `source.repository` with its `tag` (default `latest`) — or the `digest` of a pinned version — pulled by the
// node. A base type (`git`, `registry-image`, ...) runs the image configured for it.
import type { Plan, TypeImage } from '@jetbridge/plan';
import type { ImageSpec } from '@jetbridge/runtime';
import type { ResourceTypeExecutables, ResourceTypeResolver } from './resource-type-resolver.js';

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
 * `latest`), and a pinned version's `digest` when the plan carries one.
 */
export function customTypeImage(type: string, getPlan: Plan): ImageSpec {
  if (!('get' in getPlan)) throw new ResourceTypeImageError(type, 'its image plan is not a get');
  const source = getPlan.get.source;
  const repository = source['repository'];
  if (typeof repository !== 'string' || repository === '') {
    throw new ResourceTypeImageError(
      type,
      `its source has no 'repository': the Kubernetes runtime runs resource types from registry images only (type '${getPlan.get.type}')`,
    );
  }
  const tag = source['tag'];
  const digest = getPlan.get.version?.['digest'];
  return {
    kind: 'registry',
    repository,
    tag: typeof tag === 'string' && tag !== '' ? tag : 'latest',
    ...(typeof digest === 'string' && digest !== '' ? { digest } : {}),
  };
}

export interface ContainerResourceTypeResolverOptions {
  /** Image references of base types by name, e.g. `{ git: 'concourse/git-resource:1.17' }`. */
  baseTypeImages?: Readonly<Record<string, string>>;
  /** Image of a base type not in `baseTypeImages`; default `concourse/<type>-resource`. */
  defaultImage?: (baseType: string) => string;
  /** Secrets every resource type image is pulled with. */
  pullSecrets?: readonly string[];
}

/** A ResourceTypeResolver for runtimes that run images (`{ kind: 'image' }`), with `privileged` passed on. */
export class ContainerResourceTypeResolver implements ResourceTypeResolver {
  constructor(private readonly options: ContainerResourceTypeResolverOptions = {}) {}

  async resolve(type: string, image: TypeImage): Promise<ResourceTypeExecutables> {
    const privileged = image.privileged === true;
    let spec: ImageSpec;
    if (image.get_plan !== undefined) {
      spec = customTypeImage(type, image.get_plan);
    } else {
      const baseType = image.base_type ?? type;
      const reference =
        this.options.baseTypeImages?.[baseType] ??
        (this.options.defaultImage ?? defaultBaseTypeImage)(baseType);
      spec = parseImageReference(reference);
    }
    if (
      spec.kind === 'registry' &&
      this.options.pullSecrets !== undefined &&
      this.options.pullSecrets.length > 0
    ) {
      spec = { ...spec, pullSecrets: [...this.options.pullSecrets] };
    }
    return { kind: 'image', image: spec, ...(privileged ? { privileged } : {}) };
  }
}
