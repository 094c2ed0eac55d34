import { InvalidArtifactPathError } from './errors.js';

/**
 * Who an artifact belongs to; the reaper removes it once the owner is gone. Structurally identical to
 * `VolumeOwner` in `@jetbridge/runtime`, which this package deliberately does not depend on.
 */
export type ArtifactOwner =
  | { kind: 'upload'; teamName: string }
  | { kind: 'build'; buildId: number }
  | { kind: 'step'; buildId: number; stepName: string };

/** The `fly volumes` type column. */
export type ArtifactType = 'container' | 'resource' | 'task-cache' | 'artifact';

export interface ArtifactSpec {
  /** Caller-chosen handle (a single safe path segment); a random one is generated when absent. */
  handle?: string;
  owner: ArtifactOwner;
  teamName: string;
  /** Defaults to `'artifact'`. */
  type?: ArtifactType;
}

/** One artifact: a directory under the store's root, and who it belongs to. */
export interface Artifact {
  readonly handle: string;
  /** Absolute path of the artifact's directory; its contents are exactly what a tar of it holds. */
  readonly path: string;
  readonly owner: ArtifactOwner;
  readonly teamName: string;
  readonly type: ArtifactType;
  readonly createdAt: Date;
}

const ARTIFACT_TYPES: readonly ArtifactType[] = ['container', 'resource', 'task-cache', 'artifact'];

// Starts with an alphanumeric so `.`/`..` and hidden names are impossible; no `/`, so it is one segment.
const HANDLE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function isValidHandle(handle: string): boolean {
  return HANDLE_PATTERN.test(handle);
}

export function assertValidHandle(handle: string): void {
  if (!isValidHandle(handle)) {
    throw new InvalidArtifactPathError(
      `invalid artifact handle '${handle}': use 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit`,
    );
  }
}

export function isArtifactType(value: unknown): value is ArtifactType {
  return typeof value === 'string' && (ARTIFACT_TYPES as readonly string[]).includes(value);
}

/** The owner in `value`, or undefined when it is not a well-formed owner (metadata read back from disk). */
export function parseArtifactOwner(value: unknown): ArtifactOwner | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  const { kind, teamName, buildId, stepName } = record;
  const isBuildId = typeof buildId === 'number' && Number.isSafeInteger(buildId);
  if (kind === 'upload' && typeof teamName === 'string') return { kind, teamName };
  if (kind === 'build' && isBuildId) return { kind, buildId };
  if (kind === 'step' && isBuildId && typeof stepName === 'string') return { kind, buildId, stepName };
  return undefined;
}

/** A string equal for equal owners, for maps and sets (field order and extra fields do not matter). */
export function ownerKey(owner: ArtifactOwner): string {
  switch (owner.kind) {
    case 'upload':
      return JSON.stringify(['upload', owner.teamName]);
    case 'build':
      return JSON.stringify(['build', owner.buildId]);
    case 'step':
      return JSON.stringify(['step', owner.buildId, owner.stepName]);
  }
}
