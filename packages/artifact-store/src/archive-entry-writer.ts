import { constants } from 'node:fs';
import { chmod, link, lstat, lutimes, mkdir, open, symlink, utimes, type FileHandle } from 'node:fs/promises';
import type { Header } from 'tar-stream';
import {
  ContainedTree,
  joinRelative,
  normalizeRelativePath,
  parentOf,
  type PathRejection,
} from './contained-tree.js';
import { CorruptArchiveError, UnsafeArchiveError } from './errors.js';

// Batch small tar chunks into fewer, larger writes; a 200 MB file otherwise costs ~10k syscalls.
const WRITE_BATCH_BYTES = 1024 * 1024;
const TAR_BLOCK = 512;
// Creating a file costs several syscalls of latency each; small new files are written this many at a time
// (node's thread pool runs them in parallel), which makes trees of many small files several times faster.
const PARALLEL_SMALL_FILES = 8;
const SMALL_FILE_BYTES = 256 * 1024;
const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

interface DirectoryAttributes {
  mode: number;
  mtime: Date;
}

/**
 * Writes tar entries, one at a time, into a destination directory inside a {@link ContainedTree}.
 *
 * Rules (the why is in each method):
 * - entry names are normalized; absolute names and names climbing out of the destination are rejected;
 * - nothing is written through a symlink: parents are checked with lstat, existing files are unlinked first;
 * - symlink targets must stay inside the tree (see {@link assertSymlinkStaysInside});
 * - hard links must point to a regular file already inside the destination;
 * - character/block devices and FIFOs are skipped (reported in `skipped`): unprivileged extraction cannot create
 *   them and an artifact has no use for them; unknown entry types (GNU sparse files, …) are rejected rather
 *   than silently losing data;
 * - file modes keep their permission bits (setuid/setgid/sticky are dropped); directories always stay
 *   owner-writable so the store can add to and delete them; mtimes are kept for files, directories, symlinks.
 *
 * Small files that cannot collide with anything (new name, in a directory this writer created) are written
 * in the background, a few at a time; every other entry first waits for those writes ({@link settle}), so
 * the result is the same as writing strictly in order.
 */
export class ArchiveEntryWriter {
  entries = 0;
  readonly skipped: string[] = [];
  /** Stream offset just past the last entry's data: what follows must be the end-of-archive marker. */
  endOfLastEntry = 0;
  // Applied at the end, deepest first: writing a child would bump the parent's mtime, and a read-only mode
  // would stop us from writing children.
  readonly #directories = new Map<string, DirectoryAttributes>();
  /** Every path an entry was written to, so a repeated name takes the careful path. */
  readonly #written = new Set<string>();
  /** Background writes of small new files, by path. They never reject; failures land in #backgroundError. */
  readonly #inFlight = new Map<string, Promise<void>>();
  #backgroundError: unknown;

  constructor(
    private readonly tree: ContainedTree,
    /** Destination directory, relative to the tree's root. */
    private readonly destination: string,
  ) {}

  async write(header: Header, content: AsyncIterable<unknown>): Promise<void> {
    try {
      await this.#write(header, content);
    } catch (err) {
      throw refusedByFileSystem(header.name, err) ?? err;
    }
  }

  async #write(header: Header, content: AsyncIterable<unknown>): Promise<void> {
    this.#trackEndOfEntry(header);
    const name = header.name;
    const reject: PathRejection = (reason) => new UnsafeArchiveError(name, reason);
    const normalized = normalizeRelativePath(name);
    if ('rejected' in normalized) throw reject(normalized.rejected);
    const rel = joinRelative(this.destination, normalized.path);
    const mtime = header.mtime ?? new Date();
    this.entries++;

    if ((header.type === 'file' || header.type === 'contiguous-file') && rel !== this.destination) {
      const mode = (header.mode ?? 0o644) & 0o777;
      if ((header.size ?? 0) <= SMALL_FILE_BYTES && (await this.#isFresh(rel, reject))) {
        const chunks = await readAll(content);
        this.#written.add(rel);
        await this.#writeInBackground(rel, () => this.#createFile(rel, mode, mtime, chunks));
      } else {
        await this.settle();
        this.#written.add(rel);
        await this.#writeFile(rel, mode, mtime, content, reject);
      }
      return;
    }

    // tar-stream never ends the data stream of a directory that claims a size (it reads no data for it).
    if (header.type !== 'directory') await drain(content);
    await this.settle();
    this.#written.add(rel);
    switch (header.type) {
      case 'file':
      case 'contiguous-file':
        throw reject('a file cannot replace the destination directory');
      case 'directory':
        await this.#writeDirectory(rel, { mode: header.mode ?? 0o755, mtime }, reject);
        return;
      case 'symlink':
        if (rel === this.destination)
          throw reject('a symbolic link cannot replace the destination directory');
        await this.#writeSymlink(rel, header.linkname ?? '', mtime, reject);
        return;
      case 'link':
        if (rel === this.destination) throw reject('a hard link cannot replace the destination directory');
        await this.#writeHardLink(rel, header.linkname ?? '', reject);
        return;
      case 'character-device':
      case 'block-device':
      case 'fifo':
        this.skipped.push(name);
        return;
      default:
        throw reject(`unsupported entry type '${String(header.type as unknown)}'`);
    }
  }

