import type { VolumeOwner } from '@jetbridge/runtime';

export type VolumeType = 'container' | 'resource' | 'task-cache' | 'artifact';

/** Where one volume lives: nothing yet (created, never written), or its node and its mirrors. */
export interface PlacedVolume {
  readonly handle: string;
  readonly owner: VolumeOwner;
  readonly teamName: string;
  readonly type: VolumeType;
  /** Primary first, then mirrors; empty while the volume holds nothing. */
  nodes: string[];
  /** Bytes of its files, when known (input placement weighs by it). */
  bytes?: number;
}

/**
 * The runtime's record of which node holds each artifact. Rebuilt from the daemons' listings when a web
 * starts (`NodeLocalArtifacts.refresh`), so it survives restarts without a table of its own.
 */
export class PlacementBook {
  readonly #volumes = new Map<string, PlacedVolume>();

  get(handle: string): PlacedVolume | undefined {
    return this.#volumes.get(handle);
  }

  add(volume: PlacedVolume): void {
    this.#volumes.set(volume.handle, volume);
  }

  delete(handle: string): boolean {
    return this.#volumes.delete(handle);
  }

  list(): PlacedVolume[] {
    return [...this.#volumes.values()];
  }

  get size(): number {
    return this.#volumes.size;
  }
}
