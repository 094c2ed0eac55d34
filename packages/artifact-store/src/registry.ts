import type { Artifact, ArtifactOwner } from './artifact.js';

/**
 * Where the store records its artifacts and learns whether their owners still exist. The store is the source
 * of truth for what is on disk; the registry is what the rest of the system (`fly volumes`, garbage collection
 * across nodes) sees. The web node implements it on PostgreSQL (`DatabaseArtifactRegistry`);
 * {@link InMemoryArtifactRegistry} serves tests and database-less use.
 */
export interface ArtifactRegistry {
  /** Called once the artifact's content is complete; never for a half-written or rejected upload. */
  register(artifact: Artifact): Promise<void>;
  /** Called when an artifact is removed. Must accept handles it does not know. */
  unregister(handle: string): Promise<void>;
  /**
   * Whether the owner still exists (the build has not been deleted, the step's build is still running, the
   * team still exists). The reaper removes every artifact whose owner is not alive.
   */
  isOwnerAlive(owner: ArtifactOwner): Promise<boolean>;
  /**
   * Optional, for registries that know more than owners: of `artifacts`, the handles still wanted, decided
   * one artifact at a time (an old upload that a running build still reads, the one output of a step that a
   * finished build registered for download). When present, the reaper asks this instead of
   * {@link isOwnerAlive} and applies no upload TTL of its own: the registry owns the whole policy.
   */
  liveHandles?(artifacts: readonly Artifact[]): Promise<ReadonlySet<string>>;
}
