// `--runtime kubernetes`: the K8sWorker built from the `--kubernetes-*` settings, with what the web adds
// around it — restart recovery of interrupted steps, the periodic reaper of pods whose build is over,
// build-log notices (waiting for a node…), and a shutdown that leaves running pods to the next web node.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ArtifactStore } from '@jetbridge/artifact-store';
import { findBuild, isFinishedStatus, type Database, type Kysely } from '@jetbridge/db';
import {
  K8sWorker,
  NODE_STORE_IN_INIT,
  type ContainerNotice,
  type K8sWorkerConfig,
  type StepPodSummary,
} from '@jetbridge/runtime-k8s';
import { KubeConfig } from '@kubernetes/client-node';
import type { FastifyBaseLogger } from 'fastify';
import type { Logger } from 'pino';
import type pg from 'pg';
import type { Registry } from 'prom-client';
import type { BuildEventLog } from '../builds/build-event-log.js';
import type { KubernetesArtifactSettings, KubernetesRuntimeSettings } from '../config/index.js';
import type { CredentialManager } from '../creds/credential-manager.js';
import { stepOriginId } from './plan-origin.js';
import { ReleasableWorker } from './releasable-worker.js';
import { StepRecovery } from './step-recovery.js';

/** Where the web's artifact store lives with these settings (the K8sWorker requires it on the claim in pvc mode). */
export function kubernetesArtifactRoot(settings: KubernetesRuntimeSettings, dataDir: string): string {
  const { artifacts } = settings;
  if (artifacts.mode === 'pvc') return path.join(artifacts.claimMountPath, artifacts.directory);
  return path.join(dataDir, 'worker', 'volumes');
}

/**
 * Where step pods find the daemons' CA: this file inside each node's artifact directory (the chart's
 * DaemonSet copies it there), which a node-local step's init container sees under NODE_STORE_IN_INIT.
 */
export const NODE_CA_CERT_IN_HOST_PATH = 'tls/ca.crt';

/** The runtime's artifacts settings; node-local mode reads the daemons' CA file here (a missing one stops the start). */
export async function k8sArtifactsConfig(
  artifacts: KubernetesArtifactSettings,
): Promise<K8sWorkerConfig['artifacts']> {
  if (artifacts.mode === 'pvc') {
    return {
      mode: 'pvc',
      claimName: artifacts.claimName,
      claimMountPath: artifacts.claimMountPath,
      directory: artifacts.directory,
      inputs: artifacts.inputs,
    };
  }
  if (artifacts.mode === 'stream') return { mode: 'stream', maxOutputBytes: artifacts.maxOutputBytes };
  const scheme = artifacts.tlsCaCertPath === undefined ? 'http' : 'https';
  let ca: Buffer | undefined;
  if (artifacts.tlsCaCertPath !== undefined) {
    try {
      ca = await readFile(artifacts.tlsCaCertPath);
    } catch (err) {
      throw new Error(
        `--kubernetes-artifact-daemon-tls-ca-cert (CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_TLS_CA_CERT): cannot read ${artifacts.tlsCaCertPath}: ${(err as Error).message}`,
        { cause: err },
      );
    }
  }
  return {
    mode: 'node-local',
    hostPath: artifacts.daemonHostPath,
    daemons:
      'urls' in artifacts.daemons
        ? artifacts.daemons.urls
        : {
            discover: {
              ...artifacts.daemons.discover,
              port: artifacts.daemonPort,
              scheme,
            },
          },
    capabilityKey: artifacts.capabilityKey.reveal(),
    ...(ca === undefined
      ? {}
      : { tls: { ca, caPathInPod: path.posix.join(NODE_STORE_IN_INIT, NODE_CA_CERT_IN_HOST_PATH) } }),
    mirror: { replicas: artifacts.mirrorReplicas },
  };
}

