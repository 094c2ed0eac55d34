import { randomUUID } from 'node:crypto';
import { chmod, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  ArtifactExistsError,
  ArtifactStore,
  ArtifactStoreError,
  isValidHandle,
  type Artifact,
} from '@jetbridge/artifact-store';
import { RuntimeError } from '@jetbridge/runtime';
import type {
  Container,
  ContainerInfo,
  ContainerMetadata,
  ContainerSpec,
  Volume,
  VolumeInfo,
  VolumeOwner,
  VolumeSpec,
  Worker,
  WorkerInfo,
} from '@jetbridge/runtime';
import { KubeConfig } from '@kubernetes/client-node';
import { resolveConfig, type K8sWorkerConfig, type ResolvedK8sConfig } from './config.js';
import { PodStartError } from './errors.js';
import { containerInfoOf, K8sContainer } from './k8s-container.js';
import { K8sVolume } from './k8s-volume.js';
import { KubeApi, type KubeConfigLike } from './kube/kube-api.js';
import { defaultRetryPolicy } from './kube/retry-policy.js';
import { PodClient } from './kube/pod-client.js';
import { PodTracker } from './kube/pod-tracker.js';
import type { Pod } from './kube/pod-types.js';
import { silentLogger, type Logger } from './logger.js';
import { K8sRuntimeMetrics } from './metrics.js';
import {
  ANNOTATIONS,
  containerIdentity,
  handleHash,
  instanceSelector,
  lastExitOf,
  podAnnotations,
  podLabels,
  podNameFor,
  streamedOutputsOf,
  type StreamedOutputRecord,
} from './pods/pod-identity.js';
import {
  describePod,
  INIT_CONTAINER,
  MAIN_CONTAINER,
  startStateOf,
  type StartState,
} from './pods/pod-state.js';
import { buildStepPod, containerPath, HELPER_PATH, workDirFor, type ClaimMount } from './pods/step-pod.js';
import { outsideRoots, streamLocation } from './pods/stream-layout.js';
import { streamVolumesIn, type StreamedVolume } from './stream/artifact-transfer.js';
import { OutputCollectorThread } from './stream/collector-thread.js';
import type { WorkerContext } from './worker-context.js';
import { discoverDaemons } from './node-local/discovery.js';
import { NodeLocalArtifacts, type PreparedPod } from './node-local/node-local-artifacts.js';

/** What the reaper's predicate is asked about each JetBridge pod. */
export interface StepPodSummary {
  handle: string;
  podName: string;
  metadata: ContainerMetadata;
  phase: string;
  createdAt?: string;
  /** The last process exit a web recorded on the pod. */
  lastExit?: { id: string; status: number; at: string };
}

function loadKubeConfig(kubeconfigPath: string | undefined): KubeConfigLike {
  const kubeConfig = new KubeConfig();
  if (kubeconfigPath) kubeConfig.loadFromFile(kubeconfigPath);
  else kubeConfig.loadFromCluster();
  return kubeConfig;
}

function formatDuration(ms: number): string {
  return ms >= 60_000 ? `${Math.round(ms / 60_000)}m` : `${Math.round(ms / 1000)}s`;
}

/**
 * A Worker that runs every step as a pod in one namespace (Concourse's "worker" becomes the namespace, as in
 * RFC 075 and JetBridge-the-fork). Volumes are directories on a ReadWriteMany claim shared by the web and the
 * step pods; containers are pods that idle on the JetBridge helper while processes are exec'd into them. Pods
 * carry labels and annotations enough for a restarted web to find its containers and processes again.
 *
 * @example
 * const worker = await K8sWorker.create({
 *   namespace: 'ci',
 *   artifacts: { mode: 'pvc', claimName: 'jetbridge-artifacts', claimMountPath: '/var/lib/jetbridge' },
 *   helperImage: 'ghcr.io/jetbridge/helper@sha256:…',
 * });
 */
