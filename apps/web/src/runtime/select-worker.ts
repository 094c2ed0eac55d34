// The Worker of this web node, from `--runtime`: the local runtime (host processes under the data directory)
// or the Kubernetes runtime (pods), each with the one artifact store that uploads, step volumes and the
// artifact reaper share, and with its own way to stop.
import os from 'node:os';
import path from 'node:path';
import type { ArtifactStore } from '@jetbridge/artifact-store';
import type { Database, Kysely } from '@jetbridge/db';
import type { Worker } from '@jetbridge/runtime';
import { LocalWorker } from '@jetbridge/runtime-local';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type pg from 'pg';
import type { Registry } from 'prom-client';
import { openArtifactStore } from '../artifacts/artifact-collection.js';
import { startWorkerVolumeReaper } from '../artifacts/worker-volume-reaper.js';
import type { WebConfig } from '../config/index.js';
import { createCredentialManager } from '../creds/credentials-config.js';
import { KubernetesRuntime, kubernetesArtifactRoot } from './kubernetes-runtime.js';
import type { BuildTracker } from '../builds/build-tracker.js';

/** Leftovers younger than this stay at start on a store other web nodes share (the artifact reaper's own grace). */
const SHARED_STORE_STRAY_GRACE_MS = 60 * 60_000;

export interface WebRuntime {
  worker: Worker;
  artifactStore: ArtifactStore;
  /** The Kubernetes runtime's extras (recovery, pod reaper), when that is the runtime. */
  kubernetes?: KubernetesRuntime;
  /** Once the app and its build tracker exist. */
  attachApp(app: FastifyInstance): void;
  /** Shutdown, before the app (and its build tracker) closes. */
  beforeAppClose(): Promise<void>;
  /** Shutdown, after the app closed and before the database does. */
  afterAppClose(): Promise<void>;
}

export interface OpenRuntimeOptions {
  db: Kysely<Database>;
  pool: pg.Pool;
  logger: Logger;
  metrics: Registry;
}

export async function openWebRuntime(config: WebConfig, options: OpenRuntimeOptions): Promise<WebRuntime> {
  const { db, logger } = options;
  // Its containers keep their builds' volumes; made after the store it uses, before the reaper starts.
  const workerHoldingContainers: { current?: Worker } = {};
  const storeAt = (root: string, shared = false) =>
    openArtifactStore({
      root,
      db,
      retentionMs: config.gcArtifactRetentionMs,
      worker: () => workerHoldingContainers.current,
      logger: logger.child({ component: 'artifact-store' }),
      // On the claim every web replica writes: what looks left over may be another replica's upload under way.
      ...(shared ? { startupStrayGraceMs: SHARED_STORE_STRAY_GRACE_MS } : {}),
    });

  if (config.runtime === 'kubernetes') {
    const settings = config.kubernetes;
    if (settings === undefined) throw new Error('--runtime kubernetes without its settings');
    const artifactStore = await storeAt(
      kubernetesArtifactRoot(settings, config.dataDir),
      settings.artifacts.mode === 'pvc',
    );
    const kubernetes = await KubernetesRuntime.start({
      settings,
      artifactStore,
      db,
      pool: options.pool,
      logger,
      metrics: options.metrics,
      reapIntervalMs: config.gcIntervalMs,
      // The manager the builds resolved their vars with: recovered output is redacted with the same secrets.
      credentials: createCredentialManager(config),
    });
    workerHoldingContainers.current = kubernetes.worker;
    // node-local mode: volumes live on the nodes' artifact daemons, out of the store's reaper's sight.
    const volumeReaper =
      settings.artifacts.mode === 'node-local'
        ? startWorkerVolumeReaper({
            worker: kubernetes.worker,
            db,
            retentionMs: config.gcArtifactRetentionMs,
            intervalMs: config.gcIntervalMs,
            logger: logger.child({ component: 'gc' }),
          })
        : undefined;
    let tracker: BuildTracker | undefined;
    return {
      worker: kubernetes.worker,
      artifactStore,
      kubernetes,
      attachApp: (app) => {
        if (app.hasDecorator('buildTracker')) {
          tracker = app.buildTracker;
          kubernetes.useBuildLogs((buildId) => app.buildTracker.events.live(buildId));
        }
      },
      // Running builds are left `started` for the next web node (or another replica) to collect from their pods,
      // then the pods are let go of — before the build tracker stops its builds, so stopping them touches no pod.
      beforeAppClose: async () => {
        await volumeReaper?.stop();
        await tracker?.handOver();
        await kubernetes.release();
      },
      // Also when the app never got built (a start that failed half way): idempotent.
      afterAppClose: async () => {
        await volumeReaper?.stop();
        await kubernetes.release();
      },
    };
  }

  const workDir = path.join(config.dataDir, 'worker');
  // The local worker's own volumes directory, where it has always kept them.
  const artifactStore = await storeAt(path.join(workDir, 'volumes'));
  const worker = new LocalWorker({
    workDir,
    artifactStore,
    name: os.hostname(),
    logger: logger.child({ component: 'runtime-local' }),
    readOnlyMounts: config.localInputMode,
  });
  workerHoldingContainers.current = worker;
  return {
    worker,
    artifactStore,
    attachApp: () => undefined,
    beforeAppClose: async () => undefined,
    // Processes stop with their builds first (the build tracker closes with the app).
    afterAppClose: () => worker.close(),
  };
}