/** The `--kubernetes-kubeconfig` file, or an error naming the setting (not a bare ENOENT). */
function loadKubeconfigFile(file: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  try {
    kubeConfig.loadFromFile(file);
  } catch (err) {
    throw new Error(
      `cannot load --kubernetes-kubeconfig (CONCOURSE_KUBERNETES_KUBECONFIG) ${file}: ${(err as { message?: string }).message ?? String(err)}`,
    );
  }
  return kubeConfig;
}

export async function k8sWorkerConfig(
  settings: KubernetesRuntimeSettings,
  artifactStore: ArtifactStore,
  extras: Pick<K8sWorkerConfig, 'metrics' | 'logger' | 'onNotice'>,
): Promise<K8sWorkerConfig> {
  return {
    ...(settings.kubeconfigPath === undefined
      ? {}
      : { kubeConfig: loadKubeconfigFile(settings.kubeconfigPath) }),
    namespace: settings.namespace,
    instance: settings.instance,
    artifacts: await k8sArtifactsConfig(settings.artifacts),
    // Volumes live in it in stream mode; in node-local mode they live on the daemons and it stays empty.
    artifactStore,
    helperImage: settings.helperImage,
    helperBinaryPath: settings.helperBinaryPath,
    defaultImage: settings.defaultTaskImage,
    resources: settings.resources,
    podStartTimeoutMs: settings.podStartupTimeoutMs,
    schedulingTimeoutMs: settings.podSchedulingTimeoutMs,
    keepForHijackMs: settings.keepForHijackMs,
    ...(settings.apiRetryBudgetMs === undefined ? {} : { apiRetryBudgetMs: settings.apiRetryBudgetMs }),
    imagePullSecrets: settings.imagePullSecrets,
    ...(settings.serviceAccount === undefined ? {} : { serviceAccountName: settings.serviceAccount }),
    allowPrivileged: settings.allowPrivileged,
    placement: settings.tagPlacement,
    ...extras,
  };
}

export interface KubernetesRuntimeOptions {
  settings: KubernetesRuntimeSettings;
  artifactStore: ArtifactStore;
  db: Kysely<Database>;
  pool: pg.Pool;
  logger: Logger;
  metrics: Registry;
  /** How often the pod reaper runs (`--gc-interval`). */
  reapIntervalMs: number;
  /** The cluster's credential manager: step recovery redacts the secrets of the builds it collects. */
  credentials: CredentialManager;
}

/** How long the reaper spares the pod of a finished build whose step still runs with nobody following it. */
const UNFOLLOWED_STEP_LIMIT_MS = 24 * 60 * 60_000;

/** The running Kubernetes runtime of one web node. */
export class KubernetesRuntime {
  /** The build log of a build running on this node, once the app (and its build tracker) exists. */
  private liveLog: ((buildId: number) => BuildEventLog | undefined) | undefined;
  private reapTimer: NodeJS.Timeout | undefined;
  private reaping: Promise<void> | undefined;
  private stopped = false;

  private constructor(
    readonly worker: ReleasableWorker,
    private readonly k8s: K8sWorker,
    readonly recovery: StepRecovery,
    private readonly options: KubernetesRuntimeOptions,
  ) {}

  /**
   * Connects to the cluster (a bad kubeconfig or namespace fails here), takes over the steps of builds a
   * previous web node left running, and starts the pod reaper.
   */
  static async start(options: KubernetesRuntimeOptions): Promise<KubernetesRuntime> {
    const runtimeLogger = options.logger.child({ component: 'runtime-k8s' });
    const notices: { sink?: (notice: ContainerNotice) => void } = {};
    const k8s = await K8sWorker.create(
      await k8sWorkerConfig(options.settings, options.artifactStore, {
        metrics: options.metrics,
        logger: runtimeLogger,
        onNotice: (notice) => notices.sink?.(notice),
      }),
    );
    let recovery: StepRecovery;
    try {
      recovery = await StepRecovery.start({
        worker: k8s,
        db: options.db,
        pool: options.pool,
        logger: options.logger.child({ component: 'step-recovery' }) as FastifyBaseLogger,
        credentials: options.credentials,
      });
    } catch (err) {
      await k8s.disconnect();
      throw err;
    }
    const runtime = new KubernetesRuntime(new ReleasableWorker(k8s), k8s, recovery, options);
    notices.sink = (notice) => runtime.noticeToBuildLog(notice);
    runtime.startReaper();
    runtimeLogger.info(
      {
        namespace: options.settings.namespace,
        artifactMode: options.settings.artifacts.mode,
        artifactStore: options.artifactStore.root,
        recovering: recovery.buildIds,
      },
      'Kubernetes runtime connected',
    );
    return runtime;
  }

