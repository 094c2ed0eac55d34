/**
 * What can go wrong with an artifact, as the HTTP layer reports it. `message` is written for the person running
 * `fly`; `httpStatus` is what the web server answers; `code` is stable for programs.
 */
export abstract class ArtifactStoreError extends Error {
  abstract readonly httpStatus: number;
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** No artifact with that handle, or no such path inside it. */
export class ArtifactNotFoundError extends ArtifactStoreError {
  readonly httpStatus = 404;
  readonly code = 'artifact_not_found';
}

/** A caller-chosen handle is already taken. */
export class ArtifactExistsError extends ArtifactStoreError {
  readonly httpStatus = 409;
  readonly code = 'artifact_exists';

  constructor(readonly handle: string) {
    super(`an artifact with handle '${handle}' already exists`);
  }
}

/** A handle or a path inside an artifact that is not allowed (not a single safe segment, escapes, crosses a symlink). */
export class InvalidArtifactPathError extends ArtifactStoreError {
  readonly httpStatus = 400;
  readonly code = 'invalid_artifact_path';
}

/** An allocation request that cannot be honoured as given (malformed owner, unknown type). */
export class InvalidArtifactSpecError extends ArtifactStoreError {
  readonly httpStatus = 400;
  readonly code = 'invalid_artifact_spec';
}

/** The uncompressed archive is bigger than allowed. Raised as soon as the limit is crossed, not after inflating. */
export class ArtifactTooLargeError extends ArtifactStoreError {
  readonly httpStatus = 413;
  readonly code = 'artifact_too_large';

  constructor(readonly limitBytes: number) {
    super(`the archive is larger than the limit of ${formatBytes(limitBytes)} (uncompressed)`);
  }
}

/** An archive entry would land (or point) outside the artifact, or has a type that must not be extracted. */
export class UnsafeArchiveError extends ArtifactStoreError {
  readonly httpStatus = 400;
  readonly code = 'unsafe_archive';

  constructor(
    readonly entryName: string,
    reason: string,
  ) {
    super(`refusing to extract '${entryName}': ${reason}`);
  }
}

/** The stream is not a complete tar (or gzip'd tar) archive: truncated, corrupt, or interrupted. */
export class CorruptArchiveError extends ArtifactStoreError {
  readonly httpStatus = 400;
  readonly code = 'corrupt_archive';
}

/** A byte count for messages: `512 bytes`, `1.5 MiB`, `10 GiB`. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0
    ? `${bytes} bytes`
    : `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit]}`;
}
