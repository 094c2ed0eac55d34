import { Readable } from 'node:stream';
import { DaemonRequestError } from '@jetbridge/artifact-daemon';
import { FileNotFoundError, RuntimeError } from '@jetbridge/runtime';
import type { Volume } from '@jetbridge/runtime';
import type { NodeLocalArtifacts } from './node-local-artifacts.js';

/** An empty tar archive: just the end-of-archive marker (what a volume that holds nothing streams out). */
const EMPTY_TAR = Buffer.alloc(1024);

/**
 * A volume of the node-local mode: an artifact on some node's daemon (and its mirrors), or nothing yet.
 * Streams go to and from the daemons over HTTP(S), never through the web's disk.
 */
export class NodeLocalVolume implements Volume {
  constructor(
    readonly handle: string,
    private readonly artifacts: NodeLocalArtifacts,
  ) {}

  async streamIn(volumePath: string, tar: Readable): Promise<void> {
    await this.artifacts.streamIn(this.handle, pathInVolume(volumePath), tar);
  }

  async streamOut(volumePath: string): Promise<Readable> {
    const inside = pathInVolume(volumePath);
    const placed = this.artifacts.placementOf(this.handle);
    if (!placed) throw new RuntimeError(`volume ${this.handle} does not exist`);
    if (placed.nodes.length === 0) {
      if (inside !== '.') throw new FileNotFoundError(volumePath);
      return Readable.from([EMPTY_TAR]);
    }
    try {
      return await this.artifacts.openTar(this.handle, inside);
    } catch (error) {
      if (
        error instanceof DaemonRequestError &&
        error.httpStatus === 404 &&
        error.code === 'artifact_not_found'
      ) {
        throw new FileNotFoundError(volumePath);
      }
      throw error;
    }
  }

  async destroy(): Promise<void> {
    await this.artifacts.destroy(this.handle);
  }
}

/** Paths are relative to the volume; a leading `/` names its root. */
function pathInVolume(volumePath: string): string {
  const trimmed = volumePath.replace(/^\/+/, '');
  return trimmed === '' ? '.' : trimmed;
}
