import type { Readable, Writable } from 'node:stream';

/**
 * What the build engine needs from a runtime, and nothing more. A Worker runs step containers and holds
 * the volumes (artifacts) they read and write. Implementations: `@jetbridge/runtime-local` (host processes),
 * `@jetbridge/runtime-k8s` (pods). Mirrors Concourse's `atc/runtime` Worker/Container/Volume split.
 *
 * Every implementation must pass the conformance suite in `./conformance.ts`.
 */
export interface Worker {
  /** Name shown by `fly workers`, and as `worker_name` of containers and volumes. */
  readonly name: string;

  /** What `fly workers` prints for this worker. */
  info(): WorkerInfo;

  /**
   * Create a container for one step. Fails with {@link RuntimeError} when the spec cannot be honoured or the
   * handle is already in use.
   */
  createContainer(spec: ContainerSpec): Promise<Container>;
  /** A live container by handle, or undefined once it is destroyed (or never existed). */
  lookupContainer(handle: string): Promise<Container | undefined>;
  /** Every container this worker currently holds. */
  listContainers(): Promise<ContainerInfo[]>;

  /**
   * Create an empty volume that will hold an artifact (an upload, a task output, a fetched resource).
   * Concourse's `CreateVolumeForArtifact`. The owner is recorded so the reaper can remove it later.
   * Fails with {@link RuntimeError} when the handle is already in use.
   */
  createVolume(spec: VolumeSpec): Promise<Volume>;
  /** A volume by handle, or undefined if it does not exist (reaped, destroyed, or never existed). */
  lookupVolume(handle: string): Promise<Volume | undefined>;
  /** Every volume this worker currently holds. */
  listVolumes(): Promise<VolumeInfo[]>;

  /** Stop every process and release every resource this worker holds in the host (server shutdown). */
  close(): Promise<void>;
}

export interface WorkerInfo {
  name: string;
  platform: string;
  tags: string[];
  team: string;
  version: string;
  /** Unix seconds, as the Concourse API reports `start_time`. */
  startTime: number;
  activeContainers: number;
  activeVolumes: number;
  /** Resource types whose images this worker provides (empty for the process-only local runtime). */
  resourceTypes: Array<{ type: string; image: string; version: string; privileged: boolean }>;
}

/** Where a step's image comes from. The local runtime ignores it (as Concourse's process backends do). */
export type ImageSpec =
  | { kind: 'registry'; repository: string; tag?: string; digest?: string; pullSecrets?: string[] }
  | { kind: 'rootfs'; uri: string }
  /** An image fetched into a volume by an earlier step (task `image:` from an artifact). */
  | { kind: 'volume'; volume: Volume };

/** A volume made visible inside a container. */
export interface Mount {
  volume: Volume;
  /** Path inside the container, relative to the container's working directory unless absolute. */
  path: string;
  /**
   * An input (true) or an output (absent/false). An input is the volume's content as the process's own
   * copy: the process may change it (Concourse gives a task copy-on-write copies of its inputs), but the
   * volume never changes, so later steps see the artifact as it was. Where an operator chose speed over
   * that, a runtime may instead mount it truly read-only (writes fail; the volume is still unchanged) —
   * runtime-k8s `inputs: 'mount'` — or share it (the local runtime's `symlink` input mode, which lets a
   * process change the artifact). An output is the volume itself: what the process writes lands in it.
   */
  readOnly?: boolean;
}

/** Labels that let `fly containers`/`hijack` find a container; mirrors Concourse's container metadata. */
export interface ContainerMetadata {
  type: 'check' | 'get' | 'put' | 'task' | 'run';
  teamName: string;
  stepName?: string;
  /**
   * The plan node running in it (the PlanID of Concourse's build step container owner): unique in the build,
   * unlike the step's name. Not shown by the API (Concourse's container JSON has none).
   */
  planId?: string;
  attempt?: string;
  buildId?: number;
  buildName?: string;
  pipelineId?: number;
  pipelineName?: string;
  pipelineInstanceVars?: Record<string, unknown>;
  jobId?: number;
  jobName?: string;
  resourceName?: string;
  /** User and working directory that hijack hands back to `fly` in the process spec. */
  user?: string;
  workingDirectory?: string;
}

