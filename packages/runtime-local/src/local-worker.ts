import { mkdir, readdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
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
import { silentLogger, type Logger } from './logger.js';
import { removeTree } from './remove-tree.js';
import { assertSafeHandle } from './safe-paths.js';
import { VolumeStore } from './volume-store.js';

export interface LocalWorkerConfig {
  /** Root of everything the worker keeps: `containers/`, `volumes/` and `trash/` below it. One worker per directory. */
  workDir: string;
  /** Shown by `fly workers`; the host name by default. */
  name?: string;
  logger?: Logger;
  /** Step `tags` this worker serves. */
  tags?: string[];
  /** How long `terminate` waits before killing a process group; 10s, like Concourse's step abort. */
  terminateGraceMs?: number;
  /** Read-only (input) mounts as symlinks to their volume (default, fast) or as copies (isolated). */
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
 * host is the image, and processes run as the server's user. Volumes are directories that survive restarts;
 * containers are directories and processes that do not (a restart removes what a previous run left).
 * Mounts are symlinks (see ContainerLayout), a tty request runs on pipes. POSIX only: process groups carry
 * signals. The package README lists every difference from a real container.
 *
 * @example
 * const worker = await LocalWorker.create({ workDir: '/var/lib/jetbridge', logger });
 */
export class LocalWorker implements Worker {
  readonly name: string;
  private readonly workDir: string;
  private readonly logger: Logger;
  private readonly volumes: VolumeStore;
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
    this.volumes = new VolumeStore(
      path.join(this.workDir, 'volumes'),
      path.join(this.workDir, 'trash'),
      this.name,
      this.logger,
    );
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
    for (const handle of stale) await removeTree(path.join(containersDir, handle));
    if (stale.length > 0) {
      this.logger.info(
        { workDir: this.workDir, containers: stale.length },
        'removed containers left by a previous run of the local worker',
      );
    }
    await this.volumes.open();
  }

  info(): WorkerInfo {
    return {
      name: this.name,
      platform: process.platform === 'win32' ? 'windows' : process.platform,
      tags: this.config.tags ?? [],
      team: '',
      version: this.config.version ?? WORKER_VERSION,
      startTime: this.startTime,
      activeContainers: this.containers.size,
      activeVolumes: this.volumes.count,
      resourceTypes: [],
    };
  }

  async createContainer(spec: ContainerSpec): Promise<Container> {
    this.assertOpen();
    await this.ready;
    assertSafeHandle('container', spec.handle);
    if (this.containers.has(spec.handle) || this.creating.has(spec.handle)) {
      throw new RuntimeError(`container ${spec.handle} already exists`);
    }
    this.noticeIgnoredImage(spec.handle, spec.image);
    this.creating.set(spec.handle, spec.metadata);
    const containerDir = path.join(this.workDir, 'containers', spec.handle);
    let layout: ContainerLayout;
    try {
      const mounts: HostMount[] = spec.mounts.map((mount) => ({
        source: this.volumeDataDir(mount.volume),
        path: mount.path,
        readOnly: mount.readOnly ?? false,
      }));
      await mkdir(containerDir);
      layout = await ContainerLayout.create(
        containerDir,
        { dir: spec.dir, mounts },
        this.config.readOnlyMounts ?? 'symlink',
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
    return this.volumes.create(spec);
  }

  async lookupVolume(handle: string): Promise<Volume | undefined> {
    await this.ready;
    return this.volumes.lookup(handle);
  }

  async listVolumes(): Promise<VolumeInfo[]> {
    await this.ready;
    return this.volumes.list();
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

  private volumeDataDir(volume: Volume): string {
    if (this.volumes.lookup(volume.handle) === undefined) {
      throw new RuntimeError(`volume ${volume.handle} is not on worker ${this.name}`);
    }
    return this.volumes.dataDir(volume.handle);
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
