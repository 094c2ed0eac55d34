import type { ChildProcess } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { ApiError } from '../api/api-error.js';
import type {
  Container,
  ContainerStatus,
  PersistentVolumeClaim,
  Pod,
  PodCondition,
  PodPhase,
} from '../api/types.js';
import type { ObjectStore } from '../store/object-store.js';
import {
  SandboxStartError,
  signalGroup,
  startSandbox,
  type RunningSandbox,
  type SandboxExit,
} from './container-sandbox.js';
import type { EventRecorder } from './event-recorder.js';
import type { NodeRegistry } from './nodes.js';
import { chooseNode } from './scheduler.js';
import { claimNames, containerMounts, prepareVolumes, type VolumeLayout } from './volumes.js';

export interface KubeletOptions {
  /** The first node's name (events' source host). */
  nodeName: string;
  /** Every node pods may be scheduled to. */
  nodes: NodeRegistry;
  stateDir: string;
  /** argv for a container with neither command nor args (stands in for an image's entrypoint). */
  defaultCommand: string[];
  /** Image repository → host directory laid over the root filesystem of its containers. */
  images: Record<string, string>;
}

/** A rule that keeps matching pods unschedulable until released (fault injection). */
export interface SchedulingHold {
  namespace?: string;
  name?: string | RegExp;
  message: string;
}

/** A rule that makes pulls of matching images fail (fault injection): the container waits with `reason`. */
export interface PullFailure {
  image: string | RegExp;
  reason: 'ErrImagePull' | 'ImagePullBackOff' | 'InvalidImageName';
  message: string;
}

/** What an exec needs to enter a running container. */
export interface ExecTarget {
  podUid: string;
  container: string;
  pid: number;
  env: Record<string, string>;
}

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const POD_IP = '127.0.0.1';

interface RunningContainer {
  sandbox: RunningSandbox;
  env: Record<string, string>;
}

/** What the kubelet knows about one pod it runs. */
interface PodRuntime {
  uid: string;
  namespace: string;
  name: string;
  containers: Map<string, RunningContainer>;
  execs: Set<ChildProcess>;
  /** Set when the pod must stop: deletion, eviction or its deadline. */
  stopping?: { reason?: string; message?: string; removeWhenStopped: boolean; gracePeriodSeconds: number };
  /** Resolves when the pod's lifecycle has fully ended (all processes gone). */
  finished: Promise<void>;
  /** Wakes a pod waiting to be scheduled. */
  wake?: () => void;
  deadlineTimer?: NodeJS.Timeout;
  /** The lifecycle ended; the pod object may still be listed (Succeeded, Failed, Evicted). */
  done: boolean;
}

function now(): string {
  return new Date().toISOString();
}

function setCondition(
  pod: Pod,
  type: PodCondition['type'],
  status: PodCondition['status'],
  reason?: string,
  message?: string,
): void {
  const conditions = (pod.status.conditions ??= []);
  const existing = conditions.find((condition) => condition.type === type);
  const next: PodCondition = {
    type,
    status,
    lastTransitionTime: existing?.status === status ? existing.lastTransitionTime : now(),
  };
  if (reason) next.reason = reason;
  if (message) next.message = message;
  if (existing) conditions.splice(conditions.indexOf(existing), 1, next);
  else conditions.push(next);
}

function waitingStatus(container: Container, reason: string): ContainerStatus {
  return {
    name: container.name,
    image: container.image ?? '',
    imageID: '',
    ready: false,
    started: false,
    restartCount: 0,
    state: { waiting: { reason } },
    lastState: {},
  };
}

/** `$(VAR)` references in command and args expand from the container's environment; `$$(` escapes. */
function expandReferences(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$\(|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (whole, name: string | undefined) => {
    if (name === undefined) return '$(';
    return env[name] ?? whole;
  });
}