  /** Build-log notices go to builds running here, through the app's build tracker. */
  useBuildLogs(liveLog: (buildId: number) => BuildEventLog | undefined): void {
    this.liveLog = liveLog;
  }

  /** One pass of the pod reaper now (also runs every `reapIntervalMs`). Returns the reaped handles. */
  async reapOnce(): Promise<string[]> {
    const overByBuild = new Map<number, Promise<boolean>>();
    const isBuildOver = (pod: StepPodSummary): Promise<boolean> => {
      const buildId = pod.metadata.buildId;
      if (buildId === undefined) return Promise.resolve(true);
      let over = overByBuild.get(buildId);
      if (over === undefined) {
        over = findBuild(this.options.db, buildId).then(
          (build) => build === undefined || isFinishedStatus(build.status),
        );
        overByBuild.set(buildId, over);
      }
      return over;
    };
    // A step whose web node stopped gracefully runs on unfollowed (no exit recorded on its pod): its pod stays
    // until the step ends, so that nothing is cut in half — up to a day, for a step that never ends.
    const isReapable = async (pod: StepPodSummary): Promise<boolean> => {
      if (!(await isBuildOver(pod))) return false;
      if (pod.lastExit !== undefined) return true;
      const age = pod.createdAt === undefined ? 0 : Date.now() - Date.parse(pod.createdAt);
      return age > UNFOLLOWED_STEP_LIMIT_MS || !(await this.runsAProcess(pod.handle));
    };
    return this.k8s.reapPods(isReapable);
  }

  /** Whether a process runs in the pod of `handle`; false when it cannot be asked (the pod is not usable). */
  private async runsAProcess(handle: string): Promise<boolean> {
    try {
      const container = await this.k8s.lookupContainer(handle);
      if (container === undefined) return false;
      return (await container.listProcesses()).some((process) => process.running);
    } catch {
      return false;
    }
  }

  /**
   * Shutdown: stop reaping and recovering, then let go of every pod without stopping it (before the build
   * tracker stops its builds, so stopping them touches no pod). A restarted web node collects them.
   */
  async release(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.reapTimer);
    await this.reaping;
    await this.recovery.stop(() => this.worker.release());
    if (!this.worker.isReleased) await this.worker.release();
  }

  private startReaper(): void {
    const pass = () => {
      if (this.reaping || this.stopped) return;
      this.reaping = this.reapOnce()
        .then(() => undefined)
        .catch((err: unknown) =>
          this.options.logger.warn({ err }, 'pod reaping failed; retrying on the next pass'),
        )
        .finally(() => {
          this.reaping = undefined;
        });
    };
    this.reapTimer = setInterval(pass, this.options.reapIntervalMs);
    this.reapTimer.unref();
    pass(); // pods of builds that ended while no web node watched go now
  }

  private noticeToBuildLog(notice: ContainerNotice): void {
    const buildId = notice.metadata.buildId;
    const log = buildId === undefined ? undefined : this.liveLog?.(buildId);
    if (buildId === undefined || log === undefined) return;
    void findBuild(this.options.db, buildId)
      .then((build) => {
        const id = stepOriginId(build?.plan, notice.metadata);
        return log.append({
          event: 'log',
          version: '5.1',
          data: {
            time: Math.floor(Date.now() / 1000),
            origin: { ...(id === undefined ? {} : { id }), source: 'stderr' },
            payload: `${notice.message}\n`,
          },
        });
      })
      .catch((err: unknown) =>
        this.options.logger.warn({ err, buildId }, 'cannot add a notice to a build log'),
      );
  }
}