export class K8sWorker implements Worker {
  readonly name: string;
  private readonly config: ResolvedK8sConfig;
  private readonly context: WorkerContext;
  private readonly held = new Map<string, K8sContainer>();
  private readonly creating = new Map<string, ContainerMetadata>();
  private readonly startTime = Math.floor(Date.now() / 1000);
  private volumeCount = 0;
  private countingVolumes: Promise<void> | undefined;
  private closed = false;
  /** Ends waits for starting pods when the worker closes. */
  private readonly stopping = new AbortController();

  private constructor(
    private readonly options: K8sWorkerConfig,
    config: ResolvedK8sConfig,
    context: WorkerContext,
    private readonly store: ArtifactStore,
    /** node-local mode: volumes are artifacts on the nodes' daemons. */
    private readonly nodeLocal?: NodeLocalArtifacts,
  ) {
    this.config = config;
    this.name = config.name;
    this.context = context;
  }

  /** Connects (listing the namespace's JetBridge pods, so a bad kubeconfig fails here) and starts watching. */
  static async create(options: K8sWorkerConfig): Promise<K8sWorker> {
    const config = resolveConfig(options);
    const kubeConfig = options.kubeConfig ?? loadKubeConfig(options.kubeconfigPath);
    const api = new KubeApi(kubeConfig, defaultRetryPolicy(process.env, options.apiRetryBudgetMs));
    const logger: Logger = options.logger ?? silentLogger;
    const metrics = K8sRuntimeMetrics.create(options.metrics);
    const tracker = new PodTracker({
      api,
      namespace: config.namespace,
      labelSelector: instanceSelector(config.instance),
      resyncIntervalMs: config.resyncIntervalMs,
      watchTimeoutSeconds: config.watchTimeoutSeconds,
      logger,
      onWatchRestart: (cause) => metrics.watchRestarted(cause),
    });
    try {
      await tracker.start();
    } catch (error) {
      throw new RuntimeError(
        `cannot list pods in namespace ${config.namespace}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    const artifacts = config.artifacts;
    let store: ArtifactStore;
    let nodeLocal: NodeLocalArtifacts | undefined;
    if (artifacts.mode === 'node-local') {
      nodeLocal = new NodeLocalArtifacts(
        artifacts,
        config.name,
        logger,
        artifacts.discovery ? discoverDaemons(api, artifacts.discovery, config.namespace) : undefined,
      );
      await nodeLocal
        .refresh()
        .catch((error: unknown) =>
          logger.warn({ err: (error as Error).message }, 'could not list the artifact daemons’ artifacts'),
        );
      // Not used for volumes in this mode (they live on the daemons); never touched unless given.
      store =
        options.artifactStore ?? new ArtifactStore({ root: path.join(os.tmpdir(), 'jetbridge-node-local') });
    } else if (artifacts.mode === 'stream') {
      // resolveConfig made sure there is one: volumes live in the web's own store.
      store = options.artifactStore as ArtifactStore;
    } else {
      store =
        options.artifactStore ??
        new ArtifactStore({ root: path.join(artifacts.claimMountPath, artifacts.directory) });
      const relative = path.relative(path.resolve(artifacts.claimMountPath), store.root);
      if (relative.startsWith('..') || path.isAbsolute(relative)) {
        await tracker.stop();
        throw new RuntimeError(
          `the artifact store (${store.root}) must live on the claim, below ${artifacts.claimMountPath}`,
        );
      }
    }
    const worker = new K8sWorker(
      options,
      config,
      {
        config,
        kubeConfig,
        pods: new PodClient(api, config.namespace),
        tracker,
        metrics,
        logger,
        ...(artifacts.mode === 'stream' ? { outputReceiver: new OutputCollectorThread(logger) } : {}),
      },
      store,
      nodeLocal,
    );
    worker.volumeCount = nodeLocal ? nodeLocal.volumeCount : (await store.list()).length;
    return worker;
  }

  info(): WorkerInfo {
    this.countVolumesInBackground();
    return {
      name: this.name,
      platform: 'linux',
      tags: Object.keys(this.config.placement),
      team: '',
      version: this.config.version,
      startTime: this.startTime,
      activeContainers: this.livePods().length,
      activeVolumes: this.volumeCount,
      resourceTypes: [],
    };
  }

  async createContainer(spec: ContainerSpec): Promise<Container> {
    this.assertOpen();
    if (!isValidHandle(spec.handle)) {
      throw new RuntimeError(
        `invalid container handle ${JSON.stringify(spec.handle)}: use up to 128 letters, digits, '.', '_' and '-', starting with a letter or digit`,
      );
    }
    if (this.creating.has(spec.handle) || this.findPod(spec.handle)) {
      throw new RuntimeError(`container ${spec.handle} already exists`);
    }
    const podName = podNameFor(spec.handle, spec.metadata);
    const workDir = workDirFor(spec, handleHash(spec.handle));
    this.creating.set(spec.handle, spec.metadata);
    let created = false;
    const streaming = this.config.artifacts.mode === 'stream';
    let streamed: StreamedVolume[] = [];
    let emptyOutputs = new Set<StreamedVolume>();
    let nodeLocalPod: PreparedPod | undefined;
    try {
      const annotations = podAnnotations(spec.handle, spec.metadata, workDir, this.name);
      let mounts: ClaimMount[] = [];
      if (streaming) {
        streamed = await this.streamedVolumes(workDir, spec.mounts);
        emptyOutputs = await this.emptyOutputsOf(streamed);
        annotations[ANNOTATIONS.streamedOutputs] = JSON.stringify(
          streamed
            .filter((volume) => !volume.readOnly)
            .map((volume): StreamedOutputRecord => ({
              handle: volume.handle,
              containerPath: volume.containerPath,
              ...volume.location,
            })),
        );
      } else if (this.nodeLocal) {
        nodeLocalPod = await this.nodeLocal.prepare(spec, workDir);
      } else {
        mounts = await Promise.all(spec.mounts.map((mount) => this.claimMount(workDir, mount)));
      }
      const pod = buildStepPod(
        {
          spec,
          podName,
          labels: podLabels(this.config.instance, spec.handle, spec.metadata),
          annotations,
          workDir,
          mounts,
          streamedPaths: streamed
            .filter((volume) => !emptyOutputs.has(volume))
            .map((volume) => volume.containerPath),
          createdPaths: [...emptyOutputs].map((volume) => volume.containerPath),
          ...(nodeLocalPod ? { layout: nodeLocalPod.layout } : {}),
        },
        this.config,
      );
      const began = Date.now();
      const answer = await this.context.pods.create(pod);
      if (!answer) throw new RuntimeError(`container ${spec.handle} already exists (pod ${podName})`);
      created = true;
      this.context.tracker.observe(answer);
      await this.waitUntilRunning(podName, spec, began);
      this.context.metrics.podStarted((Date.now() - began) / 1000);
      if (nodeLocalPod && this.nodeLocal) {
        await this.nodeLocal.started(this.context.tracker.get(podName), nodeLocalPod);
      }
      if (streaming) {
        await this.streamInputs(
          podName,
          spec,
          streamed.filter((volume) => !emptyOutputs.has(volume)),
        );
      } else if (this.options.metrics) void this.recordInputCopy(podName);
    } catch (error) {
      if (created) await this.deleteFailedPod(podName);
      if (error instanceof RuntimeError) throw error;
      throw new RuntimeError(`cannot create container ${spec.handle}: ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      this.creating.delete(spec.handle);
    }
    const container = new K8sContainer(
      spec.handle,
      spec.metadata,
      podName,
      workDir,
      spec.env,
      this.context,
      (handle) => this.held.delete(handle),
      streaming ? { store: this.store, volumes: streamed.filter((volume) => !volume.readOnly) } : undefined,
      nodeLocalPod && nodeLocalPod.outputs.length > 0 && this.nodeLocal
        ? this.nodeLocal.outputsSettled.bind(this.nodeLocal, nodeLocalPod.outputs)
        : undefined,
    );
    this.held.set(spec.handle, container);
    if (this.closed) {
      await container.destroy();
      this.assertOpen();
    }
    return container;
  }

  /**
   * The container of a live JetBridge pod with this handle — created by this worker or, after a restart, by
   * an earlier one (rebuilt from the pod's annotations; re-attach to its processes by id).
   */
  async lookupContainer(handle: string): Promise<K8sContainer | undefined> {
    const pod = this.findPod(handle);
    const held = this.held.get(handle);
    if (!pod) {
      if (held) this.held.delete(handle);
      return undefined;
    }
    if (held) return held;
    const identity = containerIdentity(pod);
    if (!identity) return undefined;
    const container = new K8sContainer(
      handle,
      identity.metadata,
      pod.metadata.name ?? '',
      identity.workDir,
      undefined,
      this.context,
      (gone) => this.held.delete(gone),
      this.config.artifacts.mode === 'stream'
        ? {
            store: this.store,
            volumes: streamedOutputsOf(pod).map((record) => ({
              handle: record.handle,
              containerPath: record.containerPath,
              readOnly: false,
              location: { dir: record.dir, relative: record.relative },
            })),
          }
        : undefined,
    );
    this.held.set(handle, container);
    return container;
  }

  /** Every container of this JetBridge instance's live pods: how a restarted web takes over its steps. */
  async recover(): Promise<K8sContainer[]> {
    const containers: K8sContainer[] = [];
    for (const pod of this.livePods()) {
      const identity = containerIdentity(pod);
      const container = identity ? await this.lookupContainer(identity.handle) : undefined;
      if (container) containers.push(container);
    }
    return containers;
  }

  async listContainers(): Promise<ContainerInfo[]> {
    const infos: ContainerInfo[] = [...this.creating].map(([handle, metadata]) => ({
      handle,
      workerName: this.name,
      state: 'creating',
      metadata,
    }));
    for (const pod of this.context.tracker.list()) {
      const identity = containerIdentity(pod);
      if (!identity || this.creating.has(identity.handle)) continue;
      infos.push(containerInfoOf(pod, identity.handle, identity.metadata, this.name));
    }
    return infos;
  }

  async createVolume(spec: VolumeSpec): Promise<Volume> {
    this.assertOpen();
    if (this.nodeLocal) {
      const volume = this.nodeLocal.createVolume({ ...spec, handle: spec.handle ?? randomUUID() });
      this.volumeCount++;
      return volume;
    }
    let artifact: Artifact;
    try {
      artifact = await this.store.allocate({
        ...(spec.handle === undefined ? {} : { handle: spec.handle }),
        owner: spec.owner,
        teamName: spec.teamName,
        type: spec.type ?? 'artifact',
      });
    } catch (err) {
      if (err instanceof ArtifactExistsError) {
        throw new RuntimeError(`volume ${err.handle} already exists`, { cause: err });
      }
      if (err instanceof ArtifactStoreError) {
        throw new RuntimeError(`cannot create volume: ${err.message}`, { cause: err });
      }
      throw err;
    }
    this.volumeCount++;
    return this.volumeOf(artifact);
  }

  async lookupVolume(handle: string): Promise<Volume | undefined> {
    if (this.nodeLocal) return this.nodeLocal.lookupVolume(handle);
    const artifact = await this.store.lookup(handle);
    return artifact === undefined ? undefined : this.volumeOf(artifact);
  }

  async listVolumes(): Promise<VolumeInfo[]> {
    if (this.nodeLocal) return this.nodeLocal.listVolumes();
    const artifacts = await this.store.list();
    this.volumeCount = artifacts.length;
    return artifacts.map((artifact) => ({
      handle: artifact.handle,
      workerName: this.name,
      type: artifact.type,
      teamName: artifact.teamName,
      owner: artifact.owner as VolumeOwner,
      path:
        this.config.artifacts.mode === 'pvc'
          ? `${this.config.artifacts.claimName}:${this.subPathOf(artifact)}`
          : artifact.path,
    }));
  }

  /**
   * Deletes every pod this worker created or took over (their processes die with them) and stops watching.
   * For a web that shuts down for good; a rolling restart wants {@link disconnect}.
   */
  async close(): Promise<void> {
    this.closed = true;
    this.nodeLocal?.close();
    this.stopping.abort(new RuntimeError(`worker ${this.name} is closed`));
    const results = await Promise.allSettled([...this.held.values()].map((container) => container.destroy()));
    for (const result of results) {
      if (result.status === 'rejected') {
        this.context.logger.warn(
          { err: (result.reason as Error).message },
          'a container could not be removed on close',
        );
      }
    }
    await this.context.tracker.stop();
    await this.context.outputReceiver?.close();
  }

  /**
   * Stops watching and following without touching any pod: steps keep running, and the next web collects
   * them (`lookupContainer` + `attach`). Pending waits reject with a RuntimeError saying so.
   */
  async disconnect(): Promise<void> {
    this.closed = true;
    this.nodeLocal?.close();
    this.stopping.abort(new RuntimeError(`worker ${this.name} is closed`));
    for (const container of this.held.values()) container.release();
    this.held.clear();
    await this.context.tracker.stop();
    await this.context.outputReceiver?.close();
  }

  /**
   * Deletes the pods of this instance whose build is over (the predicate decides, e.g. from the database),
   * except those whose last process ended less than `keepForHijackMs` ago. Returns the reaped handles.
   */
  async reapPods(isBuildOver: (pod: StepPodSummary) => boolean | Promise<boolean>): Promise<string[]> {
    const reaped: string[] = [];
    for (const pod of this.livePods()) {
      const identity = containerIdentity(pod);
      if (!identity) continue;
      const lastExit = lastExitOf(pod);
      const summary: StepPodSummary = {
        handle: identity.handle,
        podName: pod.metadata.name ?? '',
        metadata: identity.metadata,
        phase: pod.status?.phase ?? 'Unknown',
        ...(pod.metadata.creationTimestamp ? { createdAt: pod.metadata.creationTimestamp } : {}),
        ...(lastExit ? { lastExit } : {}),
      };
      if (this.creating.has(identity.handle) || !(await isBuildOver(summary))) continue;
      if (lastExit && Date.now() - Date.parse(lastExit.at) < this.config.keepForHijackMs) continue;
      const container = this.held.get(identity.handle);
      if (container) await container.destroy();
      else await this.context.pods.delete(summary.podName, this.config.terminationGracePeriodSeconds);
      reaped.push(identity.handle);
    }
    if (reaped.length > 0)
      this.context.logger.info({ pods: reaped.length }, 'reaped pods of finished builds');
    return reaped;
  }

  private livePods(): Pod[] {
    return this.context.tracker
      .list()
      .filter((pod) => !pod.metadata.deletionTimestamp && containerIdentity(pod) !== undefined);
  }

  private findPod(handle: string): Pod | undefined {
    return this.livePods().find((pod) => containerIdentity(pod)?.handle === handle);
  }

  private async claimMount(workDir: string, mount: ContainerSpec['mounts'][number]): Promise<ClaimMount> {
    const artifact = await this.store.lookup(mount.volume.handle);
    if (!artifact) throw new RuntimeError(`volume ${mount.volume.handle} is not on worker ${this.name}`);
    const readOnly = mount.readOnly ?? false;
    if (!readOnly) {
      // Step images often run as another user than the web: let them write their outputs (kubelet would
      // not help: the subPath exists, we created it, and it is ours).
      await chmod(artifact.path, 0o777).catch(() => undefined);
    }
    return { subPath: this.subPathOf(artifact), mountPath: containerPath(workDir, mount.path), readOnly };
  }

  private subPathOf(artifact: Artifact): string {
    const mountPath = this.config.artifacts.mode === 'pvc' ? this.config.artifacts.claimMountPath : '/';
    return path.relative(path.resolve(mountPath), artifact.path).split(path.sep).join('/');
  }

  /** stream mode: each mount's artifact and where it lives in the pod (its emptyDir, and the path in it). */
  private async streamedVolumes(workDir: string, mounts: ContainerSpec['mounts']): Promise<StreamedVolume[]> {
    const paths = mounts.map((mount) => containerPath(workDir, mount.path));
    const roots = outsideRoots(workDir, paths);
    return Promise.all(
      mounts.map(async (mount, index) => {
        const artifact = await this.store.lookup(mount.volume.handle);
        if (!artifact) throw new RuntimeError(`volume ${mount.volume.handle} is not on worker ${this.name}`);
        const mountPath = paths[index] ?? containerPath(workDir, mount.path);
        return {
          handle: artifact.handle,
          containerPath: mountPath,
          readOnly: mount.readOnly ?? false,
          location: streamLocation(workDir, mountPath, roots),
        };
      }),
    );
  }

  /** stream mode: outputs whose artifact holds nothing yet (the init container creates them: no transfer). */
  private async emptyOutputsOf(volumes: StreamedVolume[]): Promise<Set<StreamedVolume>> {
    const empty = new Set<StreamedVolume>();
    for (const volume of volumes) {
      if (volume.readOnly) continue;
      const artifact = await this.store.lookup(volume.handle);
      const entries = artifact ? await readdir(artifact.path).catch(() => undefined) : undefined;
      if (entries?.length === 0) empty.add(volume);
    }
    return empty;
  }

  /**
   * stream mode: every volume (inputs, and outputs with what they already hold) into the running pod before
   * the step's process can start; a failure ends the start like a failed input copy in pvc mode.
   */
  private async streamInputs(podName: string, spec: ContainerSpec, volumes: StreamedVolume[]): Promise<void> {
    if (this.config.artifacts.mode !== 'stream' || volumes.length === 0) return;
    try {
      const report = await streamVolumesIn(volumes, {
        store: this.store,
        target: {
          kubeConfig: this.context.kubeConfig,
          namespace: this.config.namespace,
          pod: podName,
          container: MAIN_CONTAINER,
          helperPath: HELPER_PATH,
        },
        parallel: this.config.artifacts.parallelTransfers,
        attempts: this.config.artifacts.transferAttempts,
        metrics: this.context.metrics,
        logger: this.context.logger,
        signal: this.stopping.signal,
      });
      this.context.metrics.inputsCopied(report);
    } catch (error) {
      // A worker closing under the transfer is not the pod's fault: say so, as a start waiting for a node does.
      if (this.stopping.signal.aborted) throw this.stopping.signal.reason as RuntimeError;
      this.context.metrics.podFailed('InputStreamFailed');
      throw new PodStartError(
        podName,
        'InputStreamFailed',
        `InputStreamFailed: ${(error as Error).message}`,
        spec.metadata.stepName,
      );
    }
  }

  /**
   * Waits for the main container to run. Unschedulable pods wait up to the scheduling limit, saying so in
   * the build log (onNotice); image pull errors, invalid specs and failed input copies end it at once.
   */
  private async waitUntilRunning(podName: string, spec: ContainerSpec, began: number): Promise<void> {
    const noticed = new Set<string>();
    let scheduledAt: number | undefined;
    const { schedulingTimeoutMs, podStartTimeoutMs } = this.config;
    const outcome = await this.context.tracker.waitFor<StartState>(
      podName,
      (pod) => {
        const state = startStateOf(pod);
        const now = Date.now();
        if (state.kind === 'running' || state.kind === 'failed') return state;
        if (pod?.spec.nodeName) scheduledAt ??= now;
        if (state.kind === 'unschedulable' && !noticed.has(state.message)) {
          noticed.add(state.message);
          this.notice(spec, podName, `waiting for a node to run the step: ${state.message}`);
        }
        if (scheduledAt === undefined && now - began > schedulingTimeoutMs) {
          const why = state.kind === 'unschedulable' ? state.message : 'the pod was never scheduled';
          return {
            kind: 'failed',
            reason: 'Unschedulable',
            message: `no node could run the pod within ${formatDuration(schedulingTimeoutMs)}: ${why}`,
          };
        }
        if (scheduledAt !== undefined && now - scheduledAt > podStartTimeoutMs) {
          return {
            kind: 'failed',
            reason: 'StartTimeout',
            message: `the pod did not start within ${formatDuration(podStartTimeoutMs)} of being scheduled`,
          };
        }
        return undefined;
      },
      { pollMs: this.config.podPollIntervalMs, signal: this.stopping.signal },
    );
    if (outcome.kind !== 'failed') return;
    const pod = this.context.tracker.get(podName);
    const initFailed = pod?.status?.initContainerStatuses?.some(
      (status) => (status.state?.terminated?.exitCode ?? 0) !== 0,
    );
    const [events, initLog] = await Promise.all([
      this.context.pods.events(podName),
      initFailed ? this.context.pods.log(podName, INIT_CONTAINER) : Promise.resolve(''),
    ]);
    this.context.metrics.podFailed(outcome.reason);
    throw new PodStartError(
      podName,
      outcome.reason,
      `${outcome.reason}: ${outcome.message}\n${describePod(pod, { events, initLog, podName })}`,
      spec.metadata.stepName,
    );
  }

  /** No orphan: a pod that did not start is deleted, and forgotten before createContainer answers. */
  private async deleteFailedPod(podName: string): Promise<void> {
    try {
      await this.context.pods.delete(podName, 0);
      await this.context.tracker.waitFor(podName, (pod) => (pod === undefined ? true : undefined), {
        pollMs: this.config.podPollIntervalMs,
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      this.context.logger.warn(
        { pod: podName, err: (error as Error).message },
        'a pod that failed to start could not be deleted (the reaper will)',
      );
    }
  }

  private notice(spec: ContainerSpec, podName: string, message: string): void {
    this.context.logger.info({ container: spec.handle, pod: podName }, message);
    try {
      this.options.onNotice?.({ handle: spec.handle, metadata: spec.metadata, podName, message });
    } catch (error) {
      this.context.logger.warn({ err: (error as Error).message }, 'onNotice failed');
    }
  }

  /** Reads the copy report the init container printed (helper copy) into the copy metrics. */
  private async recordInputCopy(podName: string): Promise<void> {
    const log = await this.context.pods.log(podName, INIT_CONTAINER, 5);
    // pvc mode's `copy` report, or node-local mode's `fetch-inputs` one: both say how long and how much.
    const line = log
      .split('\n')
      .find((each) => each.includes('"jetbridgeCopyInputs"') || each.includes('"jetbridgeNodeLocalInputs"'));
    if (!line) return;
    // `inputs`: how many were copied (pvc) or the outcome of each (node-local).
    type Report = { durationMs: number; bytes: number; inputs?: number | unknown[] };
    try {
      const parsed = JSON.parse(line) as { jetbridgeCopyInputs?: Report; jetbridgeNodeLocalInputs?: Report };
      const report = parsed.jetbridgeCopyInputs ?? parsed.jetbridgeNodeLocalInputs;
      if (!report) return;
      // A pod that copied nothing (no inputs, only outputs, `--kubernetes-inputs mount`) is no copy to measure.
      const inputs = Array.isArray(report.inputs) ? report.inputs.length : report.inputs;
      if (inputs === 0) return;
      this.context.metrics.inputsCopied({ seconds: report.durationMs / 1000, bytes: report.bytes });
    } catch {
      // not a report after all
    }
  }

  private volumeOf(artifact: Artifact): K8sVolume {
    return new K8sVolume(artifact.handle, this.store, () => {
      this.volumeCount = Math.max(0, this.volumeCount - 1);
    });
  }

  private countVolumesInBackground(): void {
    if (this.nodeLocal) {
      this.volumeCount = this.nodeLocal.volumeCount;
      return;
    }
    if (this.countingVolumes !== undefined) return;
    this.countingVolumes = this.store
      .list()
      .then(
        (artifacts) => {
          this.volumeCount = artifacts.length;
        },
        () => undefined,
      )
      .finally(() => {
        this.countingVolumes = undefined;
      });
  }

  private assertOpen(): void {
    if (this.closed) throw new RuntimeError(`worker ${this.name} is closed`);
  }
}
