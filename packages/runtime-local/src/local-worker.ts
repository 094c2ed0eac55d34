import { mkdir, readdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import {
  ArtifactExistsError,
  ArtifactStore,
  ArtifactStoreError,
  isValidHandle,
} from '@jetbridge/artifact-store';
import type { Artifact } from '@jetbridge/artifact-store';
import { RuntimeError } from '@jetbridge/runtime';
import type {
  Container,
  ContainerInfo,
  ContainerMetadata,
  ContainerSpec,
  ImageSpec,
  Volume,
  VolumeInfo,
  VolumeSpec,
  Worker,
  WorkerInfo,
} from '@jetbridge/runtime';
import { ContainerLayout, type HostMount, type ReadOnlyMountMode } from './container-layout.js';
import { LocalContainer } from './local-container.js';
import { LocalVolume } from './local-volume.js';
import { silentLogger, type Logger } from './logger.js';
import { killRecordedProcessGroups } from './process-records.js';
import { removeTree } from './remove-tree.js';

export interface LocalWorkerConfig {
  /** Root of everything the worker keeps: `containers/` and `volumes/` below it. One worker per directory. */
  workDir: string;
  /**
   * Where volumes live, one artifact per volume. Pass the web server's store to share it (and its registry)
   * between uploads, task outputs and the reaper; the worker then leaves sweeping it to that reaper.
   * Absent: a store of the worker's own at `<workDir>/volumes`, swept of crash leftovers at start.
   */
  artifactStore?: ArtifactStore;
  /** Shown by `fly workers`; the host name by default. */
  name?: string;
  logger?: Logger;
  /** Step `tags` this worker serves. */
  tags?: string[];
  /** How long `terminate` waits before killing a process group; 10s, like Concourse's step abort. */
  terminateGraceMs?: number;
  /**
   * Read-only (input) mounts as the container's own copies (default: a step may change its inputs without
   * changing the artifacts, as in Concourse) or as symlinks to their volumes (opt-in, no copy: a step that
   * writes into an input changes it for every later step).
   */
  readOnlyMounts?: ReadOnlyMountMode;
  /** The worker version `fly workers` checks against the web's `worker_version`. */
  version?: string;
}

/** Concourse's worker API version of the 7.x and 8.x lines. */
const WORKER_VERSION = '2.5';
const DEFAULT_TERMINATE_GRACE_MS = 10_000;
const FALLBACK_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * A Worker that runs every step as host processes, the embedded default for a laptop. Like Concourse's
 * process-only backends (darwin and windows workers), it ignores images, privileges, limits and `user`: the
 * host is the image, and processes run as the server's user. Volumes are artifacts of an ArtifactStore
 * (directories that survive restarts); containers are directories and processes that do not (a restart
 * removes what a previous run left).
 * Outputs are symlinks to their volumes, inputs copies (see ContainerLayout); a tty request runs on pipes.
 * POSIX only: process groups carry signals. The package README lists every difference from a real container.
 *
 * @example
 * const worker = await LocalWorker.create({ workDir: '/var/lib/jetbridge', logger });
 */
export class LocalWorker implements Worker {
  readonly name: string;
  private readonly workDir: string;
  private readonly logger: Logger;
  private readonly volumes: ArtifactStore;
  private readonly ownsVolumeStore: boolean;
  /** For the synchronous info(): the last count read from the store, kept up by this worker's own changes. */
  private volumeCount = 0;
  private countingVolumes: Promise<void> | undefined;
  /** Opening the work directory; every method that touches it waits for this first. */
  private readonly ready: Promise<void>;
  private readonly containers = new Map<string, LocalContainer>();
  /** Containers being laid out: reserved handles, listed as `creating`. */
  private readonly creating = new Map<string, ContainerMetadata>();
  private readonly startTime = Math.floor(Date.now() / 1000);
  private closed = false;
  private imageNoticeGiven = false;

  /** Prefer {@link LocalWorker.create}, which reports a work directory that cannot be opened at once. */
  constructor(private readonly config: LocalWorkerConfig) {
    this.workDir = path.resolve(config.workDir);
    this.name = config.name ?? hostname();
    this.logger = config.logger ?? silentLogger;
    this.ownsVolumeStore = config.artifactStore === undefined;
    this.volumes = config.artifactStore ?? new ArtifactStore({ root: path.join(this.workDir, 'volumes') });
    this.ready = this.open();
    // Reported by the first call that needs the directory; never an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  /** A worker whose directory is open: containers of a previous run removed, its volumes loaded. */
  static async create(config: LocalWorkerConfig): Promise<LocalWorker> {
    const worker = new LocalWorker(config);
    await worker.ready;
    return worker;
  }

  private async open(): Promise<void> {
    const containersDir = path.join(this.workDir, 'containers');
    await mkdir(containersDir, { recursive: true });
    const stale = await readdir(containersDir);
    const killedGroups: number[] = [];
    for (const handle of stale) {
      // A previous run killed with SIGKILL left its step processes running: they go with their containers.
      killedGroups.push(...(await killRecordedProcessGroups(path.join(containersDir, handle))));
      await removeTree(path.join(containersDir, handle));
    }
    if (stale.length > 0) {
      this.logger.info(
        { workDir: this.workDir, containers: stale.length, killedProcessGroups: killedGroups },
        'removed containers left by a previous run of the local worker',
      );
    }
    if (this.ownsVolumeStore) {
      // Nobody else writes here (one worker per directory), so what a crash left is garbage right away.
      const strays = await this.volumes.sweepStrays({ olderThanMs: 0 });
      if (strays.length > 0) {
        this.logger.info({ workDir: this.workDir, strays }, 'removed volume leftovers of a previous run');
      }
    }
    this.volumeCount = (await this.volumes.list()).length;
  }

  info(): WorkerInfo {
    // Others may add to a shared store (uploads) or reap it: recount for the next call.
    this.countVolumesInBackground();
    return {
      name: this.name,
      platform: process.platform === 'win32' ? 'windows' : process.platform,
      tags: this.config.tags ?? [],
      team: '',
      version: this.config.version ?? WORKER_VERSION,
      startTime: this.startTime,
      activeContainers: this.containers.size,
      activeVolumes: this.volumeCount,
      resourceTypes: [],
    };
  }

  async createContainer(spec: ContainerSpec): Promise<Container> {
    this.assertOpen();
    await this.ready;
    assertValidHandle('container', spec.handle);
    if (this.containers.has(spec.handle) || this.creating.has(spec.handle)) {
      throw new RuntimeError(`container ${spec.handle} already exists`);
    }
    this.noticeIgnoredImage(spec.handle, spec.image);
    this.creating.set(spec.handle, spec.metadata);
    const containerDir = path.join(this.workDir, 'containers', spec.handle);
    let layout: ContainerLayout;
    try {
      const mounts: HostMount[] = [];
      for (const mount of spec.mounts) {
        const volume = await this.volumeArtifact(mount.volume);
        mounts.push({ source: volume.path, path: mount.path, readOnly: mount.readOnly ?? false });
      }
      await mkdir(containerDir);
      layout = await ContainerLayout.create(
        containerDir,
        { dir: spec.dir, mounts },
        this.config.readOnlyMounts ?? 'copy',
      );
    } catch (err) {
      await removeTree(containerDir).catch(() => undefined);
      if (err instanceof RuntimeError) throw err;
      throw new RuntimeError(`cannot create container ${spec.handle}: ${(err as Error).message}`, {
        cause: err,
      });
    } finally {
      this.creating.delete(spec.handle);
    }
    const container = new LocalContainer(spec.handle, spec.metadata, layout, {
      env: spec.env,
      hostPath: process.env.PATH ?? FALLBACK_PATH,
      terminateGraceMs: this.config.terminateGraceMs ?? DEFAULT_TERMINATE_GRACE_MS,
      onDestroyed: (handle) => this.containers.delete(handle),
    });
    this.containers.set(spec.handle, container);
    if (this.closed) {
      await container.destroy();
      this.assertOpen();
    }
    return container;
  }

  async lookupContainer(handle: string): Promise<Container | undefined> {
    return this.containers.get(handle);
  }

  async listContainers(): Promise<ContainerInfo[]> {
    const creating = [...this.creating].map(([handle, metadata]): ContainerInfo => ({
      handle,
      workerName: this.name,
      state: 'creating',
      metadata,
    }));
    return [...creating, ...[...this.containers.values()].map((container) => container.info(this.name))];
  }

  async createVolume(spec: VolumeSpec): Promise<Volume> {
    this.assertOpen();
    await this.ready;
    if (spec.handle !== undefined) assertValidHandle('volume', spec.handle);
    let artifact: Artifact;
    try {
      artifact = await this.volumes.allocate({
        ...(spec.handle === undefined ? {} : { handle: spec.handle }),
        owner: spec.owner,
        teamName: spec.teamName,
        type: spec.type ?? 'artifact',
      });
    } catch (err) {
      // The Worker contract: a handle in use, or a spec the runtime cannot honour, is a RuntimeError.
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
    await this.ready;
    const artifact = await this.volumes.lookup(handle);
    return artifact === undefined ? undefined : this.volumeOf(artifact);
  }

  async listVolumes(): Promise<VolumeInfo[]> {
    await this.ready;
    const artifacts = await this.volumes.list();
    this.volumeCount = artifacts.length;
    return artifacts.map((artifact) => ({
      handle: artifact.handle,
      workerName: this.name,
      type: artifact.type,
      teamName: artifact.teamName,
      owner: artifact.owner,
      path: artifact.path,
    }));
  }

  /** Kill every process and remove every container; volumes stay for the next start. */
  async close(): Promise<void> {
    this.closed = true;
    await this.ready.catch(() => undefined);
    const results = await Promise.allSettled(
      [...this.containers.values()].map((container) => container.destroy()),
    );
    for (const result of results) {
      if (result.status === 'rejected') {
        this.logger.warn(
          { err: (result.reason as Error).message },
          'a container could not be removed on close',
        );
      }
    }
  }

  private volumeOf(artifact: Artifact): LocalVolume {
    return new LocalVolume(artifact.handle, this.volumes, () => {
      this.volumeCount = Math.max(0, this.volumeCount - 1);
    });
  }

  private async volumeArtifact(volume: Volume): Promise<Artifact> {
    const artifact = await this.volumes.lookup(volume.handle);
    if (artifact === undefined) {
      throw new RuntimeError(`volume ${volume.handle} is not on worker ${this.name}`);
    }
    return artifact;
  }

  private countVolumesInBackground(): void {
    if (this.countingVolumes !== undefined) return;
    this.countingVolumes = this.ready
      .then(() => this.volumes.list())
      .then(
        (artifacts) => {
          this.volumeCount = artifacts.length;
        },
        () => undefined, // the next info() tries again; the last count stands meanwhile
      )
      .finally(() => {
        this.countingVolumes = undefined;
      });
  }

  private noticeIgnoredImage(handle: string, image: ImageSpec | undefined): void {
    if (image === undefined || this.imageNoticeGiven) return;
    this.imageNoticeGiven = true;
    this.logger.info(
      { worker: this.name, container: handle, image: describeImage(image) },
      'the local runtime runs steps as host processes: images are ignored (said once)',
    );
  }

  private assertOpen(): void {
    if (this.closed) throw new RuntimeError(`worker ${this.name} is closed`);
  }
}

/** Handles name directories; volumes and containers follow the artifact-store's rule for one safe segment. */
function assertValidHandle(kind: 'volume' | 'container', handle: string): void {
  if (!isValidHandle(handle)) {
    throw new RuntimeError(
      `invalid ${kind} handle ${JSON.stringify(handle)}: use up to 128 letters, digits, '.', '_' and '-', starting with a letter or digit`,
    );
  }
}

function describeImage(image: ImageSpec): string {
  switch (image.kind) {
    case 'registry':
      return `${image.repository}${image.tag ? `:${image.tag}` : ''}${image.digest ? `@${image.digest}` : ''}`;
    case 'rootfs':
      return image.uri;
    case 'volume':
      return `volume ${image.volume.handle}`;
  }
}
