import { stat } from 'node:fs/promises';
import path from 'node:path';
import { normalizeRelativePath } from './contained-tree.js';
import { ArtifactNotFoundError, InvalidArtifactPathError } from './errors.js';

/** An artifact, or any directory to treat as one (the local runtime's volumes, a test's temp dir). */
export type ArtifactLocation = string | { readonly path: string };

/** The absolute directory of `location`; fails with ArtifactNotFoundError when it is gone. */
export async function existingArtifactDirectory(location: ArtifactLocation): Promise<string> {
  const directory = path.resolve(typeof location === 'string' ? location : location.path);
  const stats = await stat(directory).catch(() => undefined);
  if (!stats?.isDirectory()) throw new ArtifactNotFoundError('the artifact does not exist (anymore)');
  return directory;
}

/** A path inside an artifact as given by a caller (`'.'`, `'out/bin'`), normalized; escaping is refused. */
export function normalizeSubpath(subpath: string): string {
  const normalized = normalizeRelativePath(subpath);
  if ('rejected' in normalized) {
    throw new InvalidArtifactPathError(
      `invalid path '${subpath}' inside the artifact: ${normalized.rejected}`,
    );
  }
  return normalized.path;
}
