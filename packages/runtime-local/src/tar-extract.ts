import { chmod, link, mkdir, open, symlink, utimes } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import type { Header } from 'tar-stream';
import { RuntimeError } from '@jetbridge/runtime';
import { ensureRealDirectories, isInside, lstatIfExists } from './safe-paths.js';
import { removeTree } from './remove-tree.js';

/** One entry of an extract stream: its header, then its body. */
type TarEntry = AsyncIterable<unknown> & { header: Header };

/** Directory modes are applied last, deepest first, so a read-only directory can still be filled. */
interface PendingDirectory {
  hostPath: string;
  mode: number;
  mtime: Date | undefined;
}

/**
 * Extract an uncompressed tar into `root` (an existing real directory), refusing — with a RuntimeError,
 * before anything is written for that entry — every entry that could land outside `boundary` (the volume):
 * absolute names, `..`, writes through a symlink, symlinks pointing outside, hard links to outside files.
 * Devices and fifos are skipped: artifacts hold files. Ownership is not restored (we are not root).
 *
 * Kept small on purpose; `@jetbridge/artifact-store` will take this job over.
 */
export async function extractTar(tar: Readable, root: string, boundary: string): Promise<void> {
  const extract = tarStream.extract();
  const onSourceError = (err: Error) => extract.destroy(err);
  tar.on('error', onSourceError);
  tar.pipe(extract);
  const directories: PendingDirectory[] = [];
  try {
    for await (const entry of extract) {
      await extractEntry(entry, root, boundary, directories);
    }
  } catch (err) {
    tar.unpipe(extract);
    tar.destroy();
    if (err instanceof RuntimeError) throw err;
    throw new RuntimeError(`cannot extract tar: ${(err as Error).message}`, { cause: err });
  } finally {
    tar.off('error', onSourceError);
  }
  directories.sort((a, b) => b.hostPath.length - a.hostPath.length);
  for (const directory of directories) {
    await chmod(directory.hostPath, directory.mode);
    if (directory.mtime) await utimes(directory.hostPath, directory.mtime, directory.mtime);
  }
}

async function extractEntry(
  entry: TarEntry,
  root: string,
  boundary: string,
  directories: PendingDirectory[],
): Promise<void> {
  const { header } = entry;
  const segments = entryNameSegments(header.name);
  const mode = (header.mode ?? 0o644) & 0o777;

  if (segments.length === 0) {
    // `./` itself: only a directory makes sense there.
    if (header.type !== 'directory')
      throw new RuntimeError(`tar entry ${JSON.stringify(header.name)} names the root`);
    directories.push({ hostPath: root, mode: mode | 0o700, mtime: header.mtime });
    return drain(entry);
  }

  await ensureRealDirectories(root, segments.slice(0, -1), true);
  const target = path.join(root, ...segments);
  const existing = await lstatIfExists(target);

  switch (header.type) {
    case 'directory':
      if (existing && !existing.isDirectory()) await removeTree(target);
      if (!existing?.isDirectory()) await mkdir(target, { mode: 0o700 });
      directories.push({ hostPath: target, mode, mtime: header.mtime });
      return drain(entry);

    case 'file':
    case 'contiguous-file':
    case null:
    case undefined:
      // Removing first never writes through an existing symlink, nor into an inode shared by a hard link.
      if (existing) await removeTree(target);
      await writeFile(entry, target);
      await chmod(target, mode);
      if (header.mtime) await utimes(target, header.mtime, header.mtime);
      return;

    case 'symlink': {
      const linkname = header.linkname ?? '';
      assertSymlinkStaysInside(boundary, target, linkname, header.name);
      if (existing) await removeTree(target);
      await symlink(linkname, target);
      return drain(entry);
    }

    case 'link': {
      // Hard link names are relative to the archive's root, like entry names.
      const sourceSegments = entryNameSegments(header.linkname ?? '');
      const sourceExists = await ensureRealDirectories(root, sourceSegments.slice(0, -1), false);
      const source = path.join(root, ...sourceSegments);
      const sourceStats = sourceExists ? await lstatIfExists(source) : undefined;
      if (!sourceStats?.isFile()) {
        throw new RuntimeError(
          `tar entry ${JSON.stringify(header.name)} links to ${JSON.stringify(header.linkname)}, which is not a file in the tar`,
        );
      }
      if (existing) await removeTree(target);
      await link(source, target);
      return drain(entry);
    }

    default:
      return drain(entry);
  }
}

/** The segments of an entry name; absolute names and `..` are refused, `./` prefixes dropped. */
function entryNameSegments(name: string): string[] {
  if (name.startsWith('/') || /^[A-Za-z]:[\\/]/.test(name)) {
    throw new RuntimeError(`tar entry ${JSON.stringify(name)} is absolute`);
  }
  const segments = name.split('/').filter((segment) => segment !== '' && segment !== '.');
  if (segments.includes('..'))
    throw new RuntimeError(`tar entry ${JSON.stringify(name)} leaves the directory it is extracted into`);
  return segments;
}

/**
 * A symlink may only point inside the volume. Its target must be relative, and `..` may only lead it:
 * the link's own directory is a real one (no write goes through a symlink), so leading `..` resolve as
 * they read, while a `..` after a name could climb out of a directory another symlink led into.
 */
function assertSymlinkStaysInside(
  boundary: string,
  linkPath: string,
  linkname: string,
  entryName: string,
): void {
  const refuse = (why: string) =>
    new RuntimeError(
      `tar entry ${JSON.stringify(entryName)} is a symlink ${why}: ${JSON.stringify(linkname)}`,
    );
  if (linkname === '') throw refuse('without a target');
  if (path.isAbsolute(linkname)) throw refuse('to an absolute path');
  let seenName = false;
  for (const segment of linkname.split('/')) {
    if (segment === '..' && seenName) throw refuse("with '..' after a name");
    if (segment !== '..' && segment !== '.' && segment !== '') seenName = true;
  }
  if (!isInside(boundary, path.resolve(path.dirname(linkPath), linkname)))
    throw refuse('pointing outside the volume');
}

async function writeFile(entry: TarEntry, target: string): Promise<void> {
  // 'wx': the path was just cleared; never open something that appeared there meanwhile.
  const handle = await open(target, 'wx', 0o600);
  try {
    for await (const chunk of entry) {
      const buffer = chunk as Buffer;
      let offset = 0;
      while (offset < buffer.length) {
        const { bytesWritten } = await handle.write(buffer, offset);
        offset += bytesWritten;
      }
    }
  } finally {
    await handle.close();
  }
}

async function drain(entry: TarEntry): Promise<void> {
  for await (const _chunk of entry) {
    // Non-file entries carry no body; anything there is skipped.
  }
}
