import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { lstat, mkdir, readFile, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { createGzip, gzipSync } from 'node:zlib';
import tarStream from 'tar-stream';
import {
  ArtifactTooLargeError,
  CorruptArchiveError,
  InvalidArtifactPathError,
  UnsafeArchiveError,
} from './errors.js';
import { extractTar } from './tar-extract.js';
import {
  buildTar,
  describeTree,
  exists,
  makeTempDirectory,
  streamOf,
  type FixtureEntry,
} from './test-fixtures.js';

const MTIME = new Date('2023-05-06T07:08:09Z');

let temp: { path: string; cleanup: () => Promise<void> };
let artifact: string;
let outside: string;

beforeEach(async () => {
  temp = await makeTempDirectory('extract');
  artifact = path.join(temp.path, 'artifact');
  outside = path.join(temp.path, 'outside');
  await mkdir(artifact);
  await mkdir(outside);
  await writeFile(path.join(outside, 'secret.txt'), 'do not touch');
});

afterEach(async () => {
  await temp.cleanup();
});

/** The `outside` sibling directory is exactly as beforeEach left it. */
async function expectOutsideUntouched(): Promise<void> {
  const tree = await describeTree(outside);
  expect(tree.map((node) => [node.path, node.type])).toEqual([['secret.txt', 'file']]);
  expect(await readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe('do not touch');
  expect(
    (await describeTree(temp.path)).filter(
      (node) => !node.path.startsWith('artifact') && !node.path.startsWith('outside'),
    ),
  ).toEqual([]);
}

describe('extractTar', () => {
  it('extracts bare file paths (as fly sends them from git ls-files), creating parent directories, keeping modes and mtimes', async () => {
    const tar = await buildTar([
      { name: 'ci/tasks/build.yml', content: 'platform: linux\n', mode: 0o644, mtime: MTIME },
      { name: 'ci/scripts/build.sh', content: '#!/bin/sh\necho hi\n', mode: 0o755, mtime: MTIME },
      { name: 'README.md', content: '# hello\n', mode: 0o600, mtime: MTIME },
    ]);

    const result = await extractTar(artifact, '.', streamOf(tar));

    expect(result).toEqual({ entries: 3, bytes: tar.length, skipped: [] });
    const tree = await describeTree(artifact);
    expect(tree.map(({ path: p, type, mode }) => [p, type, mode])).toEqual([
      ['README.md', 'file', 0o600],
      ['ci', 'directory', 0o755],
      ['ci/scripts', 'directory', 0o755],
      ['ci/scripts/build.sh', 'file', 0o755],
      ['ci/tasks', 'directory', 0o755],
      ['ci/tasks/build.yml', 'file', 0o644],
    ]);
    expect(await readFile(path.join(artifact, 'ci/scripts/build.sh'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
    expect((await stat(path.join(artifact, 'ci/scripts/build.sh'))).mtime.getTime()).toBe(MTIME.getTime());
  });

  it('accepts a leading ./ entry and ./-prefixed names, applies directory modes and mtimes after the contents', async () => {
    const dirTime = new Date('2020-01-01T00:00:00Z');
    const tar = await buildTar([
      { name: './', type: 'directory', mode: 0o750, mtime: dirTime },
      { name: './docs/', type: 'directory', mode: 0o555, mtime: dirTime },
      { name: './docs/guide.txt', content: 'guide', mode: 0o444, mtime: MTIME },
      { name: './empty/', type: 'directory', mode: 0o700, mtime: dirTime },
      { name: './tool', content: 'bin', mode: 0o4755, mtime: MTIME },
    ]);

    await extractTar(artifact, '.', streamOf(tar));

    const tree = await describeTree(artifact);
    expect(tree.map(({ path: p, type, mode }) => [p, type, mode])).toEqual([
      // a read-only directory stays owner-writable so the store can still add to and delete it
      ['docs', 'directory', 0o755],
      ['docs/guide.txt', 'file', 0o444],
      ['empty', 'directory', 0o700],
      // setuid is dropped, the executable bits are kept
      ['tool', 'file', 0o755],
    ]);
    expect((await stat(path.join(artifact, 'docs'))).mtime.getTime()).toBe(dirTime.getTime());
    expect((await stat(artifact)).mode & 0o777).toBe(0o750);
    expect((await stat(artifact)).mtime.getTime()).toBe(dirTime.getTime());
  });

  it('creates symlinks that stay inside, and hard links to files already extracted', async () => {
    const tar = await buildTar([
      { name: 'lib/tool-1.2', content: 'tool', mode: 0o755 },
      { name: 'bin/tool', type: 'symlink', linkname: '../lib/tool-1.2' },
      { name: 'current', type: 'symlink', linkname: 'lib' },
      { name: 'here', type: 'symlink', linkname: '.' },
      { name: 'dangling', type: 'symlink', linkname: 'not/yet/there' },
      { name: 'lib/tool-hardlink', type: 'link', linkname: 'lib/tool-1.2' },
    ]);

    await extractTar(artifact, '.', streamOf(tar));

    expect(await readlink(path.join(artifact, 'bin/tool'))).toBe('../lib/tool-1.2');
    expect(await readFile(path.join(artifact, 'bin/tool'), 'utf8')).toBe('tool');
    expect(await readlink(path.join(artifact, 'current'))).toBe('lib');
    expect(await readlink(path.join(artifact, 'here'))).toBe('.');
    expect(await readlink(path.join(artifact, 'dangling'))).toBe('not/yet/there');
    const original = await stat(path.join(artifact, 'lib/tool-1.2'));
    const linked = await stat(path.join(artifact, 'lib/tool-hardlink'));
    expect(linked.ino).toBe(original.ino);
    expect(original.nlink).toBe(2);
  });

  it('writes many small files exactly, and lets a repeated name win as tar does', async () => {
    const entries: FixtureEntry[] = [
      { name: 'repeated/small.txt', content: 'first' },
      { name: 'repeated/small.txt', content: 'second' },
      { name: 'repeated/big.bin', content: 'small at first' },
      { name: 'repeated/big.bin', content: Buffer.alloc(300 * 1024, 9), mode: 0o600 },
    ];
    // Last, so that extraction ends with small files still being written in the background.
    for (let i = 0; i < 300; i++) {
      entries.push({
        name: `pkg${i % 7}/sub${i % 3}/file-${i}.txt`,
        content: `content of ${i}\n`.repeat(i % 5),
        mode: i % 2 ? 0o755 : 0o640,
      });
    }
    const tar = await buildTar(entries);

    const result = await extractTar(artifact, '.', streamOf(tar, 65536));
    // Checked synchronously: no write may still be running once extractTar has resolved.
    const unfinished = entries.slice(4).filter((entry) => {
      const file = path.join(artifact, entry.name);
      return !existsSync(file) || (statSync(file).mode & 0o777) !== entry.mode;
    });

    expect(unfinished).toEqual([]);
    expect(result.entries).toBe(304);
    const files = (await describeTree(artifact)).filter((node) => node.type === 'file');
    expect(files).toHaveLength(302);
    for (let i = 0; i < 300; i++) {
      const file = path.join(artifact, `pkg${i % 7}/sub${i % 3}/file-${i}.txt`);
      expect(await readFile(file, 'utf8')).toBe(`content of ${i}\n`.repeat(i % 5));
    }
    expect(await readFile(path.join(artifact, 'repeated/small.txt'), 'utf8')).toBe('second');
    expect(
      (await readFile(path.join(artifact, 'repeated/big.bin'))).equals(Buffer.alloc(300 * 1024, 9)),
    ).toBe(true);
    expect((await stat(path.join(artifact, 'repeated/big.bin'))).mode & 0o777).toBe(0o600);
  });

  it('has finished every write when it rejects an archive', async () => {
    const entries: FixtureEntry[] = [];
    for (let i = 0; i < 40; i++)
      entries.push({ name: `dir/file-${i}`, content: Buffer.alloc(200 * 1024, i) });
    entries.push({ name: '../escape', content: 'x' });
    const tar = await buildTar(entries);

    await expect(extractTar(artifact, '.', streamOf(tar, 1024 * 1024))).rejects.toThrow(UnsafeArchiveError);
    // Synchronously, then later: nothing may change once extractTar has settled (the store deletes it next).
    const snapshot = () =>
      readdirSync(path.join(artifact, 'dir'))
        .sort()
        .map((name) => [name, statSync(path.join(artifact, 'dir', name)).size]);
    const right = snapshot();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(snapshot()).toEqual(right);
    expect(right).toHaveLength(40);
    expect(right.every(([, size]) => size === 200 * 1024)).toBe(true);
  });

  it.each<[string, FixtureEntry[]]>([
    ['a symlink target longer than PATH_MAX', [{ name: 'l', type: 'symlink', linkname: 'a'.repeat(70_000) }]],
    ['a file name longer than the file system allows', [{ name: `${'n'.repeat(300)}`, content: 'x' }]],
    ['a directory name longer than the file system allows', [{ name: `${'d'.repeat(300)}/f`, content: 'x' }]],
    [
      'a large file under a too long name',
      [{ name: `big/${'n'.repeat(300)}`, content: Buffer.alloc(300_000) }],
    ],
  ])('refuses %s as an unsafe entry (400), not a host failure', async (_case, entries) => {
    const error = await extractTar(artifact, '.', streamOf(await buildTar(entries))).catch(
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(UnsafeArchiveError);
    expect((error as UnsafeArchiveError).httpStatus).toBe(400);
    expect((error as Error).message).toMatch(/too long/);
    await expectOutsideUntouched();
  });

  it('refuses an entry below a name that is a file, even while that file is still being written', async () => {
    // In a directory the archive creates, `x/a` is written in the background; `x/a/b` must wait for it.
    const tar = await buildTar([
      { name: 'x/a', content: 'a file' },
      { name: 'x/a/b', content: 'below a file' },
    ]);
    await expect(extractTar(artifact, '.', streamOf(tar))).rejects.toThrow(UnsafeArchiveError);
    expect(await readFile(path.join(artifact, 'x/a'), 'utf8')).toBe('a file');
  });

  it('extracts into a subpath, and lets symlinks there climb up to the artifact root but no further', async () => {
    const ok = await buildTar([{ name: 'a/link', type: 'symlink', linkname: '../../shared' }]);
    await extractTar({ path: artifact }, 'inputs/repo', streamOf(ok));
    expect(await readlink(path.join(artifact, 'inputs/repo/a/link'))).toBe('../../shared');

    const escaping = await buildTar([{ name: 'link', type: 'symlink', linkname: '../../../x' }]);
    await expect(extractTar(artifact, 'inputs/repo', streamOf(escaping))).rejects.toThrow(UnsafeArchiveError);
    expect(await exists(path.join(artifact, 'inputs/repo/link'))).toBe(false);
  });

  it('refuses subpaths that escape the artifact or go through a symlink', async () => {
    const tar = await buildTar([{ name: 'x', content: 'x' }]);
    await expect(extractTar(artifact, '../outside', streamOf(tar))).rejects.toThrow(InvalidArtifactPathError);
    await expect(extractTar(artifact, '/etc', streamOf(tar))).rejects.toThrow(InvalidArtifactPathError);
    await symlink(outside, path.join(artifact, 'escape'));
    await expect(extractTar(artifact, 'escape/deeper', streamOf(tar))).rejects.toThrow(
      InvalidArtifactPathError,
    );
    await expectOutsideUntouched();
  });

  const traversalCases: Array<[string, FixtureEntry[]]> = [
    ['a parent-relative name', [{ name: '../outside/x', content: 'pwned' }]],
    ['a name climbing out through a directory', [{ name: 'a/../../outside/x', content: 'pwned' }]],
    ['an absolute name', [{ name: '/etc/x', content: 'pwned' }]],
    ['a symlink to an absolute path', [{ name: 'etc', type: 'symlink', linkname: '/etc' }]],
    ['a symlink climbing out', [{ name: 'up', type: 'symlink', linkname: '../..' }]],
    ['a nested symlink climbing out', [{ name: 'a/b/up', type: 'symlink', linkname: '../../../outside' }]],
    [
      'a chain of symlinks that only looks inside lexically',
      [
        { name: 'self', type: 'symlink', linkname: '.' },
        { name: 'parent', type: 'symlink', linkname: 'self/..' },
      ],
    ],
    [
      'a write through a symlink from the same archive',
      [
        { name: 'sub/', type: 'directory' },
        { name: 'link', type: 'symlink', linkname: 'sub' },
        { name: 'link/evil', content: 'pwned' },
      ],
    ],
    ['a hard link to a file outside', [{ name: 'stolen', type: 'link', linkname: '../outside/secret.txt' }]],
    ['a hard link to an absolute path', [{ name: 'passwd', type: 'link', linkname: '/etc/passwd' }]],
    [
      'a hard link to a symlink',
      [
        { name: 'inside', content: 'x' },
        { name: 'alias', type: 'symlink', linkname: 'inside' },
        { name: 'hard', type: 'link', linkname: 'alias' },
      ],
    ],
  ];

  it.each(traversalCases)(
    'rejects %s with UnsafeArchiveError and writes nothing outside',
    async (_case, entries) => {
      const tar = await buildTar(entries);
      const failure = extractTar(artifact, '.', streamOf(tar));
      await expect(failure).rejects.toThrow(UnsafeArchiveError);
      await expect(failure).rejects.toMatchObject({ httpStatus: 400, code: 'unsafe_archive' });
      await expectOutsideUntouched();
      expect(await exists('/etc/x')).toBe(false);
    },
  );

  it('refuses to write through a symlink a step left in the artifact', async () => {
    await symlink(outside, path.join(artifact, 'link'));
    const tar = await buildTar([{ name: 'link/evil', content: 'pwned' }]);
    await expect(extractTar(artifact, '.', streamOf(tar))).rejects.toThrow(UnsafeArchiveError);
    await expectOutsideUntouched();
  });

  it('replaces an existing symlink or hard-linked file instead of writing through it', async () => {
    await symlink(path.join(outside, 'secret.txt'), path.join(artifact, 'via-symlink'));
    const { link } = await import('node:fs/promises');
    await link(path.join(outside, 'secret.txt'), path.join(artifact, 'via-hardlink'));
    const tar = await buildTar([
      { name: 'via-symlink', content: 'new content' },
      { name: 'via-hardlink', content: 'new content' },
    ]);

    await extractTar(artifact, '.', streamOf(tar));

    expect((await lstat(path.join(artifact, 'via-symlink'))).isFile()).toBe(true);
    expect(await readFile(path.join(artifact, 'via-hardlink'), 'utf8')).toBe('new content');
    await expectOutsideUntouched();
  });

  it('fails with CorruptArchiveError for a hard link to an entry that does not exist', async () => {
    const tar = await buildTar([{ name: 'hard', type: 'link', linkname: 'missing' }]);
    await expect(extractTar(artifact, '.', streamOf(tar))).rejects.toThrow(CorruptArchiveError);
  });

  it('skips FIFOs and devices, reporting them', async () => {
    const tar = await buildTar([
      { name: 'pipe', type: 'fifo' },
      { name: 'dev/null', type: 'character-device' },
      { name: 'file', content: 'kept' },
    ]);
    const result = await extractTar(artifact, '.', streamOf(tar));
    expect(result.skipped).toEqual(['pipe', 'dev/null']);
    expect((await describeTree(artifact)).map((node) => node.path)).toEqual(['file']);
  });

  it('rejects entry types it cannot represent (a GNU sparse file) instead of losing data', async () => {
    const tar = await buildTar([{ name: 'sparse', content: 'data' }]);
    tar[156] = 'S'.charCodeAt(0);
    rewriteChecksum(tar, 0);
    await expect(extractTar(artifact, '.', streamOf(tar))).rejects.toThrow(UnsafeArchiveError);
  });

  it('reads gzip streams', async () => {
    const tar = await buildTar([{ name: 'a.txt', content: 'compressed' }]);
    const result = await extractTar(artifact, '.', streamOf(gzipSync(tar), 100), { gzip: true });
    expect(result.bytes).toBe(tar.length);
    expect(await readFile(path.join(artifact, 'a.txt'), 'utf8')).toBe('compressed');
  });

  it('stops a gzip bomb early with ArtifactTooLargeError (1 GiB of zeros, 10 MiB limit)', async () => {
    const bomb = zeroBomb(1024 * 1024 * 1024);
    const limit = 10 * 1024 * 1024;
    const started = Date.now();

    const failure = extractTar(artifact, '.', bomb.stream, { gzip: true, maxBytes: limit });

    await expect(failure).rejects.toThrow(ArtifactTooLargeError);
    await expect(failure).rejects.toMatchObject({ httpStatus: 413, limitBytes: limit });
    // The generator is lazy: it only produced what the extraction pulled, a small part of the bomb.
    expect(bomb.producedBytes()).toBeLessThan(128 * 1024 * 1024);
    expect((await stat(path.join(artifact, 'zeros.bin'))).size).toBeLessThanOrEqual(limit);
    expect(Date.now() - started).toBeLessThan(10_000);
    // The caller's stream is left to the caller (an HTTP server still answers 413 on it).
    expect(bomb.stream.destroyed).toBe(false);
    bomb.stream.destroy();
  });

  it('accepts an archive right at the limit', async () => {
    const tar = await buildTar([{ name: 'data.bin', content: Buffer.alloc(100_000, 7) }]);
    await extractTar(artifact, '.', streamOf(tar), { maxBytes: tar.length });
    await expect(extractTar(artifact, 'again', streamOf(tar), { maxBytes: tar.length - 1 })).rejects.toThrow(
      ArtifactTooLargeError,
    );
  });

  it('fails with CorruptArchiveError for a gzip stream cut in the middle', async () => {
    const tar = await buildTar([{ name: 'big.bin', content: randomish(300_000) }]);
    const gz = gzipSync(tar);
    const failure = extractTar(artifact, '.', streamOf(gz.subarray(0, Math.floor(gz.length / 2))), {
      gzip: true,
    });
    await expect(failure).rejects.toThrow(CorruptArchiveError);
    await expect(failure).rejects.toMatchObject({ httpStatus: 400 });
  });

  it('fails with CorruptArchiveError for a plain tar cut inside an entry or right after one', async () => {
    const tar = await buildTar([
      { name: 'one.txt', content: 'one' },
      { name: 'two.bin', content: randomish(5000) },
    ]);
    await expect(extractTar(artifact, 'a', streamOf(tar.subarray(0, 2048)))).rejects.toThrow(
      CorruptArchiveError,
    );
    // Cut exactly after the first entry (header + one padded block): only the missing end marker tells.
    await expect(extractTar(artifact, 'b', streamOf(tar.subarray(0, 1024)))).rejects.toThrow(
      CorruptArchiveError,
    );
  });

  it('fails with CorruptArchiveError for data that is not a tar, or not gzip', async () => {
    const garbage = Buffer.from('this is not a tar archive '.repeat(100));
    await expect(extractTar(artifact, '.', streamOf(garbage))).rejects.toThrow(CorruptArchiveError);
    await expect(extractTar(artifact, '.', streamOf(garbage), { gzip: true })).rejects.toThrow(
      CorruptArchiveError,
    );
  });

  it('fails with CorruptArchiveError when the upload errors midway', async () => {
    const tar = await buildTar([{ name: 'big.bin', content: randomish(200_000) }]);
    const upload = new PassThrough();
    const failure = extractTar(artifact, '.', upload);
    upload.write(tar.subarray(0, 50_000));
    setTimeout(() => upload.destroy(new Error('socket hang up')), 20);
    await expect(failure).rejects.toThrow(CorruptArchiveError);
  });
});

/** A lazily generated gzip'd tar holding one file of `size` zero bytes. */
function zeroBomb(size: number): { stream: Readable; producedBytes: () => number } {
  const pack = tarStream.pack();
  let produced = 0;
  const zeros = Buffer.alloc(1024 * 1024);
  const sink = pack.entry({ name: 'zeros.bin', size, mode: 0o644 }, () => pack.finalize());
  const pump = () => {
    while (produced < size) {
      produced += zeros.length;
      if (!sink.write(zeros)) {
        sink.once('drain', pump);
        return;
      }
    }
    sink.end(null);
  };
  pump();
  const stream = Readable.from(pack, { objectMode: false }).pipe(createGzip({ level: 9 }));
  return { stream, producedBytes: () => produced };
}

/** Incompressible-ish bytes, so gzip output is long enough to cut. */
function randomish(size: number): Buffer {
  const buffer = Buffer.alloc(size);
  let state = 12345;
  for (let i = 0; i < size; i++) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    buffer[i] = state >> 16;
  }
  return buffer;
}

function rewriteChecksum(tar: Buffer, headerOffset: number): void {
  const header = tar.subarray(headerOffset, headerOffset + 512);
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
}
