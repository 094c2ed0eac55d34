import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { RuntimeError } from '@jetbridge/runtime';
import type { Volume, VolumeInfo, VolumeOwner, VolumeSpec } from '@jetbridge/runtime';
import type { Logger } from './logger.js';
import { removeTree } from './remove-tree.js';
import { assertSafeHandle, ensureRealDirectories, pathSegmentsInVolume } from './safe-paths.js';
import { extractTar } from './tar-extract.js';
import { packTar } from './tar-pack.js';

/** What `volume.json` holds, beside the volume's `data/` directory, so a restarted worker can list it. */
interface VolumeRecord {
  handle: string;
  teamName: string;
  owner: VolumeOwner;
  type: VolumeInfo['type'];
  createdAt: string;
}

const RECORD_FILE = 'volume.json';
const DATA_DIR = 'data';

/**
 * The local worker's volumes: `<volumesDir>/<handle>/data/` holds the content, `<volumesDir>/<handle>/volume.json`
 * describes it. A destroyed volume is first renamed into `trashDir`, so it disappears at once even when
 * removing a large tree takes a while (and a crash mid-removal leaves only trash, emptied at the next start).
 */
export class VolumeStore {
  private readonly records = new Map<string, VolumeRecord>();

  constructor(
    private readonly volumesDir: string,
    private readonly trashDir: string,
    private readonly workerName: string,
    private readonly logger: Logger,
  ) {}

  /** Create the directories, empty the trash, and load the volumes a previous run left. Call once, first. */
  async open(): Promise<void> {
    await mkdir(this.volumesDir, { recursive: true });
    await mkdir(this.trashDir, { recursive: true });
    for (const trashed of await readdir(this.trashDir)) {
      await removeTree(path.join(this.trashDir, trashed));
    }
    for (const entry of await readdir(this.volumesDir, { withFileTypes: true })) {
      if (entry.isDirectory()) await this.load(entry.name);
    }
  }

  get count(): number {
    return this.records.size;
  }

  async create(spec: VolumeSpec): Promise<LocalVolume> {
    const handle = spec.handle ?? randomUUID();
    assertSafeHandle('volume', handle);
    if (this.records.has(handle)) throw new RuntimeError(`volume ${handle} already exists`);
    const record: VolumeRecord = {
      handle,
      teamName: spec.teamName,
      owner: spec.owner,
      type: spec.type ?? 'artifact',
      createdAt: new Date().toISOString(),
    };
    // Claimed before the first await, so two concurrent creates of one handle cannot both succeed.
    this.records.set(handle, record);
    const volumeDir = path.join(this.volumesDir, handle);
    try {
      await mkdir(volumeDir);
      await mkdir(path.join(volumeDir, DATA_DIR));
      const temporary = path.join(volumeDir, `.${RECORD_FILE}.tmp`);
      await writeFile(temporary, `${JSON.stringify(record, null, 2)}\n`);
      await rename(temporary, path.join(volumeDir, RECORD_FILE));
    } catch (err) {
      this.records.delete(handle);
      if ((err as NodeJS.ErrnoException).code === 'EEXIST')
        throw new RuntimeError(`volume ${handle} already exists`);
      await removeTree(volumeDir).catch(() => undefined);
      throw new RuntimeError(`cannot create volume ${handle}: ${(err as Error).message}`, { cause: err });
    }
    return new LocalVolume(handle, this);
  }

  lookup(handle: string): LocalVolume | undefined {
    return this.records.has(handle) ? new LocalVolume(handle, this) : undefined;
  }

  list(): VolumeInfo[] {
    return [...this.records.values()].map((record) => ({
      handle: record.handle,
      workerName: this.workerName,
      type: record.type,
      teamName: record.teamName,
      owner: record.owner,
      path: this.dataDirOf(record.handle),
    }));
  }

  /** The host directory holding a volume's content; a RuntimeError once the volume is gone. */
  dataDir(handle: string): string {
    if (!this.records.has(handle)) throw new RuntimeError(`volume ${handle} does not exist`);
    return this.dataDirOf(handle);
  }

  async destroy(handle: string): Promise<void> {
    if (!this.records.delete(handle)) return;
    const trashed = path.join(this.trashDir, `${handle}-${randomUUID()}`);
    try {
      await rename(path.join(this.volumesDir, handle), trashed);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw new RuntimeError(`cannot destroy volume ${handle}: ${(err as Error).message}`, { cause: err });
    }
    await removeTree(trashed);
  }

  private dataDirOf(handle: string): string {
    return path.join(this.volumesDir, handle, DATA_DIR);
  }

  private async load(handle: string): Promise<void> {
    try {
      const text = await readFile(path.join(this.volumesDir, handle, RECORD_FILE), 'utf8');
      const record = JSON.parse(text) as VolumeRecord;
      if (record.handle !== handle) throw new Error(`it describes volume ${JSON.stringify(record.handle)}`);
      this.records.set(record.handle, record);
    } catch (err) {
      // Never delete what we cannot read: it may be someone's data. Say so and leave it.
      this.logger.warn(
        { volume: handle, err: (err as Error).message },
        'ignoring a volume directory without a readable volume.json',
      );
    }
  }
}

/** A handle on one volume of a {@link VolumeStore}; every call checks the volume still exists. */
export class LocalVolume implements Volume {
  constructor(
    readonly handle: string,
    private readonly store: VolumeStore,
  ) {}

  /** The host directory holding the content (mounted into containers). */
  get dataDir(): string {
    return this.store.dataDir(this.handle);
  }

  async streamIn(volumePath: string, tar: Readable): Promise<void> {
    const dataDir = this.store.dataDir(this.handle);
    const segments = pathSegmentsInVolume(volumePath);
    await ensureRealDirectories(dataDir, segments, true);
    await extractTar(tar, path.join(dataDir, ...segments), dataDir);
  }

  async streamOut(volumePath: string): Promise<Readable> {
    const dataDir = this.store.dataDir(this.handle);
    return packTar(dataDir, pathSegmentsInVolume(volumePath), volumePath);
  }

  destroy(): Promise<void> {
    return this.store.destroy(this.handle);
  }
}
