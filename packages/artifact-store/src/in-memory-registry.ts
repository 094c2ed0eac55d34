import { ownerKey, type Artifact, type ArtifactOwner } from './artifact.js';
import type { ArtifactRegistry } from './registry.js';

export interface InMemoryArtifactRegistryOptions {
  /** Decides liveness for owners not explicitly retired; every owner is alive when absent. */
  isOwnerAlive?: (owner: ArtifactOwner) => boolean | Promise<boolean>;
}

/** An {@link ArtifactRegistry} held in memory: for tests, and for running without a database. */
export class InMemoryArtifactRegistry implements ArtifactRegistry {
  readonly #artifacts = new Map<string, Artifact>();
  readonly #retiredOwners = new Set<string>();
  readonly #isOwnerAlive: InMemoryArtifactRegistryOptions['isOwnerAlive'];

  constructor(options: InMemoryArtifactRegistryOptions = {}) {
    this.#isOwnerAlive = options.isOwnerAlive;
  }

  async register(artifact: Artifact): Promise<void> {
    this.#artifacts.set(artifact.handle, artifact);
  }

  async unregister(handle: string): Promise<void> {
    this.#artifacts.delete(handle);
  }

  async isOwnerAlive(owner: ArtifactOwner): Promise<boolean> {
    if (this.#retiredOwners.has(ownerKey(owner))) return false;
    return this.#isOwnerAlive ? await this.#isOwnerAlive(owner) : true;
  }

  /** Declare an owner gone (its build finished or was deleted); the reaper will remove its artifacts. */
  retireOwner(owner: ArtifactOwner): void {
    this.#retiredOwners.add(ownerKey(owner));
  }

  /** The registered artifact with this handle, if any. */
  get(handle: string): Artifact | undefined {
    return this.#artifacts.get(handle);
  }

  /** Handles of every registered artifact, sorted. */
  handles(): string[] {
    return [...this.#artifacts.keys()].sort();
  }
}
