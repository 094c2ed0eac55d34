import type { Dirent, Stats } from 'node:fs';
import { constants } from 'node:fs';
import { lstat, open, readdir, readlink, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { pipeline, Readable } from 'node:stream';
import { constants as zlibConstants, createGzip } from 'node:zlib';
import tarStream from 'tar-stream';
import { ContainedTree } from './contained-tree.js';
import { ArtifactNotFoundError, InvalidArtifactPathError } from './errors.js';
import { existingArtifactDirectory, normalizeSubpath, type ArtifactLocation } from './location.js';
import { drainedOrClosed } from './stream-events.js';

export interface TarStreamOptions {
  /** Compress with gzip (what `fly` downloads expect). */
  gzip?: boolean;
  /** zlib level 0-9; defaults to zlib's default (6). 1 is much faster for large, compressible artifacts. */
  gzipLevel?: number;
}

const TAR_BLOCK = 512;
// Each read is a thread-pool round trip; 1 MiB reads cut the CPU of streaming a large file by about a third
// against 256 KiB (memory stays bounded: one chunk in flight per file).
const READ_CHUNK_BYTES = 1024 * 1024;
// How far the tree walk may run ahead of the reader with entries that have no data (directories, symlinks),
// which tar-stream accepts without backpressure.
const MAX_AHEAD_BYTES = 1024 * 1024;
// Small files are read whole while earlier entries stream (see #addChildren): up to this many, this big.
const LOOKAHEAD_ENTRIES = 8;
const SMALL_FILE_BYTES = 64 * 1024;
// Lending: buffers kept for reuse (the walk runs at most about a chunk ahead of the reader).
const LENT_BUFFERS_KEPT = 4;

/**
 * A tar stream (optionally gzip'd) of `subpath` inside an artifact. For a directory the entries are relative
 * to it, starting with `./` for the directory itself, then every directory, regular file (with its mode and
 * mtime) and symlink (kept as a symlink, never followed), in sorted order. For a regular file the stream holds
 * that one file under its base name (Concourse streams a single file the same way). Sockets, FIFOs and devices
 * are left out; hard-linked files are stored as separate copies.
 *
 * Files are read in chunks as the consumer reads, so memory stays flat for any artifact size; a consumer
 * that stops early must destroy the stream, which stops the walk and closes its files. Fails (before
 * any byte is streamed) with ArtifactNotFoundError when the artifact or `subpath` does not exist, and with
 * InvalidArtifactPathError when `subpath` escapes or goes through a symlink.
 */
export async function createTarStream(
  location: ArtifactLocation,
  subpath: string,
  options: TarStreamOptions = {},
): Promise<Readable> {
  const writer = await startTar(location, subpath, false);
  const tar = Readable.from(writer.output(), { objectMode: false });
  // A stream destroyed before its first read never runs output()'s cleanup (an unstarted generator's
  // return() skips its body): the walk would wait for a reader for ever, holding a file open.
  tar.once('close', () => writer.close());
  if (!options.gzip) return tar;
  const level = options.gzipLevel ?? zlibConstants.Z_DEFAULT_COMPRESSION;
  return pipeline(tar, createGzip({ level }), () => {});
}

/** The chunks of a tar whose buffers are lent: see {@link lendTarChunks}. */
export interface LentTarChunks extends AsyncIterable<Buffer> {
  /** Stops the walk and closes its files (whether or not the chunks were read to the end). */
  close(): void;
}

/**
 * The same tar as {@link createTarStream} (uncompressed), for a consumer that is done with each chunk once it
 * asks for the next one (it copies or writes it before reading on, as the exec transport's stdin framing does):
 * large files are read into a few buffers lent in turn, instead of a fresh 1 MiB buffer per read. A stream of
 * fresh buffers is hundreds of MB of short-lived memory outside V8's heap for a large artifact, and V8 answers
 * that with a garbage collection every few tens of MB. Iterate it once; call close() when done.
 */
export async function lendTarChunks(location: ArtifactLocation, subpath: string): Promise<LentTarChunks> {
  const writer = await startTar(location, subpath, true);
  return {
    [Symbol.asyncIterator]: () => writer.output(),
    close: () => writer.close(),
  };
}

/** Checks `subpath` (see createTarStream's errors) and starts the walk feeding a TarWriter. */
async function startTar(location: ArtifactLocation, subpath: string, lend: boolean): Promise<TarWriter> {
  const root = await existingArtifactDirectory(location);
  const rel = normalizeSubpath(subpath);
  const tree = new ContainedTree(root);
  const reject = (reason: string) => new InvalidArtifactPathError(`cannot read '${subpath}': ${reason}`);
  const stats = rel === '' ? await stat(root) : await tree.lookup(rel, reject);
  if (!stats) throw new ArtifactNotFoundError(`'${subpath}' does not exist in the artifact`);
  if (stats.isSymbolicLink()) throw reject('it is a symbolic link');
  if (!stats.isDirectory() && !stats.isFile()) throw reject('it is neither a file nor a directory');

  const writer = new TarWriter(lend);
  const absolute = tree.absolute(rel);
  const walk = stats.isDirectory()
    ? writer.addDirectoryTree(absolute, stats)
    : writer.addFile(absolute, path.basename(absolute));
  walk.then(
    () => writer.pack.finalize(),
    (err: unknown) => writer.pack.destroy(err instanceof Error ? err : new Error(String(err))),
  );
  return writer;
}

/** Feeds a tar-stream pack from the file system, pacing itself to the reader. */
class TarWriter {
  readonly pack = tarStream.pack();
  #written = 0;
  #read = 0;
  #waitingForReader: Array<() => void> = [];
  /** Lending (see lendTarChunks): free read buffers, and the buffer behind each chunk not yet handed back. */
  readonly #freeBuffers: Buffer[] | undefined;
  readonly #lent = new Map<Buffer, Buffer>();

  constructor(lend: boolean) {
    this.pack.on('error', () => {}); // surfaced through output(); streamx would otherwise throw
    this.#freeBuffers = lend ? [] : undefined;
  }

  /** The pack's bytes, counting what the reader took so the walk can wait for it. */
  async *output(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of this.pack as AsyncIterable<Buffer>) {
        this.#read += chunk.length;
        this.#wakeWalk();
        yield chunk;
        // The reader asked for the next chunk: it is done with this one, so a lent buffer is free again.
        // (tar-stream passes file data through as the very chunks it was given.)
        const buffer = this.#lent.get(chunk);
        if (buffer) {
          this.#lent.delete(chunk);
          if ((this.#freeBuffers?.length ?? LENT_BUFFERS_KEPT) < LENT_BUFFERS_KEPT)
            this.#freeBuffers?.push(buffer);
        }
      }
    } finally {
      // The reader is gone (done, failed or destroyed): release a waiting walk; it then sees the pack destroyed.
      this.pack.destroy();
      this.#wakeWalk();
    }
  }

  /** The reader is gone: stop the walk (it sees the pack destroyed) and let go of its files. */
  close(): void {
    this.pack.destroy();
    this.#wakeWalk();
  }

  async addDirectoryTree(directory: string, stats: Stats): Promise<void> {
    await this.#addEntry({ name: './', type: 'directory', mode: stats.mode & 0o777, mtime: stats.mtime });
    await this.#addChildren(directory, '');
  }

  async #addChildren(directory: string, prefix: string): Promise<void> {
    const children = (await readdir(directory, { withFileTypes: true })).sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    // Look at the next few children while the current one streams: each costs several syscalls of latency,
    // which otherwise add up for trees of many small files. Bounded, so memory stays small.
    const lookahead: Array<Promise<PreparedChild | undefined> | undefined> = [];
    const prepare = (index: number) => {
      const child = children[index];
      if (!child) return;
      const promise = prepareChild(path.join(directory, child.name), kindOf(child));
      promise.catch(() => {}); // awaited in order below
      lookahead[index] = promise;
    };
    for (let index = 0; index < LOOKAHEAD_ENTRIES; index++) prepare(index);

    for (let index = 0; index < children.length; index++) {
      const prepared = await lookahead[index];
      lookahead[index] = undefined;
      prepare(index + LOOKAHEAD_ENTRIES);
      if (!prepared) continue;
      const entryName = prefix + (children[index]?.name ?? '');
      const { absolute, stats } = prepared;
      switch (prepared.kind) {
        case 'directory':
          await this.#addEntry({
            name: `${entryName}/`,
            type: 'directory',
            mode: stats.mode & 0o777,
            mtime: stats.mtime,
          });
          await this.#addChildren(absolute, `${entryName}/`);
          break;
        case 'small-file':
          await this.#addEntry(
            { name: entryName, type: 'file', mode: stats.mode & 0o777, mtime: stats.mtime },
            prepared.content,
          );
          break;
        case 'large-file':
          await this.addFile(absolute, entryName);
          break;
        case 'symlink':
          await this.#addEntry({
            name: entryName,
            type: 'symlink',
            linkname: prepared.linkname,
            mode: 0o777,
            mtime: stats.mtime,
          });
          break;
      }
    }
  }

  /** Adds a regular file; returns without an entry if it vanished or is no longer a regular file. */
  async addFile(absolute: string, entryName: string): Promise<void> {
    // O_NOFOLLOW: if a step swapped the file for a symlink since lstat, refuse instead of reading its target.
    const file = await open(absolute, constants.O_RDONLY | constants.O_NOFOLLOW).catch(ignoreVanished);
    if (!file) return;
    try {
      const stats = await file.stat();
      if (!stats.isFile()) return;
      await this.#waitForReader();
      let settleEntry: (err?: Error | null) => void = () => {};
      const entryDone = new Promise<void>((resolve, reject) => {
        settleEntry = (err) => (err ? reject(err) : resolve());
      });
      entryDone.catch(() => {}); // awaited below; no unhandled rejection while we are still writing
      const sink = this.pack.entry(
        { name: entryName, type: 'file', size: stats.size, mode: stats.mode & 0o777, mtime: stats.mtime },
        (err) => settleEntry(err),
      );
      if (stats.size > 0 && this.#freeBuffers) {
        await this.#streamLentChunks(file, stats.size, sink, this.#freeBuffers);
      } else if (stats.size > 0) {
        // Read exactly the size announced in the header: a file that grows meanwhile is cut, one that shrinks
        // fails the entry (tar-stream reports the size mismatch).
        const chunks = file.createReadStream({
          start: 0,
          end: stats.size - 1,
          highWaterMark: READ_CHUNK_BYTES,
          autoClose: false,
        });
        for await (const chunk of chunks as AsyncIterable<Buffer>) {
          if (this.pack.destroyed) throw new Error('the tar stream was closed by its reader');
          this.#written += chunk.length;
          if (!sink.write(chunk)) await drainedOrClosed(sink);
        }
      }
      sink.end(null);
      await entryDone;
      this.#written += TAR_BLOCK + paddedSize(stats.size) - stats.size;
    } finally {
      await file.close();
    }
  }

  /** A file's data in lent buffers (see lendTarChunks), exactly `size` bytes as createReadStream reads it. */
  async #streamLentChunks(file: FileHandle, size: number, sink: EntrySink, free: Buffer[]): Promise<void> {
    for (let position = 0; position < size;) {
      if (this.pack.destroyed) throw new Error('the tar stream was closed by its reader');
      const buffer = free.pop() ?? Buffer.allocUnsafeSlow(READ_CHUNK_BYTES);
      const { bytesRead } = await file.read(buffer, 0, Math.min(READ_CHUNK_BYTES, size - position), position);
      if (bytesRead === 0) {
        free.push(buffer);
        break; // shrank meanwhile: tar-stream fails the short entry
      }
      position += bytesRead;
      const chunk = bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
      this.#lent.set(chunk, buffer);
      this.#written += bytesRead;
      if (!sink.write(chunk)) await drainedOrClosed(sink);
    }
  }

  /** Adds an entry without data, or with `content` (a small file read ahead). */
  async #addEntry(header: Partial<tarStream.Header> & { name: string }, content?: Buffer): Promise<void> {
    await this.#waitForReader();
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      if (content) this.pack.entry(header, content, done);
      else this.pack.entry(header, done);
    });
    this.#written += TAR_BLOCK + (content ? paddedSize(content.length) : 0);
  }

  async #waitForReader(): Promise<void> {
    while (this.#written - this.#read > MAX_AHEAD_BYTES) {
      if (this.pack.destroyed) throw new Error('the tar stream was closed by its reader');
      await new Promise<void>((resolve) => this.#waitingForReader.push(resolve));
    }
    if (this.pack.destroyed) throw new Error('the tar stream was closed by its reader');
  }

  #wakeWalk(): void {
    const waiting = this.#waitingForReader;
    this.#waitingForReader = [];
    for (const resolve of waiting) resolve();
  }
}

