// Helpers for this package's tests: real tar streams (tar-stream), real directories under os.tmpdir().
import { createHash } from 'node:crypto';
import { lstat, mkdtemp, readdir, readFile, readlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import tarStream from 'tar-stream';
import { removeTree } from './remove-tree.js';

export interface FixtureEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'fifo' | 'character-device';
  content?: string | Buffer;
  mode?: number;
  mtime?: Date;
  linkname?: string;
}

/** A tar archive of `entries`, exactly as given (tar-stream writes names and link targets verbatim). */
export async function buildTar(entries: FixtureEntry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const collected = collect(pack);
  for (const entry of entries) {
    const type = entry.type ?? 'file';
    const content = entry.content === undefined ? undefined : Buffer.from(entry.content);
    await new Promise<void>((resolve, reject) => {
      const header = {
        name: entry.name,
        type,
        mode: entry.mode,
        mtime: entry.mtime ?? new Date('2024-01-02T03:04:05Z'),
        linkname: entry.linkname,
      };
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      if (type === 'file') pack.entry(header, content ?? Buffer.alloc(0), done);
      else pack.entry(header, done);
    });
  }
  pack.finalize();
  return collected;
}

/** A readable of `buffer` in small chunks, so extraction really streams. */
export function streamOf(buffer: Buffer, chunkSize = 4096): Readable {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < buffer.length; offset += chunkSize) {
    chunks.push(buffer.subarray(offset, offset + chunkSize));
  }
  return Readable.from(chunks, { objectMode: false });
}

export async function collect(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

export interface ListedTarEntry {
  name: string;
  type: string;
  mode: number;
  size: number;
  linkname?: string;
  sha256?: string;
}

/** The entries of a tar stream, in order, with a digest of each file's content. */
export async function listTar(stream: Readable, options: { gzip?: boolean } = {}): Promise<ListedTarEntry[]> {
  const source = options.gzip ? stream.pipe(createGunzip()) : stream;
  const extract = tarStream.extract();
  const entries: ListedTarEntry[] = [];
  const parsing = (async () => {
    for await (const entry of extract) {
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of entry) {
        hash.update(chunk as Uint8Array);
        size += (chunk as Uint8Array).length;
      }
      const { header } = entry;
      entries.push({
        name: header.name,
        type: header.type,
        mode: header.mode & 0o7777,
        size,
        ...(header.type === 'symlink' ? { linkname: header.linkname } : {}),
        ...(header.type === 'file' ? { sha256: hash.digest('hex') } : {}),
      });
    }
  })();
  for await (const chunk of source) {
    if (!extract.write(chunk)) await new Promise<void>((resolve) => extract.once('drain', () => resolve()));
  }
  extract.end(null);
  await parsing;
  return entries;
}

export interface TreeNode {
  path: string;
  type: 'file' | 'directory' | 'symlink' | 'other';
  mode: number;
  mtimeSeconds: number;
  size?: number;
  sha256?: string;
  linkname?: string;
}

/** Everything under `root` (not root itself), sorted, as lstat sees it. */
export async function describeTree(root: string): Promise<TreeNode[]> {
  const nodes: TreeNode[] = [];
  const visit = async (directory: string, prefix: string) => {
    for (const name of (await readdir(directory)).sort()) {
      const absolute = path.join(directory, name);
      const rel = prefix + name;
      const stats = await lstat(absolute);
      const base = { path: rel, mode: stats.mode & 0o7777, mtimeSeconds: Math.floor(stats.mtimeMs / 1000) };
      if (stats.isDirectory()) {
        nodes.push({ ...base, type: 'directory' });
        await visit(absolute, `${rel}/`);
      } else if (stats.isFile()) {
        const sha256 = createHash('sha256')
          .update(await readFile(absolute))
          .digest('hex');
        nodes.push({ ...base, type: 'file', size: stats.size, sha256 });
      } else if (stats.isSymbolicLink()) {
        nodes.push({
          path: rel,
          type: 'symlink',
          mode: 0,
          mtimeSeconds: base.mtimeSeconds,
          linkname: await readlink(absolute),
        });
      } else {
        nodes.push({ ...base, type: 'other' });
      }
    }
  };
  await visit(root, '');
  return nodes;
}

/** A fresh directory under os.tmpdir(); `cleanup` deletes it. */
export async function makeTempDirectory(
  prefix: string,
): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const directory = await mkdtemp(path.join(os.tmpdir(), `jetbridge-${prefix}-`));
  return { path: directory, cleanup: () => removeTree(directory) };
}

export async function exists(absolute: string): Promise<boolean> {
  return lstat(absolute).then(
    () => true,
    () => false,
  );
}