/**
 * The node: schedules pods onto itself, runs init containers to completion in order, then the main containers,
 * keeps pod status (phase, conditions, container statuses) in the store as the real kubelet reports it, and
 * handles deletion with a grace period, eviction and activeDeadlineSeconds. restartPolicy is treated as Never.
 */
export class Kubelet implements VolumeLayout {
  private readonly runtimes = new Map<string, PodRuntime>();
  private readonly holds = new Set<SchedulingHold>();
  private readonly pullFailures = new Set<PullFailure>();

  constructor(
    private readonly pods: ObjectStore<Pod>,
    private readonly claims: ObjectStore<PersistentVolumeClaim>,
    private readonly events: EventRecorder,
    private readonly options: KubeletOptions,
  ) {}

  podDir(pod: Pod): string {
    return path.join(this.options.stateDir, 'pods', pod.metadata.uid ?? 'unknown');
  }

  claimDir(namespace: string, claimName: string): string {
    return path.join(this.options.stateDir, 'pvcs', namespace, claimName);
  }

  hostPathDir(pod: Pod, hostPath: string): string {
    return this.options.nodes.hostPathOn(pod.spec.nodeName, hostPath);
  }

  /**
   * The node stops answering (powered off, network gone): its pods' processes die, the pods fail with the
   * node controller's NodeLost reason, the node turns NotReady with the unreachable taint, and its disk
   * (the hostPath root) is gone. New pods are not scheduled there.
   */
  async loseNode(nodeName: string): Promise<void> {
    const node = this.options.nodes.get(nodeName);
    if (!node) throw new Error(`no node ${nodeName}`);
    node.ready = false;
    node.lostAt = now();
    const lost = [...this.runtimes.values()].filter(
      (runtime) =>
        !runtime.done && this.pods.get(runtime.namespace, runtime.name)?.spec.nodeName === nodeName,
    );
    for (const runtime of lost) {
      this.stop(runtime, {
        reason: 'NodeLost',
        message: `Node ${nodeName} which was running pod ${runtime.name} is unresponsive`,
        removeWhenStopped: false,
        gracePeriodSeconds: 0,
      });
    }
    await Promise.all(lost.map((runtime) => runtime.finished));
    if (node.hostRoot !== undefined) {
      await rm(node.hostRoot, { recursive: true, force: true });
    }
  }

  logFile(pod: Pod, container: string): string {
    return path.join(this.podDir(pod), 'logs', `${container}.log`);
  }

  /** Starts the lifecycle of a newly created pod. */
  admit(pod: Pod): void {
    let finish: () => void = () => {};
    const finished = new Promise<void>((resolve) => (finish = resolve));
    const runtime: PodRuntime = {
      uid: pod.metadata.uid ?? '',
      namespace: pod.metadata.namespace ?? 'default',
      name: pod.metadata.name ?? '',
      containers: new Map(),
      execs: new Set(),
      finished,
      done: false,
    };
    this.runtimes.set(runtime.uid, runtime);
    void this.run(runtime)
      .catch((error: unknown) => {
        this.update(runtime, (current) => {
          current.status.phase = 'Failed';
          current.status.reason = 'TestServerError';
          current.status.message = error instanceof Error ? error.message : String(error);
        });
      })
      .finally(async () => {
        await this.killAll(runtime, 'SIGKILL');
        if (runtime.deadlineTimer) clearTimeout(runtime.deadlineTimer);
        runtime.done = true;
        if (runtime.stopping?.removeWhenStopped) await this.remove(runtime);
        finish();
      });
  }

  /** Keeps matching pods Pending/Unschedulable until the returned release function is called. */
  holdPending(hold: SchedulingHold): () => void {
    this.holds.add(hold);
    return () => {
      this.holds.delete(hold);
      this.reconsiderPending();
    };
  }

  /** Pulls of matching images fail until the returned function is called (the kubelet keeps retrying). */
  failImagePulls(failure: PullFailure): () => void {
    this.pullFailures.add(failure);
    return () => {
      this.pullFailures.delete(failure);
    };
  }

