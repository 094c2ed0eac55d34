import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { RuntimeError } from '@jetbridge/runtime';
import type {
  Container,
  ContainerInfo,
  ContainerMetadata,
  Process,
  ProcessIO,
  ProcessSpec,
} from '@jetbridge/runtime';
import { PodFailedError } from './errors.js';
import { execHelper, type HelperTarget } from './helper/helper-exec.js';
import { K8sProcess, type OutputOffsets, type ProcessHost } from './k8s-process.js';
import type { Pod } from './kube/pod-types.js';
import { ANNOTATIONS } from './pods/pod-identity.js';
import { describePod, healthOf, INIT_CONTAINER, MAIN_CONTAINER } from './pods/pod-state.js';
import { HELPER_PATH } from './pods/step-pod.js';
import { collectOutputs, type StreamedVolume } from './stream/artifact-transfer.js';
import type { ArtifactStore } from '@jetbridge/artifact-store';
import type { WorkerContext } from './worker-context.js';

/** stream mode: the outputs to bring into the web's store whenever a process of the container ends. */
export interface StreamedOutputs {
  store: ArtifactStore;
  volumes: StreamedVolume[];
}

/** Finished processes kept for `attach`; the oldest are forgotten beyond this. */
const FINISHED_PROCESSES_KEPT = 100;
/** How long destroy waits to see the pod gone before returning anyway (the pod is deleted either way). */
const POD_GONE_WAIT_MS = 30_000;

/** A process as `status` reports it (helper/status.go). */
export interface PodProcessState {
  id: string;
  pid?: number;
  running: boolean;
  exit?: { status: number; signal?: number };
  lost?: boolean;
  stdoutBytes: number;
  stderrBytes: number;
}

export function containerInfoOf(
  pod: Pod,
  handle: string,
  metadata: ContainerMetadata,
  workerName: string,
): ContainerInfo {
  const state: ContainerInfo['state'] = pod.metadata.deletionTimestamp
    ? 'destroying'
    : healthOf(pod).kind === 'failed'
      ? 'failed'
      : pod.status?.containerStatuses?.some(
            (status) => status.name === MAIN_CONTAINER && status.state?.running,
          )
        ? 'created'
        : 'creating';
  return { handle, workerName, state, metadata };
}

/**
 * A step's pod seen as a Container. Processes are exec'd into its `main` container through the helper; the
 * pod outlives each of them, and this object can be rebuilt from the pod's labels and annotations by a web
 * that restarted (its processes are then found again by id with `attach`).
 */
export class K8sContainer implements Container {
  private readonly processes = new Map<string, K8sProcess>();
  private readonly starting = new Set<string>();
  private readonly lifecycle = new AbortController();
  private readonly unsubscribe: () => void;
  private readonly processHost: ProcessHost;
  /** Set once processes can no longer run here: destroyed, or the worker let go of the container. */
  private disposition: RuntimeError | undefined;
  private failure: PodFailedError | undefined;
  private destroying: Promise<void> | undefined;
  /** The collection in progress or last done: collections of one container never overlap. */
  private collecting: Promise<void> = Promise.resolve();

