// Helpers for this package's tests: real directories, real tar streams, real daemons on loopback.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createTarStream, extractTar } from '@jetbridge/artifact-store';
import type { Readable } from 'node:stream';

export const TEST_KEY = randomBytes(32);

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `jb-daemon-${prefix}-`));
}

/** Writes `files` (relative path → content) under `dir`. */
export async function writeTree(dir: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), content);
  }
}

/** Every regular file under `dir`, relative path → content (as a string when it is UTF-8 text). */
export async function readTree(dir: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  const walk = async (current: string): Promise<void> => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const absolute = path.join(current, entry.name);
      if (entry.isDirectory()) await walk(absolute);
      else if (entry.isFile())
        result[path.relative(dir, absolute)] = (await readFile(absolute)).toString('base64');
    }
  };
  await walk(dir);
  return result;
}

export function tarOf(dir: string): Promise<Readable> {
  return createTarStream(dir, '.');
}

/** Extracts a tar stream into a fresh directory and returns it. */
export async function untarToTemp(tar: Readable, options: { gzip?: boolean } = {}): Promise<string> {
  const dir = await tempDir('out');
  await extractTar(dir, '.', tar, options);
  return dir;
}

export async function removeAll(...dirs: string[]): Promise<void> {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
}
