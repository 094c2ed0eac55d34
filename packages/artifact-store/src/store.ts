import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import {
  assertValidHandle,
  isArtifactType,
  isValidHandle,
  parseArtifactOwner,
  type Artifact,
  type ArtifactSpec,
} from './artifact.js';
import { lstatIfExists } from './contained-tree.js';
import { ArtifactExistsError, ArtifactNotFoundError, InvalidArtifactSpecError } from './errors.js';
import { InMemoryArtifactRegistry } from './in-memory-registry.js';
import type { ArtifactRegistry } from './registry.js';
import { removeTree } from './remove-tree.js';
import { extractTar, type ExtractOptions } from './tar-extract.js';

export interface ArtifactStoreOptions {
  /** Directory holding every artifact (a PVC mount in Kubernetes, a local directory on a laptop). */
  root: string;
  /** Default uncompressed size limit for {@link ArtifactStore.allocateFromTar}; unlimited when absent. */
  maxUploadBytes?: number;
  /** Where artifacts are recorded; an {@link InMemoryArtifactRegistry} when absent. */
  registry?: ArtifactRegistry;
}

/** Metadata as stored in `meta/<handle>.json`. */
interface ArtifactMetadataFile {
  format: 1;
  handle: string;
  owner: Artifact['owner'];
  teamName: string;
  type: Artifact['type'];
  createdAt: string;
}

/**
 * Artifacts as directories under one root. Layout:
 *
 *     <root>/data/<handle>/      the artifact's contents, nothing else (a tar of it is exactly the artifact)
 *     <root>/meta/<handle>.json  owner, team, type, creation time; written last, so it marks a complete artifact
 *     <root>/trash/              directories being deleted
 *
 * The metadata files are the source of truth, so a new store on the same root (after a restart, or in another
 * process) sees the same artifacts. A data directory without metadata is a leftover of a crash during
 * allocation; {@link ArtifactStore.sweepStrays} (run by the reaper) deletes it after a grace period.
 */
export class ArtifactStore {
  readonly root: string;
  readonly registry: ArtifactRegistry;
  readonly maxUploadBytes: number | undefined;
  readonly #dataRoot: string;
  readonly #metaRoot: string;
  readonly #trashRoot: string;
  /** Handles being allocated by this process: never strays, whatever their age. */
  readonly #inFlight = new Set<string>();
  #layout: Promise<void> | undefined;

  constructor(options: ArtifactStoreOptions) {
    this.root = path.resolve(options.root);
    this.registry = options.registry ?? new InMemoryArtifactRegistry();
    this.maxUploadBytes = options.maxUploadBytes;
    this.#dataRoot = path.join(this.root, 'data');
    this.#metaRoot = path.join(this.root, 'meta');
    this.#trashRoot = path.join(this.root, 'trash');
  }

  /**
   * Create an empty artifact (a task's output, a cache) and register it right away.
   * Fails with ArtifactExistsError when a caller-chosen handle is taken.
   */
  async allocate(spec: ArtifactSpec): Promise<Artifact> {
    const artifact = await this.#createDirectory(spec);
    try {
      await this.#commit(artifact);
      return artifact;
    } finally {
      this.#inFlight.delete(artifact.handle);
    }
  }

  /**
   * Create an artifact from a tar stream (`fly execute` uploads). The artifact is recorded and registered only
   * once the whole archive is extracted; on any failure the directory is deleted and nothing is registered.
   * `options.maxBytes` defaults to the store's `maxUploadBytes`.
   */
  async allocateFromTar(
    spec: ArtifactSpec,
    stream: Readable,
    options: ExtractOptions = {},
  ): Promise<Artifact> {
    const artifact = await this.#createDirectory(spec);
    try {
      await extractTar(artifact, '.', stream, {
        ...options,
        maxBytes: options.maxBytes ?? this.maxUploadBytes,
      });
      await this.#commit(artifact);
      return artifact;
    } catch (err) {
      await removeTree(artifact.path);
      throw err;
    } finally {
      this.#inFlight.delete(artifact.handle);
    }
  }