  constructor(
    readonly handle: string,
    readonly metadata: ContainerMetadata,
    readonly podName: string,
    private readonly workDir: string,
    /** The container env; unknown (undefined) for a container rebuilt after a restart: the pod saved it. */
    private readonly containerEnv: Record<string, string> | undefined,
    private readonly context: WorkerContext,
    private readonly onGone: (handle: string) => void,
    private readonly streamedOutputs?: StreamedOutputs,
    /** node-local mode: sizes and mirrors of the outputs, after each process (wait() resolves after). */
    private readonly outputsSettled?: () => Promise<void>,
  ) {
    const target: HelperTarget = {
      kubeConfig: context.kubeConfig,
      namespace: context.config.namespace,
      pod: podName,
      container: MAIN_CONTAINER,
      helperPath: HELPER_PATH,
    };
    this.processHost = {
      handle,
      target,
      metrics: context.metrics,
      logger: context.logger,
      terminateGraceMs: context.config.terminateGraceMs,
      lifecycle: this.lifecycle.signal,
      verdict: () => this.verdict(),
      exited: (id, status) => this.recordExit(id, status),
      ...(streamedOutputs && streamedOutputs.volumes.length > 0
        ? { collectOutputs: () => this.collectStreamedOutputs(streamedOutputs) }
        : {}),
      ...(outputsSettled ? { collectOutputs: outputsSettled } : {}),
    };
    // A pod that fails or goes ends every exec into it at once, rather than when a socket notices.
    this.unsubscribe = context.tracker.subscribe((change) => {
      if (change.pod.metadata.name !== podName) return;
      if (change.type === 'delete' || healthOf(change.pod).kind === 'failed') this.lifecycle.abort();
    });
  }

  get target(): HelperTarget {
    return this.processHost.target;
  }

  info(workerName: string): ContainerInfo {
    const pod = this.context.tracker.get(this.podName);
    if (!pod) return { handle: this.handle, workerName, state: 'destroying', metadata: this.metadata };
    return containerInfoOf(pod, this.handle, this.metadata, workerName);
  }

  async run(spec: ProcessSpec, io: ProcessIO): Promise<Process> {
    this.assertUsable();
    const id = spec.id ?? randomUUID();
    if (this.starting.has(id) || this.processes.get(id)?.running) {
      throw new RuntimeError(`process ${id} is already running in container ${this.handle}`);
    }
    this.starting.add(id);
    try {
      const process = await K8sProcess.spawn(
        this.processHost,
        id,
        {
          path: spec.path,
          args: spec.args,
          env: spec.env ?? {},
          ...(this.containerEnv ? { containerEnv: this.containerEnv } : {}),
          dir: path.posix.resolve(this.workDir, spec.dir ?? '.'),
          ...(spec.user ? { user: spec.user } : {}),
          stdin: io.stdin !== undefined,
          ...(spec.tty ? { tty: spec.tty } : {}),
        },
        io,
      );
      this.remember(process);
      return process;
    } finally {
      this.starting.delete(id);
    }
  }

  /**
   * `from`: resume its output at these byte offsets instead of now (a web node collecting a step after a
   * restart, from what the build log already has). Ignored for a process this container already follows.
   */
  async attach(processId: string, io: ProcessIO, from?: OutputOffsets): Promise<Process> {
    const known = this.processes.get(processId);
    if (known) {
      known.attachIO(io);
      return known;
    }
    this.assertUsable();
    const process = await K8sProcess.attach(this.processHost, processId, io, from);
    this.remember(process);
    return process;
  }

  /** Every process the helper knows in the pod, running or finished (to re-attach after a restart). */
  async listProcesses(): Promise<PodProcessState[]> {
    this.assertUsable();
    const outcome = await execHelper(this.processHost.target, ['status']);
    if (outcome.exitCode !== 0)
      throw new RuntimeError(`cannot list processes of ${this.handle}: ${outcome.stderr}`);
    return JSON.parse(outcome.stdout) as PodProcessState[];
  }

  /** Deletes the pod (its processes die with it) and waits to see it gone. Volumes survive. Idempotent. */
  destroy(): Promise<void> {
    this.destroying ??= this.tearDown().catch((error: unknown) => {
      this.destroying = undefined; // the next destroy() tries again
      throw error;
    });
    return this.destroying;
  }

  /** Lets go of the pod without touching it (web shutdown for a rolling restart): processes are left running. */
  release(): void {
    this.disposition ??= new RuntimeError(
      `the worker let go of container ${this.handle} (web shutting down)`,
    );
    this.lifecycle.abort();
    for (const process of this.processes.values()) process.abandon(this.disposition);
    this.unsubscribe();
  }

