// Which version of an image resource a step runs (atc/config.go FetchImagePlan, atc/exec/check_step.go): an
// image resource with a `version:` is fetched at that version; one without is checked first and fetched at the
// latest version its history has. A runtime that pulls images by reference (Kubernetes) cannot run the
// check/get sub-plans into a volume, so it runs the version's `digest` (registry-image's and docker-image's
// versions are `{"digest": "sha256:…"}`) as `repository@digest`, and the tag only when no digest is known.
import type { Source, TypeImage, Version } from '@jetbridge/plan';
import type { ImageSpec } from '@jetbridge/runtime';

/** An image resource's version history, as the web node keeps it (checks of resource types save to it). */
export interface ImageVersionQuery {
  /** The image resource's type: a base type, or a custom type defined in `resourceTypes`. */
  type: string;
  /** Its source with vars resolved: with the type, what names the version history. */
  source: Source;
  /** The custom types `type` may be built on (name, type and source as configured). */
  resourceTypes: ReadonlyArray<{ name: string; type: string; source: Source }>;
}

export interface ImageVersionLookup {
  /** The latest checked version of the image resource, or undefined when it was never checked. */
  latestVersion(query: ImageVersionQuery): Promise<Version | undefined>;
}

/** A digest a version or source names that no registry would accept (e.g. `sha256:abc`). */
export class InvalidImageDigestError extends Error {
  constructor(
    readonly digest: string,
    /** Where it was: `the version's digest`, `source.digest`… */
    readonly field: string,
  ) {
    super(
      `${field} '${digest}' is not an image digest (expected 'sha256:' and 64 hex digits, or <algorithm>:<hex>)`,
    );
    this.name = 'InvalidImageDigestError';
  }
}

// The OCI image spec's digest grammar; sha256 and sha512 have fixed lengths of lower-case hex.
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const FIXED_DIGESTS: Record<string, RegExp> = { sha256: /^[a-f0-9]{64}$/, sha512: /^[a-f0-9]{128}$/ };

/** Whether `digest` is an OCI content digest a registry reference can carry after `@`. */
export function isImageDigest(digest: string): boolean {
  if (!DIGEST.test(digest)) return false;
  const colon = digest.indexOf(':');
  const fixed = FIXED_DIGESTS[digest.slice(0, colon)];
  return fixed === undefined || fixed.test(digest.slice(colon + 1));
}

/** Where a version's digest came from, for messages. */
export type VersionOrigin = 'version' | 'checked version';

/**
 * The registry image of an image resource's `source` at `version`: the version's `digest`, else the source's
 * own `digest`, pins it; the tag is the source's (`defaultTag` when it has none). Undefined when the source
 * has no `repository`; InvalidImageDigestError for a digest no registry would take.
 */
export function registryImageAt(
  source: Source,
  version: { version: Version; origin: VersionOrigin } | undefined,
  defaultTag?: string,
): ImageSpec | undefined {
  const repository = source['repository'];
  if (typeof repository !== 'string' || repository === '') return undefined;
  const tag = nonEmptyString(source['tag']) ?? defaultTag;
  const digest = digestOf(version, source);
  return {
    kind: 'registry',
    repository,
    ...(tag === undefined ? {} : { tag }),
    ...(digest === undefined ? {} : { digest }),
  };
}

function digestOf(
  version: { version: Version; origin: VersionOrigin } | undefined,
  source: Source,
): string | undefined {
  const fromVersion = nonEmptyString(version?.version['digest']);
  if (fromVersion !== undefined) {
    if (!isImageDigest(fromVersion))
      throw new InvalidImageDigestError(fromVersion, `the ${version?.origin ?? 'version'}'s digest`);
    return fromVersion;
  }
  const fromSource = nonEmptyString(source['digest']);
  if (fromSource !== undefined && !isImageDigest(fromSource))
    throw new InvalidImageDigestError(fromSource, 'source.digest');
  return fromSource;
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * The custom types an image resource's `image` is built on, outermost first, as its nested image get plans
 * carry them (the planner's ImageForType): what keys the history of a custom-typed image resource.
 */
export function imageTypeChain(
  image: TypeImage | undefined,
): Array<{ name: string; type: string; source: Source }> {
  const chain: Array<{ name: string; type: string; source: Source }> = [];
  let current = image;
  while (current?.get_plan !== undefined && 'get' in current.get_plan) {
    const get = current.get_plan.get;
    chain.push({ name: get.name ?? get.type, type: get.type, source: get.source });
    current = get.image;
  }
  return chain;
}
