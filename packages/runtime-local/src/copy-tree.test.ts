import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  readlink,
  rm,
  symlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { copyTree, copyTreeWithNode } from './copy-tree.js';
import { removeTree } from './remove-tree.js';

/** Every entry below `root`: type, mode, size or link target, content and mtime (seconds). */
async function describeTree(root: string): Promise<Record<string, unknown>> {
  const result: Record<string, unknown> = {};
  async function walk(dir: string): Promise<void> {
    for (const name of (await readdir(dir)).sort()) {
      const full = path.join(dir, name);
      const stats = await lstat(full);
      const key = path.relative(root, full);
      const mtime = Math.floor(stats.mtimeMs / 1000);
      if (stats.isSymbolicLink()) result[key] = { link: await readlink(full) };
      else if (stats.isDirectory()) {
        result[key] = { dir: stats.mode & 0o7777, mtime };
        await walk(full);
      } else result[key] = { file: stats.mode & 0o7777, content: await readFile(full, 'utf8'), mtime };
    }
  }
  await walk(root);
  return result;
}

describe('copyTree: an input becomes a container’s own copy', () => {
  let scratch: string;
  let source: string;

  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'jetbridge-copy-tree-'));
    source = path.join(scratch, 'source');
    await mkdir(path.join(source, 'bin'), { recursive: true });
    await mkdir(path.join(source, 'empty'));
    await writeFile(path.join(source, 'bin', 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
    await writeFile(path.join(source, 'secret.txt'), 'only mine\n', { mode: 0o600 });
    await symlink('bin/run.sh', path.join(source, 'relative-link'));
    await symlink('/no/such/target', path.join(source, 'dangling-link'));
    await mkdir(path.join(source, 'locked'));
    await writeFile(path.join(source, 'locked', 'inside.txt'), 'inside\n');
    const old = new Date('2020-01-02T03:04:05Z');
    await utimes(path.join(source, 'secret.txt'), old, old);
    await chmod(path.join(source, 'locked'), 0o555); // as Go's module cache leaves its directories
    // Directories dated well in the past, so a copy that leaves a directory's mtime at "now" always differs,
    // not only when the copy happens to cross a second boundary.
    const past = new Date('2021-05-06T07:08:09Z');
    for (const dir of ['bin', 'empty', 'locked', '.']) await utimes(path.join(source, dir), past, past);
  });
  afterAll(async () => {
    await removeTree(scratch);
  });

  it.each([
    ['copyTree (GNU cp where there is one)', copyTree],
    ['copyTreeWithNode (fs.cp, the fallback)', copyTreeWithNode],
  ])(
    '%s keeps modes, timestamps and symlinks as they are, and the copy is independent',
    async (_name, copy) => {
      const target = path.join(scratch, `copy-${Math.random().toString(36).slice(2)}`);
      await copy(source, target);
      expect(await describeTree(target)).toEqual(await describeTree(source));

      await writeFile(path.join(target, 'secret.txt'), 'changed\n');
      await rm(path.join(target, 'bin', 'run.sh'));
      expect(await readFile(path.join(source, 'secret.txt'), 'utf8')).toBe('only mine\n');
      expect(await readFile(path.join(source, 'bin', 'run.sh'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
      await removeTree(target); // read-only directories included
      await expect(lstat(target)).rejects.toMatchObject({ code: 'ENOENT' });
    },
  );

  it('fails with the cause when the source is missing, leaving no target', async () => {
    const target = path.join(scratch, 'from-nothing');
    await expect(copyTree(path.join(scratch, 'no-such-source'), target)).rejects.toMatchObject({
      code: 'ENOENT',
    });
    await expect(lstat(target)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