  /** Wait for the background writes; fails with the first error one of them hit. */
  async settle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight.values());
    if (this.#backgroundError !== undefined) throw this.#backgroundError;
  }

  /** Wait for the background writes, ignoring their errors (extraction failed anyway; cleanup comes next). */
  async abandon(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight.values());
  }

  /** Finish every write, then apply directory modes and mtimes, deepest first. */
  async finish(): Promise<void> {
    await this.settle();
    const depth = (rel: string) => (rel === '' ? 0 : rel.split('/').length);
    const ordered = [...this.#directories].sort(([a], [b]) => depth(b) - depth(a));
    for (const [rel, { mode, mtime }] of ordered) {
      const absolute = this.tree.absolute(rel);
      const stats = await lstat(absolute).catch(() => undefined);
      if (!stats?.isDirectory()) continue; // replaced by a later entry
      await chmod(absolute, (mode & 0o777) | 0o700);
      await utimes(absolute, mtime, mtime);
    }
  }

  async #writeFile(
    rel: string,
    mode: number,
    mtime: Date,
    content: AsyncIterable<unknown>,
    reject: PathRejection,
  ) {
    await this.tree.clearSlot(rel, false, reject);
    // O_EXCL|O_NOFOLLOW: the slot was just cleared, so anything there now (a racing symlink) is refused.
    const file = await open(this.tree.absolute(rel), CREATE_FLAGS, 0o600);
    try {
      let batch: Buffer[] = [];
      let batchBytes = 0;
      for await (const chunk of content as AsyncIterable<Buffer>) {
        batch.push(chunk);
        batchBytes += chunk.length;
        if (batchBytes >= WRITE_BATCH_BYTES) {
          await writeAll(file, batch, batchBytes);
          batch = [];
          batchBytes = 0;
        }
      }
      if (batchBytes > 0) await writeAll(file, batch, batchBytes);
      await file.chmod(mode);
      await file.utimes(mtime, mtime);
    } finally {
      await file.close();
    }
  }

  /**
   * Whether `rel` is certainly free: never written in this extraction, inside a directory this extraction
   * created (so nothing else is in it), and not below a file still being written.
   */
  async #isFresh(rel: string, reject: PathRejection): Promise<boolean> {
    if (this.#written.has(rel) || this.tree.createdDirectory(rel)) return false;
    const parent = parentOf(rel);
    for (let ancestor = parent; ; ancestor = parentOf(ancestor)) {
      if (this.#inFlight.has(ancestor)) return false;
      if (ancestor === '') break;
    }
    await this.tree.ensureDirectory(parent, reject);
    return this.tree.createdDirectory(parent);
  }

  async #writeInBackground(rel: string, write: () => Promise<void>): Promise<void> {
    while (this.#inFlight.size >= PARALLEL_SMALL_FILES) await Promise.race(this.#inFlight.values());
    if (this.#backgroundError !== undefined) throw this.#backgroundError;
    const running = write()
      .catch((err: unknown) => {
        this.#backgroundError ??= refusedByFileSystem(rel, err) ?? err;
      })
      .finally(() => this.#inFlight.delete(rel));
    this.#inFlight.set(rel, running);
  }

  /** Create a new file at a path known to be free (see {@link isFresh}). */
  async #createFile(rel: string, mode: number, mtime: Date, chunks: Buffer[]): Promise<void> {
    const file = await open(this.tree.absolute(rel), CREATE_FLAGS, 0o600);
    try {
      const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
      if (total > 0) await writeAll(file, chunks, total);
      await file.chmod(mode);
      await file.utimes(mtime, mtime);
    } finally {
      await file.close();
    }
  }

  async #writeDirectory(rel: string, attributes: DirectoryAttributes, reject: PathRejection) {
    if (rel === this.destination) {
      await this.tree.ensureDirectory(rel, reject);
    } else if (!(await this.tree.clearSlot(rel, true, reject))) {
      await mkdir(this.tree.absolute(rel), { mode: 0o755 });
      this.tree.markCreatedDirectory(rel);
    }
    this.#directories.set(rel, attributes);
  }

  async #writeSymlink(rel: string, target: string, mtime: Date, reject: PathRejection) {
    assertSymlinkStaysInside(rel, target, reject);
    await this.tree.clearSlot(rel, false, reject);
    const absolute = this.tree.absolute(rel);
    await symlink(target, absolute);
    await lutimes(absolute, mtime, mtime);
  }

  async #writeHardLink(rel: string, linkname: string, reject: PathRejection) {
    // In tar, a hard link names another member of the same archive, relative to the archive's root.
    const normalized = normalizeRelativePath(linkname);
    if ('rejected' in normalized) throw reject(`hard link target '${linkname}': ${normalized.rejected}`);
    if (normalized.path === '') throw reject('a hard link cannot point to the destination directory');
    const targetRel = joinRelative(this.destination, normalized.path);
    if (targetRel === rel) return;
    const target = await this.tree.lookup(targetRel, reject);
    if (!target) {
      throw new CorruptArchiveError(
        `the archive's hard link '${rel}' points to '${linkname}', which was not extracted before it`,
      );
    }
    if (!target.isFile()) throw reject(`hard link target '${linkname}' is not a regular file`);
    await this.tree.clearSlot(rel, false, reject);
    await link(this.tree.absolute(targetRel), this.tree.absolute(rel));
  }

  #trackEndOfEntry(header: Header) {
    // tar-stream records where each entry's data starts; used to require the end-of-archive marker after it.
    const byteOffset = (header as Header & { byteOffset?: unknown }).byteOffset;
    if (typeof byteOffset !== 'number') return;
    const size = header.type === 'directory' ? 0 : (header.size ?? 0);
    this.endOfLastEntry = byteOffset + Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;
  }
}