export interface ContainerSpec {
  /** Unique handle; chosen by the engine so it can be recorded before the container exists. */
  handle: string;
  image?: ImageSpec;
  /** Environment for every process run in the container (task params). */
  env: Record<string, string>;
  /** Working directory; inputs and outputs are mounted relative to it. Runtime chooses when absent. */
  dir?: string;
  limits?: { cpuShares?: number; memoryBytes?: number };
  privileged?: boolean;
  mounts: Mount[];
  /** Volumes the container gets empty and keeps for the step (task caches). */
  metadata: ContainerMetadata;
  /** Step `tags`: a runtime maps them to placement (node selectors, tolerations). */
  tags?: string[];
}

export interface ContainerInfo {
  handle: string;
  workerName: string;
  state: 'creating' | 'created' | 'destroying' | 'failed';
  metadata: ContainerMetadata;
}

export interface ProcessSpec {
  /** Caller-chosen id so a process can be re-attached to (hijack into a running step). */
  id?: string;
  path: string;
  args: string[];
  /** Extra environment, merged over the container's. */
  env?: Record<string, string>;
  /** Working directory, relative to the container's unless absolute. */
  dir?: string;
  user?: string;
  /** Allocate a terminal of this size (hijack with a TTY). */
  tty?: { rows: number; columns: number };
}

/** Streams wired to a process. Output streams are not ended by the runtime. */
export interface ProcessIO {
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
}

export interface Process {
  readonly id: string;
  /**
   * Resolves with the exit status (128 + the signal number when a signal ended it, as a shell reports it);
   * rejects with {@link RuntimeError} when the process could not run.
   */
  wait(): Promise<number>;
  /** Send a signal; `kill` must leave no process behind. */
  signal(signal: 'terminate' | 'kill'): Promise<void>;
  /** Resize the process's terminal (no-op without a TTY). */
  resize(size: { rows: number; columns: number }): Promise<void>;
}

export interface Container {
  readonly handle: string;
  readonly metadata: ContainerMetadata;
  /** Start a process. Rejects with {@link ExecutableNotFoundError} when `path` does not exist. */
  run(spec: ProcessSpec, io: ProcessIO): Promise<Process>;
  /**
   * Re-attach to a process started with `spec.id` (still running or just finished). The attached output
   * starts at the moment of attaching. Rejects with {@link RuntimeError} when no such process exists.
   */
  attach(processId: string, io: ProcessIO): Promise<Process>;
  /** Stop all processes and remove the container; mounted volumes survive. Idempotent. */
  destroy(): Promise<void>;
}

/** Who a volume belongs to; the reaper removes a volume once its owner is gone. */
export type VolumeOwner =
  | { kind: 'upload'; teamName: string }
  | { kind: 'build'; buildId: number }
  | { kind: 'step'; buildId: number; stepName: string };

export interface VolumeSpec {
  /** Optional caller-chosen handle; a unique one is generated when absent. */
  handle?: string;
  owner: VolumeOwner;
  teamName: string;
  /** The `fly volumes` type column. */
  type?: 'container' | 'resource' | 'task-cache' | 'artifact';
}

export interface VolumeInfo {
  handle: string;
  workerName: string;
  type: 'container' | 'resource' | 'task-cache' | 'artifact';
  teamName: string;
  owner: VolumeOwner;
  /** Path as the worker sees it (shown by `fly volumes`). */
  path: string;
}

export interface Volume {
  readonly handle: string;
  /**
   * Extract an (uncompressed) tar stream into `path` inside the volume. Traversal-safe: no entry, link or
   * write through a link ends up outside the volume (the local runtime rejects such a tar with a RuntimeError).
   */
  streamIn(path: string, tar: Readable): Promise<void>;
  /**
   * An (uncompressed) tar stream of `path` inside the volume, entries relative to it; when `path` is a file,
   * the tar holds that one file under its base name (how a task's `file:` is read from an artifact).
   * Rejects with {@link FileNotFoundError} when `path` does not exist.
   */
  streamOut(path: string): Promise<Readable>;
  /** Remove the volume and its contents. Idempotent. */
  destroy(): Promise<void>;
}