/** Where an entry's data goes (tar-stream's entry stream). */
type EntrySink = ReturnType<tarStream.Pack['entry']>;

type PreparedChild =
  | { kind: 'directory' | 'large-file'; absolute: string; stats: Stats }
  | { kind: 'small-file'; absolute: string; stats: Stats; content: Buffer }
  | { kind: 'symlink'; absolute: string; stats: Stats; linkname: string };

type ChildKind = 'directory' | 'symlink' | 'file' | 'other';

function kindOf(entry: Dirent | Stats): ChildKind {
  if (entry.isDirectory()) return 'directory';
  if (entry.isSymbolicLink()) return 'symlink';
  return entry.isFile() ? 'file' : 'other';
}

/** What a directory entry is, with a small file's content already read; undefined to leave it out. */
async function prepareChild(absolute: string, kind: ChildKind): Promise<PreparedChild | undefined> {
  if (kind === 'other') return undefined; // sockets, FIFOs, devices
  if (kind === 'directory' || kind === 'symlink') {
    const stats = await lstat(absolute).catch(ignoreVanished);
    if (!stats) return undefined;
    if (kindOf(stats) !== kind) return prepareChild(absolute, kindOf(stats)); // changed since readdir
    if (kind === 'directory') return { kind, absolute, stats };
    const linkname = await readlink(absolute).catch(ignoreVanished);
    return linkname === undefined ? undefined : { kind, absolute, stats, linkname };
  }
  // O_NOFOLLOW: if a step swapped the file for a symlink meanwhile, leave it out instead of reading its target.
  const file = await open(absolute, constants.O_RDONLY | constants.O_NOFOLLOW).catch(ignoreVanishedOrSwapped);
  if (!file) return undefined;
  try {
    const stats = await file.stat();
    if (!stats.isFile()) return undefined;
    if (stats.size > SMALL_FILE_BYTES) return { kind: 'large-file', absolute, stats };
    const content = Buffer.allocUnsafe(stats.size);
    let filled = 0;
    while (filled < content.length) {
      const { bytesRead } = await file.read(content, filled, content.length - filled, filled);
      if (bytesRead === 0) break; // shrank meanwhile: store what is there
      filled += bytesRead;
    }
    return { kind: 'small-file', absolute, stats, content: content.subarray(0, filled) };
  } finally {
    await file.close();
  }
}

function paddedSize(size: number): number {
  return Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;
}

function ignoreVanishedOrSwapped(err: unknown): undefined {
  if ((err as NodeJS.ErrnoException).code === 'ELOOP') return undefined;
  return ignoreVanished(err);
}

// A step may still be changing the directory; like tar, leave out what disappeared while walking.
function ignoreVanished(err: unknown): undefined {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
  throw err;
}