  /** The artifact with this handle, or undefined (never existed, removed, or not complete yet). */
  async lookup(handle: string): Promise<Artifact | undefined> {
    if (!isValidHandle(handle)) return undefined;
    const artifact = await this.#readMetadata(handle);
    if (!artifact) return undefined;
    const data = await lstatIfExists(artifact.path);
    return data?.isDirectory() ? artifact : undefined;
  }

  /** Like {@link lookup}, but fails with ArtifactNotFoundError (404) when absent. */
  async get(handle: string): Promise<Artifact> {
    const artifact = await this.lookup(handle);
    if (!artifact) throw new ArtifactNotFoundError(`artifact '${handle}' not found`);
    return artifact;
  }

  /** Every complete artifact, oldest first. */
  async list(): Promise<Artifact[]> {
    const artifacts: Artifact[] = [];
    for (const handle of await this.#metadataHandles()) {
      const artifact = await this.lookup(handle);
      if (artifact) artifacts.push(artifact);
    }
    return artifacts.sort(
      (a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.handle.localeCompare(b.handle),
    );
  }

  /**
   * Delete an artifact and unregister it. Idempotent; resolves whether there was anything to delete.
   * The metadata goes first (the artifact is gone for everyone at once), then the directory is moved to
   * the trash, which frees the handle immediately, and deleted.
   */
  async remove(handle: string): Promise<boolean> {
    if (!isValidHandle(handle)) return false;
    const hadMetadata = await unlinkIfExists(this.#metadataPath(handle));
    const trashed = path.join(this.#trashRoot, `${handle}.${randomUUID()}`);
    let hadData = false;
    try {
      await mkdir(this.#trashRoot, { recursive: true });
      await rename(this.#dataPath(handle), trashed);
      hadData = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await this.registry.unregister(handle);
    if (hadData) await removeTree(trashed);
    return hadMetadata || hadData;
  }

  /**
   * Delete what a crash left behind, if older than `olderThanMs`: data directories without (valid) metadata,
   * metadata without data, unfinished metadata writes, and trash. Returns the deleted paths, relative to the
   * root. Artifacts this process is still allocating are never touched.
   */
  async sweepStrays(options: { olderThanMs: number }): Promise<string[]> {
    await this.#ensureLayout();
    const cutoff = Date.now() - options.olderThanMs;
    const isOld = async (absolute: string) => {
      const stats = await lstatIfExists(absolute);
      return stats !== undefined && stats.mtimeMs <= cutoff;
    };
    const swept: string[] = [];

    for (const name of await readdir(this.#metaRoot)) {
      const absolute = path.join(this.#metaRoot, name);
      const handle = name.endsWith('.json') ? name.slice(0, -'.json'.length) : '';
      if (isValidHandle(handle) && this.#inFlight.has(handle)) continue;
      const complete =
        isValidHandle(handle) &&
        (await this.#readMetadata(handle)) !== undefined &&
        (await lstatIfExists(this.#dataPath(handle)))?.isDirectory() === true;
      if (complete || !(await isOld(absolute))) continue;
      await unlinkIfExists(absolute);
      if (isValidHandle(handle)) await this.registry.unregister(handle);
      swept.push(`meta/${name}`);
    }

    for (const name of await readdir(this.#dataRoot)) {
      if (this.#inFlight.has(name)) continue;
      if (isValidHandle(name) && (await this.#readMetadata(name)) !== undefined) continue;
      const absolute = path.join(this.#dataRoot, name);
      if (!(await isOld(absolute))) continue;
      await removeTree(absolute);
      swept.push(`data/${name}`);
    }

    for (const name of await readdir(this.#trashRoot)) {
      const absolute = path.join(this.#trashRoot, name);
      if (!(await isOld(absolute))) continue;
      await removeTree(absolute);
      swept.push(`trash/${name}`);
    }
    return swept;
  }

  async #createDirectory(spec: ArtifactSpec): Promise<Artifact> {
    const handle = spec.handle ?? randomUUID();
    assertValidHandle(handle);
    const owner = parseArtifactOwner(spec.owner);
    if (!owner) throw new InvalidArtifactSpecError(`invalid artifact owner ${JSON.stringify(spec.owner)}`);
    if (typeof spec.teamName !== 'string' || spec.teamName === '') {
      throw new InvalidArtifactSpecError('an artifact needs a team name');
    }
    const type = spec.type ?? 'artifact';
    if (!isArtifactType(type)) throw new InvalidArtifactSpecError(`invalid artifact type '${String(type)}'`);
    await this.#ensureLayout();

    const artifact: Artifact = {
      handle,
      path: this.#dataPath(handle),
      owner,
      teamName: spec.teamName,
      type,
      createdAt: new Date(),
    };
    try {
      // Creating the directory is what claims the handle, atomically.
      await mkdir(artifact.path, { mode: 0o755 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ArtifactExistsError(handle);
      throw err;
    }
    this.#inFlight.add(handle);
    return artifact;
  }

  /** Record a complete artifact: metadata (atomically), then the registry. Undone if either fails. */
  async #commit(artifact: Artifact): Promise<void> {
    const metadata: ArtifactMetadataFile = {
      format: 1,
      handle: artifact.handle,
      owner: artifact.owner,
      teamName: artifact.teamName,
      type: artifact.type,
      createdAt: artifact.createdAt.toISOString(),
    };
    const metadataPath = this.#metadataPath(artifact.handle);
    // Hidden temporary name: never mistaken for a handle's metadata, swept if a crash leaves it.
    const temporary = path.join(this.#metaRoot, `.${artifact.handle}.${randomUUID()}.tmp`);
    try {
      await writeFile(temporary, `${JSON.stringify(metadata, null, 2)}\n`, { flag: 'wx' });
      await rename(temporary, metadataPath);
      await this.registry.register(artifact);
    } catch (err) {
      await unlinkIfExists(temporary);
      await unlinkIfExists(metadataPath);
      await removeTree(artifact.path);
      throw err;
    }
  }

  async #readMetadata(handle: string): Promise<Artifact | undefined> {
    let text: string;
    try {
      text = await readFile(this.#metadataPath(handle), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return undefined; // unreadable metadata: the artifact counts as a stray
    }
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const record = parsed as Record<string, unknown>;
    const owner = parseArtifactOwner(record.owner);
    const createdAt = typeof record.createdAt === 'string' ? new Date(record.createdAt) : undefined;
    if (
      record.format !== 1 ||
      record.handle !== handle ||
      !owner ||
      typeof record.teamName !== 'string' ||
      !isArtifactType(record.type) ||
      !createdAt ||
      Number.isNaN(createdAt.getTime())
    ) {
      return undefined;
    }
    return {
      handle,
      path: this.#dataPath(handle),
      owner,
      teamName: record.teamName,
      type: record.type,
      createdAt,
    };
  }

  async #metadataHandles(): Promise<string[]> {
    await this.#ensureLayout();
    return (await readdir(this.#metaRoot))
      .filter((name) => name.endsWith('.json'))
      .map((name) => name.slice(0, -'.json'.length))
      .filter(isValidHandle);
  }

  #dataPath(handle: string): string {
    return path.join(this.#dataRoot, handle);
  }

  #metadataPath(handle: string): string {
    return path.join(this.#metaRoot, `${handle}.json`);
  }

  #ensureLayout(): Promise<void> {
    if (!this.#layout) {
      this.#layout = (async () => {
        for (const directory of [this.#dataRoot, this.#metaRoot, this.#trashRoot]) {
          await mkdir(directory, { recursive: true });
        }
      })();
      // A failed attempt (root not mounted yet) is retried on the next call.
      this.#layout.catch(() => (this.#layout = undefined));
    }
    return this.#layout;
  }
}

async function unlinkIfExists(file: string): Promise<boolean> {
  try {
    await unlink(file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}