  private async tearDown(): Promise<void> {
    this.disposition ??= new RuntimeError(`container ${this.handle} was destroyed`);
    this.lifecycle.abort();
    for (const process of this.processes.values()) process.abandon(this.disposition);
    try {
      await this.context.pods.delete(this.podName, this.context.config.terminationGracePeriodSeconds);
    } catch (error) {
      throw new RuntimeError(
        `cannot delete pod ${this.podName} of container ${this.handle}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    await this.context.tracker
      .waitFor(this.podName, (pod) => (pod === undefined ? true : undefined), {
        pollMs: this.context.config.podPollIntervalMs,
        signal: AbortSignal.timeout(POD_GONE_WAIT_MS),
      })
      .catch(() =>
        this.context.logger.warn(
          { container: this.handle, pod: this.podName },
          'pod still listed after deletion; it will go on its own',
        ),
      );
    this.unsubscribe();
    this.onGone(this.handle);
  }

  /** Why processes cannot run (destroyed; the pod failed or went, with its diagnostics), from a fresh GET. */
  private async verdict(): Promise<RuntimeError | undefined> {
    if (this.disposition) return this.disposition;
    if (this.failure) return this.failure;
    const pod = await this.context.tracker.refresh(this.podName);
    if (this.disposition) return this.disposition;
    const health = healthOf(pod);
    if (health.kind === 'healthy') return undefined;
    const [events, initLog] = await Promise.all([
      this.context.pods.events(this.podName),
      pod?.status?.initContainerStatuses?.some((status) => (status.state?.terminated?.exitCode ?? 0) !== 0)
        ? this.context.pods.log(this.podName, INIT_CONTAINER)
        : Promise.resolve(''),
    ]);
    this.failure ??= new PodFailedError(
      this.podName,
      health.reason,
      `${health.reason}: ${health.message}\n${describePod(pod, { events, initLog, podName: this.podName })}`,
      this.metadata.stepName,
    );
    this.context.metrics.podFailed(health.reason);
    this.context.logger.warn(
      { container: this.handle, pod: this.podName, reason: health.reason },
      'step pod failed',
    );
    return this.failure;
  }

  /** Brings the outputs into the store, after any collection already running (a later exit wins). */
  private collectStreamedOutputs(outputs: StreamedOutputs): Promise<void> {
    const { config, metrics, logger } = this.context;
    if (config.artifacts.mode !== 'stream') return Promise.resolve();
    const { parallelTransfers, transferAttempts, maxOutputBytes } = config.artifacts;
    const run = async () => {
      const report = await collectOutputs(outputs.volumes, {
        store: outputs.store,
        target: this.processHost.target,
        parallel: parallelTransfers,
        attempts: transferAttempts,
        maxOutputBytes,
        metrics,
        logger,
        signal: this.lifecycle.signal,
        ...(this.context.outputReceiver ? { receiver: this.context.outputReceiver } : {}),
      }).catch(async (error: unknown) => {
        throw (await this.verdict().catch(() => undefined)) ?? error;
      });
      logger.info(
        { container: this.handle, bytes: report.bytes, seconds: report.seconds },
        'outputs collected',
      );
    };
    const next = this.collecting.then(run, run);
    this.collecting = next.catch(() => undefined);
    return next;
  }

  private recordExit(id: string, status: number): void {
    const lastExit = JSON.stringify({ id, status, at: new Date().toISOString() });
    this.context.pods
      .annotate(this.podName, { [ANNOTATIONS.lastExit]: lastExit })
      .catch((error: unknown) =>
        this.context.logger.warn(
          { pod: this.podName, err: (error as Error).message },
          'cannot record a process exit on its pod',
        ),
      );
  }

  private assertUsable(): void {
    if (this.disposition) throw this.disposition;
  }

  private remember(process: K8sProcess): void {
    this.processes.delete(process.id);
    this.processes.set(process.id, process);
    const finished = [...this.processes.values()].filter((each) => !each.running);
    for (const old of finished.slice(0, Math.max(0, finished.length - FINISHED_PROCESSES_KEPT))) {
      this.processes.delete(old.id);
    }
  }
}
