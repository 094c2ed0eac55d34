import { createReadStream, type Stats } from 'node:fs';
import { readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import type { Header, Pack } from 'tar-stream';

type EntryHeader = Partial<Header> & Pick<Header, 'name'>;
import { FileNotFoundError } from '@jetbridge/runtime';
import { ensureRealDirectories, lstatIfExists } from './safe-paths.js';

/**
 * An uncompressed tar of `segments` below `root`: a directory's entries relative to it, or a single file
 * (or symlink) under its base name. Symlinks are stored as symlinks, never followed, and the path itself
 * may not be reached through one — so nothing outside `root` is ever read.
 * Rejects with FileNotFoundError before streaming when the path does not exist.
 */
export async function packTar(root: string, segments: string[], requestedPath: string): Promise<Readable> {
  const parentsExist = await ensureRealDirectories(root, segments.slice(0, -1), false);
  const target = path.join(root, ...segments);
  const stats = parentsExist ? await lstatIfExists(target) : undefined;
  if (stats === undefined) throw new FileNotFoundError(requestedPath);

  const pack = tarStream.pack();
  const fill = stats.isDirectory()
    ? addChildren(pack, target, '')
    : addEntry(pack, target, path.basename(target), stats);
  fill.then(
    () => pack.finalize(),
    (err: Error) => pack.destroy(err),
  );
  return Readable.from(pack, { objectMode: false });
}

async function addChildren(pack: Pack, directory: string, prefix: string): Promise<void> {
  const children = (await readdir(directory)).sort();
  for (const child of children) {
    const hostPath = path.join(directory, child);
    // A file removed while we stream is simply not in the tar.
    const stats = await lstatIfExists(hostPath);
    if (stats) await addEntry(pack, hostPath, prefix + child, stats);
  }
}

async function addEntry(pack: Pack, hostPath: string, name: string, stats: Stats): Promise<void> {
  const header: EntryHeader = { name, mode: stats.mode & 0o7777, mtime: stats.mtime };
  if (stats.isDirectory()) {
    await writeEntry(pack, { ...header, type: 'directory' });
    await addChildren(pack, hostPath, `${name}/`);
  } else if (stats.isSymbolicLink()) {
    await writeEntry(pack, { ...header, type: 'symlink', linkname: await readlink(hostPath) });
  } else if (stats.isFile()) {
    await writeFileEntry(pack, hostPath, { ...header, type: 'file', size: stats.size });
  }
  // Sockets, fifos and devices are not artifacts.
}

function writeEntry(pack: Pack, header: EntryHeader): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry(header, (err) => (err ? reject(err) : resolve()));
  });
}

function writeFileEntry(pack: Pack, hostPath: string, header: EntryHeader & { size: number }): Promise<void> {
  if (header.size === 0) {
    return new Promise((resolve, reject) => {
      pack.entry(header, Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
    });
  }
  return new Promise((resolve, reject) => {
    // Read exactly the size in the header: a file growing meanwhile must not corrupt the tar.
    const file = createReadStream(hostPath, { start: 0, end: header.size - 1 });
    const sink = pack.entry(header, (err) => {
      if (err) {
        file.destroy();
        reject(err);
      } else {
        resolve();
      }
    });
    file.on('error', (err) => {
      sink.destroy(err);
      reject(err);
    });
    file.pipe(sink);
  });
}