/**
 * A symlink target must stay inside the tree however the link is reached. Absolute targets are refused.
 * A relative target may start with `..` segments (at most as many as the link is deep) followed by plain
 * names, but no `..` after a name: `s -> .` plus `t -> s/..` would look inside lexically yet resolve to the
 * parent of the tree. With `..` only at the start, every `..` is applied to a real directory (parents are
 * never symlinks, see {@link ContainedTree}), so no chain of such links can leave the tree.
 */
export function assertSymlinkStaysInside(linkRel: string, target: string, reject: PathRejection): void {
  if (target === '') throw reject('the symbolic link has no target');
  if (target.includes('\0')) throw reject('the symbolic link target contains a NUL byte');
  if (target.startsWith('/')) throw reject(`the symbolic link points to the absolute path '${target}'`);
  let climbs = 0;
  let descended = false;
  for (const segment of target.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment !== '..') {
      descended = true;
    } else if (descended) {
      throw reject(`the symbolic link target '${target}' uses '..' after a directory name`);
    } else {
      climbs++;
    }
  }
  const parent = parentOf(linkRel);
  const depth = parent === '' ? 0 : parent.split('/').length;
  if (climbs > depth) throw reject(`the symbolic link points outside the artifact ('${target}')`);
}

/**
 * A name or link target the file system cannot hold (a component over 255 bytes, a path or symlink target
 * over PATH_MAX) is the archive's problem, not the host's: refused like an unsafe entry (400), not a 500.
 */
function refusedByFileSystem(name: string, err: unknown): UnsafeArchiveError | undefined {
  if ((err as NodeJS.ErrnoException | null)?.code !== 'ENAMETOOLONG') return undefined;
  return new UnsafeArchiveError(name, 'its name or link target is too long for the file system');
}

async function writeAll(file: FileHandle, buffers: Buffer[], total: number): Promise<void> {
  const { bytesWritten } = await file.writev(buffers);
  if (bytesWritten === total) return;
  // Short writes are rare on regular files; finish the remainder plainly.
  const rest = Buffer.concat(buffers).subarray(bytesWritten);
  let offset = 0;
  while (offset < rest.length) {
    offset += (await file.write(rest, offset)).bytesWritten;
  }
}

async function readAll(content: AsyncIterable<unknown>): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of content as AsyncIterable<Buffer>) chunks.push(chunk);
  return chunks;
}

async function drain(content: AsyncIterable<unknown>): Promise<void> {
  for await (const _chunk of content) {
    // entries without data normally have none; anything else is discarded
  }
}