  /** Re-checks pods waiting to be scheduled (a claim appeared, a hold was released). */
  reconsiderPending(): void {
    for (const runtime of this.runtimes.values()) runtime.wake?.();
  }

  /** Graceful deletion: marks the pod, stops its containers, then removes the object. */
  async delete(namespace: string, name: string, gracePeriodSeconds?: number): Promise<Pod> {
    const pod = this.pods.get(namespace, name);
    if (!pod) throw ApiError.notFound('pods', name);
    const runtime = this.runtimes.get(pod.metadata.uid ?? '');
    const grace = gracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
    if (!runtime || runtime.done) {
      const marked = {
        ...pod,
        metadata: { ...pod.metadata, deletionTimestamp: now(), deletionGracePeriodSeconds: 0 },
      };
      if (runtime) await this.remove(runtime);
      else this.pods.delete(namespace, name);
      return marked;
    }
    if (runtime.stopping?.removeWhenStopped) return pod;
    const marked =
      this.update(runtime, (current) => {
        current.metadata.deletionTimestamp = new Date(Date.now() + grace * 1000).toISOString();
        current.metadata.deletionGracePeriodSeconds = grace;
      }) ?? pod;
    this.stop(runtime, { removeWhenStopped: true, gracePeriodSeconds: grace });
    return marked;
  }

  /** Node-pressure eviction: the kubelet kills the pod's containers and marks it Failed/Evicted (it stays listed). */
  evict(namespace: string, name: string, message: string): void {
    const runtime = this.findRuntime(namespace, name);
    this.events.record(this.mustGet(runtime), 'Warning', 'Evicted', message);
    this.stop(runtime, { reason: 'Evicted', message, removeWhenStopped: false, gracePeriodSeconds: 0 });
  }

  /** Resolves an exec request to a running container, with the API server's error messages. */
  execTarget(namespace: string, name: string, containerName: string | null): ExecTarget {
    const pod = this.pods.get(namespace, name);
    if (!pod) throw ApiError.notFound('pods', name);
    const all = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
    let chosen = containerName;
    if (!chosen) {
      if (pod.spec.containers.length !== 1) {
        const names = pod.spec.containers.map((container) => container.name).join(' ');
        throw ApiError.badRequest(
          `a container name must be specified for pod ${name}, choose one of: [${names}]`,
        );
      }
      chosen = pod.spec.containers[0]?.name ?? '';
    }
    if (!all.some((container) => container.name === chosen)) {
      throw ApiError.badRequest(`container ${chosen} is not valid for pod ${name}`);
    }
    if (pod.status.phase === 'Succeeded' || pod.status.phase === 'Failed') {
      throw ApiError.badRequest(
        `cannot exec into a container in a completed pod; current phase is ${pod.status.phase}`,
      );
    }
    const runtime = this.runtimes.get(pod.metadata.uid ?? '');
    const running = runtime?.containers.get(chosen);
    if (!runtime || !running) throw ApiError.badRequest(`container not found ("${chosen}")`);
    return { podUid: runtime.uid, container: chosen, pid: running.sandbox.pid, env: running.env };
  }

  /** Exec'd processes die with their pod, as they would with the container's cgroup. */
  trackExec(podUid: string, child: ChildProcess): void {
    const runtime = this.runtimes.get(podUid);
    if (!runtime) return;
    runtime.execs.add(child);
    child.once('exit', () => runtime.execs.delete(child));
  }

  /** Kills every process the node started and waits for the pods' lifecycles to end. */
  async shutdown(): Promise<void> {
    for (const runtime of this.runtimes.values()) {
      runtime.stopping ??= { removeWhenStopped: false, gracePeriodSeconds: 0 };
      runtime.wake?.();
      await this.killAll(runtime, 'SIGKILL');
    }
    await Promise.all([...this.runtimes.values()].map((runtime) => runtime.finished));
  }

