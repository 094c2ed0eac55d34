import { ownerKey, type Artifact, type ArtifactOwner } from './artifact.js';
import { PeriodicReaping } from './periodic-reaping.js';
import type { ArtifactStore } from './store.js';

export interface ArtifactReaperOptions {
  /**
   * How old a leftover without metadata (a crash during allocation) must be before it is deleted; long
   * enough for the slowest upload another process may still be writing. Default: 1 hour.
   */
  strayGracePeriodMs?: number;
  /**
   * Uploads (`fly execute` inputs) are deleted this long after creation even while their team exists.
   * Mirrors Concourse's artifact collector, which expires artifacts not tied to a build after 12 hours.
   * Default: 12 hours; `Infinity` keeps them as long as the registry says their owner is alive. Not applied
   * when the registry decides per artifact (`ArtifactRegistry.liveHandles`).
   */
  uploadTtlMs?: number;
  /** Called with failures of the background loop (a whole run that threw, or an artifact it could not check). */
  onError?: (error: unknown) => void;
  /** Called after each background pass that completed, with what it did (for logs and metrics). */
  onPass?: (result: ReapResult) => void;
}

export interface ReapResult {
  /** Artifacts deleted because their owner is gone (or their upload expired). */
  removed: Artifact[];
  /** Leftovers deleted, as paths relative to the store's root. */
  strays: string[];
  /** Artifacts that could not be checked or deleted this time; they are retried on the next run. */
  failures: Array<{ handle: string; error: unknown }>;
}

const HOUR_MS = 60 * 60 * 1000;

/**
 * Deletes artifacts nobody owns anymore, asking the store's registry about each distinct owner (or about
 * each artifact, when the registry can answer that), and the leftovers of crashes. One collector for one kind of garbage, as Concourse's `gc` package has.
 */
export class ArtifactReaper {
  readonly #store: ArtifactStore;
  readonly #strayGracePeriodMs: number;
  readonly #uploadTtlMs: number;
  readonly #loop: PeriodicReaping<ReapResult>;

  constructor(store: ArtifactStore, options: ArtifactReaperOptions = {}) {
    this.#store = store;
    this.#strayGracePeriodMs = options.strayGracePeriodMs ?? HOUR_MS;
    this.#uploadTtlMs = options.uploadTtlMs ?? 12 * HOUR_MS;
    this.#loop = new PeriodicReaping(() => this.#reap(), {
      ...(options.onError ? { onError: options.onError } : {}),
      ...(options.onPass ? { onPass: options.onPass } : {}),
    });
  }

  /** One pass. Concurrent calls share the pass in progress. */
  reapOnce(): Promise<ReapResult> {
    return this.#loop.runOnce();
  }

  /** Reap every `intervalMs` until {@link stop}; the timer does not keep the process alive. */
  start(intervalMs: number): void {
    this.#loop.start(intervalMs);
  }

  /** Stop the loop and wait for a pass in progress. */
  stop(): Promise<void> {
    return this.#loop.stop();
  }

  async #reap(): Promise<ReapResult> {
    const result: ReapResult = { removed: [], strays: [], failures: [] };
    const artifacts = await this.#store.list();
    const registry = this.#store.registry;
    const liveHandles = registry.liveHandles?.bind(registry);
    const doomed = liveHandles
      ? await this.#doomedByRegistry(liveHandles, artifacts, result)
      : await this.#doomedByOwner(artifacts, result);
    for (const artifact of doomed) {
      try {
        if (await this.#store.remove(artifact.handle)) result.removed.push(artifact);
      } catch (error) {
        result.failures.push({ handle: artifact.handle, error });
      }
    }

    result.strays = await this.#store.sweepStrays({ olderThanMs: this.#strayGracePeriodMs });
    return result;
  }

  /** The registry decides artifact by artifact; if it cannot answer, everything waits for the next pass. */
  async #doomedByRegistry(
    liveHandles: (artifacts: readonly Artifact[]) => Promise<ReadonlySet<string>>,
    artifacts: Artifact[],
    result: ReapResult,
  ): Promise<Artifact[]> {
    if (artifacts.length === 0) return [];
    try {
      const live = await liveHandles(artifacts);
      return artifacts.filter((artifact) => !live.has(artifact.handle));
    } catch (error) {
      for (const artifact of artifacts) result.failures.push({ handle: artifact.handle, error });
      return [];
    }
  }

  /** Asks once per distinct owner; uploads also expire after the upload TTL. */
  async #doomedByOwner(artifacts: Artifact[], result: ReapResult): Promise<Artifact[]> {
    const byOwner = new Map<string, { owner: ArtifactOwner; artifacts: Artifact[] }>();
    for (const artifact of artifacts) {
      const key = ownerKey(artifact.owner);
      const group = byOwner.get(key) ?? { owner: artifact.owner, artifacts: [] };
      group.artifacts.push(artifact);
      byOwner.set(key, group);
    }

    const doomed: Artifact[] = [];
    const now = Date.now();
    for (const { owner, artifacts: owned } of byOwner.values()) {
      let alive: boolean;
      try {
        alive = await this.#store.registry.isOwnerAlive(owner);
      } catch (error) {
        for (const artifact of owned) result.failures.push({ handle: artifact.handle, error });
        continue;
      }
      for (const artifact of owned) {
        const expired = owner.kind === 'upload' && now - artifact.createdAt.getTime() > this.#uploadTtlMs;
        if (!alive || expired) doomed.push(artifact);
      }
    }
    return doomed;
  }
}
