// Garbage collection of volumes that live on the worker rather than in this node's artifact store: in the
// Kubernetes runtime's node-local mode they are on the nodes' artifact daemons, which the ArtifactReaper (it
// walks the store's directory) never sees, and which the worker keeps leased as long as it holds them. Same rules
// as the store's reaper — the DatabaseArtifactRegistry decides each volume — deleting through the worker.
import { PeriodicReaping, type Artifact, type ArtifactRegistry } from '@jetbridge/artifact-store';
import type { Database, Kysely } from '@jetbridge/db';
import type { VolumeInfo, Worker } from '@jetbridge/runtime';
import type { Logger } from 'pino';
import { buildsWithContainers } from './artifact-collection.js';
import { DatabaseArtifactRegistry } from './db-artifact-registry.js';

export interface WorkerVolumeReapResult {
  removed: VolumeInfo[];
  failures: Array<{ handle: string; error: unknown }>;
}

export interface WorkerVolumeReaperOptions {
  worker: Worker;
  /** Decides per volume; must answer `liveHandles` (the web's DatabaseArtifactRegistry does). */
  registry: Required<Pick<ArtifactRegistry, 'liveHandles' | 'unregister'>>;
  onError?: (error: unknown) => void;
  onPass?: (result: WorkerVolumeReapResult) => void;
  /** The clock, in ms since the epoch. */
  now?: () => number;
}

export class WorkerVolumeReaper {
  readonly #options: WorkerVolumeReaperOptions;
  readonly #now: () => number;
  /**
   * When this node first saw each volume. The worker does not say when a volume was made, and an upload's
   * retention counts from then: first sight is never earlier, so an upload is never taken early (after a
   * restart its retention starts over — kept longer, not shorter).
   */
  readonly #firstSeen = new Map<string, number>();
  readonly #loop: PeriodicReaping<WorkerVolumeReapResult>;

  constructor(options: WorkerVolumeReaperOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#loop = new PeriodicReaping(() => this.#reap(), options);
  }

  /** One pass. Concurrent calls share the pass in progress. */
  reapOnce(): Promise<WorkerVolumeReapResult> {
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

  async #reap(): Promise<WorkerVolumeReapResult> {
    const result: WorkerVolumeReapResult = { removed: [], failures: [] };
    const { worker, registry } = this.#options;
    const volumes = await worker.listVolumes();
    const now = this.#now();
    const listed = new Set(volumes.map((volume) => volume.handle));
    for (const handle of this.#firstSeen.keys()) if (!listed.has(handle)) this.#firstSeen.delete(handle);
    const artifacts: Artifact[] = volumes.map((volume) => {
      if (!this.#firstSeen.has(volume.handle)) this.#firstSeen.set(volume.handle, now);
      return {
        handle: volume.handle,
        path: volume.path,
        owner: volume.owner,
        teamName: volume.teamName,
        type: volume.type,
        createdAt: new Date(this.#firstSeen.get(volume.handle) ?? now),
      };
    });
    if (artifacts.length === 0) return result;
    const live = await registry.liveHandles(artifacts);
    for (const volume of volumes) {
      if (live.has(volume.handle)) continue;
      try {
        const found = await worker.lookupVolume(volume.handle);
        await found?.destroy();
        await registry.unregister(volume.handle);
        this.#firstSeen.delete(volume.handle);
        result.removed.push(volume);
      } catch (error) {
        result.failures.push({ handle: volume.handle, error });
      }
    }
    return result;
  }
}

/** Reap `worker`'s volumes every `intervalMs` by the database's rules, logging what each pass deleted. */
export function startWorkerVolumeReaper(options: {
  worker: Worker;
  db: Kysely<Database>;
  /** `--gc-artifact-retention`. */
  retentionMs: number;
  intervalMs: number;
  logger: Logger;
}): WorkerVolumeReaper {
  const { worker, logger } = options;
  const reaper = new WorkerVolumeReaper({
    worker,
    registry: new DatabaseArtifactRegistry({
      db: options.db,
      retentionMs: options.retentionMs,
      buildsWithContainers: () => buildsWithContainers(worker),
    }),
    onError: (err) => logger.warn({ err }, 'volume garbage collection failed; retrying on the next pass'),
    onPass: (result) => {
      if (result.removed.length === 0) return;
      logger.info(
        {
          removed: result.removed.map((volume) => ({
            handle: volume.handle,
            owner: volume.owner,
            team: volume.teamName,
          })),
        },
        'garbage-collected volumes',
      );
    },
  });
  reaper.start(options.intervalMs);
  return reaper;
}