  /** Last resort when the test process exits without close(): no container or exec outlives it. */
  killEverythingNow(): void {
    for (const runtime of this.runtimes.values()) {
      for (const container of runtime.containers.values()) container.sandbox.kill('SIGKILL');
      for (const child of runtime.execs) if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
    }
  }

  private findRuntime(namespace: string, name: string): PodRuntime {
    for (const runtime of this.runtimes.values()) {
      if (runtime.namespace === namespace && runtime.name === name) return runtime;
    }
    throw ApiError.notFound('pods', name);
  }

  private mustGet(runtime: PodRuntime): Pod {
    const pod = this.pods.get(runtime.namespace, runtime.name);
    if (!pod) throw ApiError.notFound('pods', runtime.name);
    return pod;
  }

  private update(runtime: PodRuntime, mutate: (pod: Pod) => void): Pod | undefined {
    const current = this.pods.get(runtime.namespace, runtime.name);
    if (!current || current.metadata.uid !== runtime.uid) return undefined;
    return this.pods.update(runtime.namespace, runtime.name, mutate);
  }

  private stop(runtime: PodRuntime, stopping: NonNullable<PodRuntime['stopping']>): void {
    runtime.stopping = stopping;
    runtime.wake?.();
    if (stopping.gracePeriodSeconds === 0) {
      void this.killAll(runtime, 'SIGKILL');
      return;
    }
    for (const [name] of runtime.containers) {
      this.events.record(this.mustGetQuiet(runtime), 'Normal', 'Killing', `Stopping container ${name}`, {
        fieldPath: `spec.containers{${name}}`,
      });
    }
    void this.killAll(runtime, 'SIGTERM');
    const timer = setTimeout(() => void this.killAll(runtime, 'SIGKILL'), stopping.gracePeriodSeconds * 1000);
    void runtime.finished.then(() => clearTimeout(timer));
  }

  private mustGetQuiet(runtime: PodRuntime): Pod {
    return (
      this.pods.get(runtime.namespace, runtime.name) ?? {
        metadata: { name: runtime.name, namespace: runtime.namespace, uid: runtime.uid },
        spec: { containers: [] },
        status: { phase: 'Unknown' },
      }
    );
  }

  private async killAll(runtime: PodRuntime, signal: NodeJS.Signals): Promise<void> {
    for (const container of runtime.containers.values()) container.sandbox.kill(signal);
    for (const child of runtime.execs) if (child.pid !== undefined) signalGroup(child.pid, signal);
  }

  private async remove(runtime: PodRuntime): Promise<void> {
    const current = this.pods.get(runtime.namespace, runtime.name);
    if (current && current.metadata.uid === runtime.uid) this.pods.delete(runtime.namespace, runtime.name);
    this.runtimes.delete(runtime.uid);
    await rm(path.join(this.options.stateDir, 'pods', runtime.uid), { recursive: true, force: true });
  }

  /** Waits until the pod can be scheduled; returns false when it was deleted meanwhile. */
  private async schedule(runtime: PodRuntime): Promise<boolean> {
    let reportedMessage: string | undefined;
    let chosen = this.options.nodeName;
    for (;;) {
      if (runtime.stopping) return false;
      const pod = this.mustGet(runtime);
      const blocker = this.schedulingBlocker(pod);
      if (!blocker) {
        const decision = chooseNode(pod, this.options.nodes.list(), (node) => this.podsOn(node));
        if ('node' in decision) {
          chosen = decision.node.name;
          break;
        }
        if (decision.unschedulable !== reportedMessage) {
          reportedMessage = decision.unschedulable;
          this.update(runtime, (current) =>
            setCondition(current, 'PodScheduled', 'False', 'Unschedulable', decision.unschedulable),
          );
          this.events.record(pod, 'Warning', 'FailedScheduling', decision.unschedulable, {
            component: 'default-scheduler',
          });
        }
        await this.sleepUnlessWoken(runtime);
        continue;
      }
      if (blocker !== reportedMessage) {
        reportedMessage = blocker;
        this.update(runtime, (current) =>
          setCondition(current, 'PodScheduled', 'False', 'Unschedulable', blocker),
        );
        this.events.record(pod, 'Warning', 'FailedScheduling', blocker, { component: 'default-scheduler' });
      }
      await this.sleepUnlessWoken(runtime);
    }
    const scheduled = this.update(runtime, (current) => {
      current.spec.nodeName = chosen;
      setCondition(current, 'PodScheduled', 'True');
    });
    if (!scheduled) return false;
    this.events.record(
      scheduled,
      'Normal',
      'Scheduled',
      `Successfully assigned ${runtime.namespace}/${runtime.name} to ${chosen}`,
      { component: 'default-scheduler' },
    );
    return true;
  }

