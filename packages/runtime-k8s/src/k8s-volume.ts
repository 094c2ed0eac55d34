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
 * A volume of the Kubernetes runtime in pvc mode: an artifact of the store rooted on the shared claim, as the
 * web process mounts it. Step pods mount the same directory (a subPath of the claim), so streaming in and out
 * happens here, on the web's mount, with the artifact-store's extraction rules, and never through an exec.
 */
export class K8sVolume implements Volume {
  constructor(
    readonly handle: string,
    private readonly store: ArtifactStore,
    private readonly onDestroyed: () => void,
  ) {}

  async streamIn(volumePath: string, tar: Readable): Promise<void> {
    await extractTar(await this.artifact(), pathInVolume(volumePath), tar);
  }

  async streamOut(volumePath: string): Promise<Readable> {
    const artifact = await this.artifact();
    try {
      return await createTarStream(artifact, pathInVolume(volumePath));
    } catch (err) {
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

/** Paths are relative to the volume; a leading `/` names its root. */
function pathInVolume(volumePath: string): string {
  return volumePath.replace(/^\/+/, '');
}
