import type { Readable } from 'node:stream';
import {
  ArtifactNotFoundError,
  createTarStream,
  extractTar,
  type Artifact,
  type ArtifactStore,
} from '@jetbridge/artifact-store';
import { FileNotFoundError, RuntimeError } from '@jetbridge/runtime';
import type { Volume } from '@jetbridge/runtime';

/**
 * A volume of the local worker: the artifact of the same handle in the worker's {@link ArtifactStore}. Every
 * call looks the artifact up again, because the store may be shared (uploads, the reaper) and remove it.
 */
export class LocalVolume implements Volume {
  constructor(
    readonly handle: string,
    private readonly store: ArtifactStore,
    private readonly onDestroyed: () => void,
  ) {}

  /**
   * Extracts with the artifact-store's rules. Its errors (UnsafeArchiveError, CorruptArchiveError, each with
   * an `httpStatus`) propagate unchanged so the web layer can answer with them. On failure `tar` is unpiped,
   * not destroyed: the caller owns it.
   */
  async streamIn(volumePath: string, tar: Readable): Promise<void> {
    await extractTar(await this.artifact(), pathInVolume(volumePath), tar);
  }

  async streamOut(volumePath: string): Promise<Readable> {
    const artifact = await this.artifact();
    try {
      return await createTarStream(artifact, pathInVolume(volumePath));
    } catch (err) {
      // The artifact was there a moment ago, so what is missing is the path (a task `file:`).
      if (err instanceof ArtifactNotFoundError) throw new FileNotFoundError(volumePath);
      throw err;
    }
  }

  async destroy(): Promise<void> {
    if (await this.store.remove(this.handle)) this.onDestroyed();
  }

  private async artifact(): Promise<Artifact> {
    const artifact = await this.store.lookup(this.handle);
    if (artifact === undefined) throw new RuntimeError(`volume ${this.handle} does not exist`);
    return artifact;
  }
}

/** Paths are relative to the volume; a leading `/` names its root (callers pass `/` and `.` alike). */
function pathInVolume(volumePath: string): string {
  return volumePath.replace(/^\/+/, '');
}