  /** Pods bound to `nodeName` whose lifecycle is not over (the scheduler spreads by it). */
  private podsOn(nodeName: string): number {
    let count = 0;
    for (const runtime of this.runtimes.values()) {
      if (!runtime.done && this.pods.get(runtime.namespace, runtime.name)?.spec.nodeName === nodeName)
        count++;
    }
    return count;
  }

  private async sleepUnlessWoken(runtime: PodRuntime): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      runtime.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    runtime.wake = undefined;
  }

  private schedulingBlocker(pod: Pod): string | undefined {
    for (const hold of this.holds) {
      if (hold.namespace !== undefined && hold.namespace !== pod.metadata.namespace) continue;
      const name = pod.metadata.name ?? '';
      if (hold.name instanceof RegExp ? !hold.name.test(name) : hold.name !== undefined && hold.name !== name)
        continue;
      return hold.message;
    }
    for (const claim of claimNames(pod)) {
      if (!this.claims.get(pod.metadata.namespace ?? 'default', claim)) {
        return `0/1 nodes are available: persistentvolumeclaim "${claim}" not found. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.`;
      }
    }
    return undefined;
  }

  private async run(runtime: PodRuntime): Promise<void> {
    if (!(await this.schedule(runtime))) return;
    const pod = this.mustGet(runtime);
    const initContainers = pod.spec.initContainers ?? [];
    this.update(runtime, (current) => {
      current.status.hostIP = POD_IP;
      current.status.podIP = POD_IP;
      current.status.podIPs = [{ ip: POD_IP }];
      current.status.startTime = now();
      const mainReason = initContainers.length > 0 ? 'PodInitializing' : 'ContainerCreating';
      if (initContainers.length > 0) {
        current.status.initContainerStatuses = initContainers.map((container) =>
          waitingStatus(container, 'PodInitializing'),
        );
        setCondition(
          current,
          'Initialized',
          'False',
          'ContainersNotInitialized',
          `containers with incomplete status: [${initContainers.map((c) => c.name).join(' ')}]`,
        );
      } else {
        setCondition(current, 'Initialized', 'True');
      }
      current.status.containerStatuses = current.spec.containers.map((container) =>
        waitingStatus(container, mainReason),
      );
      const names = current.spec.containers.map((c) => c.name).join(' ');
      setCondition(
        current,
        'ContainersReady',
        'False',
        'ContainersNotReady',
        `containers with unready status: [${names}]`,
      );
      setCondition(
        current,
        'Ready',
        'False',
        'ContainersNotReady',
        `containers with unready status: [${names}]`,
      );
    });
    if (pod.spec.activeDeadlineSeconds !== undefined) {
      runtime.deadlineTimer = setTimeout(() => {
        const message = 'Pod was active on the node longer than the specified deadline';
        this.events.record(this.mustGetQuiet(runtime), 'Normal', 'DeadlineExceeded', message);
        this.stop(runtime, {
          reason: 'DeadlineExceeded',
          message,
          removeWhenStopped: false,
          gracePeriodSeconds: 0,
        });
      }, pod.spec.activeDeadlineSeconds * 1000);
    }
    await mkdir(path.join(this.podDir(pod), 'logs'), { recursive: true });
    await prepareVolumes(this, pod);

    for (const container of initContainers) {
      if (runtime.stopping) break;
      const exit = await this.runContainer(runtime, pod, container, 'init');
      if (exit.exitCode !== 0) {
        this.finish(runtime, 'Failed');
        return;
      }
    }
    if (runtime.stopping) {
      this.finish(runtime, 'Failed');
      return;
    }
    if (initContainers.length > 0)
      this.update(runtime, (current) => setCondition(current, 'Initialized', 'True'));
    const exits = await Promise.all(
      pod.spec.containers.map((container) => this.runContainer(runtime, pod, container, 'main')),
    );
    this.finish(runtime, exits.every((exit) => exit.exitCode === 0) ? 'Succeeded' : 'Failed');
  }

  private finish(runtime: PodRuntime, phase: PodPhase): void {
    this.update(runtime, (current) => {
      current.status.phase = runtime.stopping?.reason ? 'Failed' : phase;
      if (runtime.stopping?.reason) {
        current.status.reason = runtime.stopping.reason;
        if (runtime.stopping.message) current.status.message = runtime.stopping.message;
        if (runtime.stopping.reason === 'Evicted') {
          setCondition(current, 'DisruptionTarget', 'True', 'TerminationByKubelet', runtime.stopping.message);
        }
      }
      const reason = current.status.phase === 'Succeeded' ? 'PodCompleted' : 'PodFailed';
      setCondition(current, 'ContainersReady', 'False', reason);
      setCondition(current, 'Ready', 'False', reason);
    });
  }

  private containerEnv(pod: Pod, container: Container): Record<string, string> {
    const env: Record<string, string> = {
      PATH: DEFAULT_PATH,
      HOSTNAME: pod.metadata.name ?? '',
      HOME: '/root',
    };
    const fields: Record<string, string> = {
      'metadata.name': pod.metadata.name ?? '',
      'metadata.namespace': pod.metadata.namespace ?? '',
      'metadata.uid': pod.metadata.uid ?? '',
      'spec.nodeName': pod.spec.nodeName ?? this.options.nodeName,
      'status.podIP': POD_IP,
      'status.hostIP': POD_IP,
    };
    for (const variable of container.env ?? []) {
      const fieldPath = variable.valueFrom?.fieldRef?.fieldPath;
      const value =
        fieldPath !== undefined ? (fields[fieldPath] ?? '') : expandReferences(variable.value ?? '', env);
      env[variable.name] = value;
    }
    return env;
  }

  private setContainerStatus(
    runtime: PodRuntime,
    kind: 'init' | 'main',
    name: string,
    mutate: (status: ContainerStatus, pod: Pod) => void,
  ): void {
    this.update(runtime, (current) => {
      const statuses =
        kind === 'init' ? current.status.initContainerStatuses : current.status.containerStatuses;
      const status = statuses?.find((candidate) => candidate.name === name);
      if (status) mutate(status, current);
    });
  }

  private async runContainer(
    runtime: PodRuntime,
    pod: Pod,
    container: Container,
    kind: 'init' | 'main',
  ): Promise<SandboxExit> {
    const fieldPath = `spec.${kind === 'init' ? 'initContainers' : 'containers'}{${container.name}}`;
    const env = this.containerEnv(pod, container);
    const argv = [...(container.command ?? []), ...(container.args ?? [])].map((part) =>
      expandReferences(part, env),
    );
    const image = container.image ?? '';
    const pullFailure = [...this.pullFailures].find((failure) =>
      typeof failure.image === 'string' ? failure.image === image : failure.image.test(image),
    );
    if (pullFailure) {
      // As the kubelet does: the container waits with the reason, the pod stays Pending, pulls are retried
      // (here: never succeed) until the pod is deleted.
      this.events.record(pod, 'Normal', 'Pulling', `Pulling image "${image}"`, { fieldPath });
      this.events.record(
        pod,
        'Warning',
        'Failed',
        `Failed to pull image "${image}": ${pullFailure.message}`,
        {
          fieldPath,
        },
      );
      this.setContainerStatus(runtime, kind, container.name, (status) => {
        status.state = { waiting: { reason: pullFailure.reason, message: pullFailure.message } };
      });
      while (!runtime.stopping) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 1000);
          runtime.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      runtime.wake = undefined;
      return { exitCode: 128 };
    }
    this.events.record(pod, 'Normal', 'Pulled', `Container image "${image}" already present on machine`, {
      fieldPath,
    });
    let sandbox: RunningSandbox;
    try {
      sandbox = await startSandbox({
        stateDir: path.join(this.podDir(pod), 'containers', container.name),
        hostname: pod.metadata.name ?? '',
        argv: argv.length > 0 ? argv : this.options.defaultCommand,
        workingDir: container.workingDir ?? '/',
        env,
        mounts: await containerMounts(this, pod, container),
        logFile: this.logFile(pod, container.name),
        ...imageLayerOf(image, this.options.images),
      });
    } catch (error) {
      const message = error instanceof SandboxStartError ? error.message : String(error);
      this.events.record(pod, 'Warning', 'Failed', `Error: ${message}`, { fieldPath });
      this.setContainerStatus(runtime, kind, container.name, (status) => {
        status.state = { terminated: { exitCode: 128, reason: 'StartError', message, finishedAt: now() } };
      });
      return { exitCode: 128 };
    }
    const containerID = `jetbridge-test://${runtime.uid}/${container.name}/${sandbox.pid}`;
    runtime.containers.set(container.name, { sandbox, env });
    this.events.record(pod, 'Normal', 'Created', `Created container: ${container.name}`, { fieldPath });
    this.events.record(pod, 'Normal', 'Started', `Started container ${container.name}`, { fieldPath });
    const startedAt = sandbox.startedAt.toISOString();
    this.setContainerStatus(runtime, kind, container.name, (status, current) => {
      status.state = { running: { startedAt } };
      status.containerID = containerID;
      status.imageID = `${image}@sha256:${'0'.repeat(64)}`;
      status.started = true;
      status.ready = kind === 'main';
      if (kind === 'main' && (current.status.containerStatuses ?? []).every((each) => each.state.running)) {
        current.status.phase = 'Running';
        setCondition(current, 'ContainersReady', 'True');
        setCondition(current, 'Ready', 'True');
      }
    });
    if (runtime.stopping) sandbox.kill(runtime.stopping.gracePeriodSeconds === 0 ? 'SIGKILL' : 'SIGTERM');
    const exit = await sandbox.exited;
    // The container's cgroup dies with its main process: so do leftover children in its process group.
    sandbox.kill('SIGKILL');
    runtime.containers.delete(container.name);
    this.setContainerStatus(runtime, kind, container.name, (status) => {
      status.ready = false;
      status.started = false;
      status.state = {
        terminated: {
          exitCode: exit.exitCode,
          reason: exit.exitCode === 0 ? 'Completed' : 'Error',
          startedAt,
          finishedAt: now(),
          containerID,
        },
      };
    });
    return exit;
  }
}

/** The host directory standing in for `image`'s own files, matched by repository (tag and digest ignored). */
function imageLayerOf(image: string, images: Record<string, string>): { imageLayer?: string } {
  const withoutDigest = image.split('@')[0] ?? image;
  const colon = withoutDigest.lastIndexOf(':');
  const repository = colon > withoutDigest.lastIndexOf('/') ? withoutDigest.slice(0, colon) : withoutDigest;
  const layer = images[repository];
  return layer === undefined ? {} : { imageLayer: layer };
}
