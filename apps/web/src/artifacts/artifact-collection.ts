// The web node's artifacts on disk and their garbage collection: one ArtifactStore holding every volume
// (uploads, step outputs), recorded in PostgreSQL through the DatabaseArtifactRegistry and shared with the
// worker, and an ArtifactReaper deleting what the registry no longer wants every `--gc-interval`.
import { ArtifactReaper, ArtifactStore } from '@jetbridge/artifact-store';
import type { Database, Kysely } from '@jetbridge/db';
import type { Worker } from '@jetbridge/runtime';
import type { Logger } from 'pino';
import { DatabaseArtifactRegistry } from './db-artifact-registry.js';

export interface OpenArtifactStoreOptions {
  /** The store's directory: `<data-dir>/worker/volumes`, where the local worker has always kept volumes. */
  root: string;
  db: Kysely<Database>;
  /** `--gc-artifact-retention`. */
  retentionMs: number;
  /** The worker whose containers keep their builds' volumes; none yet while the worker is being made. */
  worker: () => Worker | undefined;
  logger: Logger;
  /**
   * Age below which crash leftovers are kept at start. 0 (the default) where only this node writes (its data
   * directory); a store other web nodes share (the Kubernetes artifact claim) keeps their uploads in progress.
   */
  startupStrayGraceMs?: number;
}

/**
 * Open this node's artifact store on its database registry, deleting what a crash of the previous run left
 * (half-written uploads). Only this node writes into its data directory, so nothing there can be in
 * progress yet and the leftovers go at once; later ones wait for the reaper's grace period.
 */
export async function openArtifactStore(options: OpenArtifactStoreOptions): Promise<ArtifactStore> {
  const registry = new DatabaseArtifactRegistry({
    db: options.db,
    retentionMs: options.retentionMs,
    buildsWithContainers: async () => buildsWithContainers(options.worker()),
  });
  const store = new ArtifactStore({ root: options.root, registry });
  const strays = await store.sweepStrays({ olderThanMs: options.startupStrayGraceMs ?? 0 });
  if (strays.length > 0) {
    options.logger.info({ root: store.root, strays }, 'removed artifact leftovers of a previous run');
  }
  return store;
}

/** Reap `store` every `intervalMs` until stopped, logging what each pass deleted. */
export function startArtifactReaper(
  store: ArtifactStore,
  options: { intervalMs: number; logger: Logger },
): ArtifactReaper {
  const { logger } = options;
  const reaper = new ArtifactReaper(store, {
    onError: (err) => logger.warn({ err }, 'artifact garbage collection failed; retrying on the next pass'),
    onPass: (result) => {
      if (result.removed.length === 0 && result.strays.length === 0) return;
      logger.info(
        {
          removed: result.removed.map((artifact) => ({
            handle: artifact.handle,
            owner: artifact.owner,
            team: artifact.teamName,
          })),
          strays: result.strays,
        },
        'garbage-collected artifacts',
      );
    },
  });
  reaper.start(options.intervalMs);
  return reaper;
}

/** Builds whose containers are still on the worker; none while there is no worker yet. */
export async function buildsWithContainers(worker: Worker | undefined): Promise<ReadonlySet<number>> {
  const ids = new Set<number>();
  for (const container of (await worker?.listContainers()) ?? []) {
    if (container.metadata.buildId !== undefined) ids.add(container.metadata.buildId);
  }
  return ids;
}
