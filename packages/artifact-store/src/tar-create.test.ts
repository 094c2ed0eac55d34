import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import { chmod, lutimes, mkdir, open, readdir, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ArtifactNotFoundError, InvalidArtifactPathError } from './errors.js';
import { extractTar } from './tar-extract.js';
import { createTarStream, lendTarChunks } from './tar-create.js';
import { describeTree, listTar, makeTempDirectory } from './test-fixtures.js';

const OLD = new Date('2021-02-03T04:05:06Z');

let temp: { path: string; cleanup: () => Promise<void> };
let source: string;

beforeEach(async () => {
  temp = await makeTempDirectory('tar-out');
  source = path.join(temp.path, 'source');
  await mkdir(source);
});

afterEach(async () => {
  await temp.cleanup();
});

/** A tree with everything an artifact holds: nested and empty dirs, exec bits, symlinks, a long name. */
async function buildSourceTree(): Promise<void> {
  const longName = `${'very-long-directory-name-'.repeat(5)}/${'and-a-long-file-name-'.repeat(5)}.txt`;
  await mkdir(path.join(source, 'src/nested/deeper'), { recursive: true });
  await mkdir(path.join(source, 'empty/also-empty'), { recursive: true });
  await mkdir(path.join(source, path.dirname(longName)), { recursive: true });
  await writeFile(path.join(source, 'src/main.go'), 'package main\n');
  await writeFile(path.join(source, 'src/nested/deeper/data.bin'), Buffer.from([0, 1, 2, 255, 254, 0, 7]));
  await writeFile(path.join(source, 'run.sh'), '#!/bin/sh\nexit 0\n');
  await chmod(path.join(source, 'run.sh'), 0o755);
  await writeFile(path.join(source, 'private.key'), 'secret');
  await chmod(path.join(source, 'private.key'), 0o600);
  await writeFile(path.join(source, 'empty-file'), '');
  await writeFile(path.join(source, longName), 'long');
  await symlink('src/main.go', path.join(source, 'main-link'));
  await symlink('../../run.sh', path.join(source, 'src/nested/up-link'));
  await symlink('does-not-exist', path.join(source, 'dangling'));
  await chmod(path.join(source, 'empty/also-empty'), 0o750);
  for (const file of ['src/main.go', 'run.sh', 'src/nested/deeper/data.bin', 'empty/also-empty']) {
    await utimes(path.join(source, file), OLD, OLD);
  }
  await lutimes(path.join(source, 'main-link'), OLD, OLD);
}

describe('createTarStream', () => {
  it.each([false, true])('round-trips a tree through extractTar (gzip: %s)', async (gzip) => {
    await buildSourceTree();
    const destination = path.join(temp.path, 'copy');
    await mkdir(destination);

    const tar = await createTarStream(source, '.', { gzip });
    await extractTar(destination, '.', tar, { gzip });

    const original = await describeTree(source);
    const copy = await describeTree(destination);
    expect(copy).toEqual(original);
    // Guard against a vacuous comparison: the tree really has what we built.
    expect(original.filter((node) => node.type === 'symlink').map((node) => node.linkname)).toEqual([
      'does-not-exist',
      'src/main.go',
      '../../run.sh',
    ]);
    expect(copy.find((node) => node.path === 'run.sh')).toMatchObject({
      mode: 0o755,
      mtimeSeconds: OLD.getTime() / 1000,
    });
    expect(copy.find((node) => node.path === 'main-link')).toMatchObject({
      mtimeSeconds: OLD.getTime() / 1000,
    });
    expect(copy.find((node) => node.path === 'empty/also-empty')).toMatchObject({
      type: 'directory',
      mode: 0o750,
    });
    expect(original.length).toBe(15);
  });

  it('lists entries relative to the directory, ./ first, sorted, symlinks as symlinks, no metadata files', async () => {
    await buildSourceTree();
    const entries = await listTar(await createTarStream({ path: source }, 'src'));
    expect(entries.map(({ name, type }) => [name, type])).toEqual([
      ['./', 'directory'],
      ['main.go', 'file'],
      ['nested/', 'directory'],
      ['nested/deeper/', 'directory'],
      ['nested/deeper/data.bin', 'file'],
      ['nested/up-link', 'symlink'],
    ]);
    expect(entries.find((entry) => entry.name === 'nested/up-link')?.linkname).toBe('../../run.sh');
    expect(entries.find((entry) => entry.name === 'main.go')).toMatchObject({
      size: 13,
      sha256: createHash('sha256').update('package main\n').digest('hex'),
    });
  });

  it('streams a single file as one entry under its base name', async () => {
    await buildSourceTree();
    const entries = await listTar(await createTarStream(source, 'run.sh', { gzip: true }), { gzip: true });
    expect(entries).toEqual([
      {
        name: 'run.sh',
        type: 'file',
        mode: 0o755,
        size: 17,
        sha256: createHash('sha256').update('#!/bin/sh\nexit 0\n').digest('hex'),
      },
    ]);
  });

  it('fails before streaming for a missing path, an escaping path, or a path through a symlink', async () => {
    await buildSourceTree();
    await expect(createTarStream(source, 'nope')).rejects.toThrow(ArtifactNotFoundError);
    await expect(createTarStream(path.join(temp.path, 'gone'), '.')).rejects.toThrow(ArtifactNotFoundError);
    await expect(createTarStream(source, '../')).rejects.toThrow(InvalidArtifactPathError);
    await expect(createTarStream(source, 'main-link')).rejects.toThrow(InvalidArtifactPathError);
    await symlink(temp.path, path.join(source, 'escape'));
    await expect(createTarStream(source, 'escape/source')).rejects.toMatchObject({ httpStatus: 400 });
  });

  it('stops reading files when the consumer goes away', async () => {
    await writeFile(path.join(source, 'big.bin'), Buffer.alloc(8 * 1024 * 1024, 1));
    const tar = await createTarStream(source, '.');
    let received = 0;
    await new Promise<void>((resolve) => {
      tar.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > 64 * 1024) tar.destroy();
      });
      tar.on('close', resolve);
    });
    expect(received).toBeLessThan(4 * 1024 * 1024);
  });

  it('lets go of its files when destroyed before the first read', async () => {
    for (let i = 0; i < 3; i++) await writeFile(path.join(source, `f${i}`), Buffer.alloc(3 * 1024 * 1024, 1));
    const openFiles = async () => (await readdir('/proc/self/fd')).length;
    const before = await openFiles();
    for (let i = 0; i < 10; i++) (await createTarStream(source, '.')).destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await openFiles()).toBeLessThanOrEqual(before);
  });

  it('streams a 200 MB artifact with flat memory, in both directions', async () => {
    const size = 200 * 1024 * 1024;
    const big = await open(path.join(source, 'big.bin'), 'w');
    // Distinct content per MiB so a misplaced chunk would change the digest; the rest stays sparse.
    for (let mib = 0; mib < 200; mib++) {
      await big.write(Buffer.from(`chunk ${mib}`), 0, undefined, mib * 1024 * 1024);
    }
    await big.truncate(size);
    await big.close();
    const destination = path.join(temp.path, 'copy');
    await mkdir(destination);

    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 10);
    const started = Date.now();
    try {
      // Out, to a consumer that only counts (the HTTP download path)…
      let streamed = 0;
      await pipeline(
        await createTarStream(source, '.'),
        new Writable({
          write(chunk: Buffer, _encoding, callback) {
            streamed += chunk.length;
            callback();
          },
        }),
      );
      expect(streamed).toBeGreaterThan(size);
      // …and a full round trip through extraction.
      await extractTar(destination, '.', await createTarStream(source, '.'));
    } finally {
      clearInterval(sampler);
    }
    const elapsed = Date.now() - started;

    const [original] = await describeTree(source);
    const [copy] = await describeTree(destination);
    expect(copy).toEqual(original);
    expect(copy?.size).toBe(size);
    // Buffering a whole file would need 200+ MB; streaming needs a few.
    expect(rssPeak - rssBefore).toBeLessThan(100 * 1024 * 1024);
    expect(elapsed).toBeLessThan(30_000);
  });
});

describe('lendTarChunks', () => {
  /** Reads lent chunks as the exec transport does: each copied before the next is asked for. */
  async function copyEachChunk(
    chunks: AsyncIterable<Buffer>,
  ): Promise<{ tar: Buffer; buffers: Set<ArrayBuffer>; count: number }> {
    const copies: Buffer[] = [];
    const buffers = new Set<ArrayBuffer>();
    let count = 0;
    for await (const chunk of chunks) {
      copies.push(Buffer.from(chunk));
      // Full 1 MiB reads of file data (headers and padding come in small chunks of their own).
      if (chunk.length === 1024 * 1024) {
        buffers.add(chunk.buffer as ArrayBuffer);
        count++;
      }
    }
    return { tar: Buffer.concat(copies), buffers, count };
  }

  it('gives the same tar as createTarStream, reading large files through a few reused buffers', async () => {
    await buildSourceTree();
    // Three files of several MiB, each byte depending on its position (a chunk read into the wrong place or
    // overwritten before it was copied changes the tar).
    for (const [name, mib] of [
      ['a.bin', 5],
      ['b.bin', 3],
      ['src/c.bin', 4],
    ] as const) {
      const data = Buffer.alloc(mib * 1024 * 1024 + 777);
      for (let i = 0; i < data.length; i += 4)
        data.writeUInt32LE((i * 2654435761) >>> 0, Math.min(i, data.length - 4));
      await writeFile(path.join(source, name), data);
    }
    const expected: Buffer[] = [];
    for await (const chunk of await createTarStream(source, '.')) expected.push(chunk as Buffer);

    const lent = await lendTarChunks(source, '.');
    const { tar, buffers, count } = await copyEachChunk(lent);
    lent.close();

    expect(tar.equals(Buffer.concat(expected))).toBe(true);
    // 12 full 1 MiB reads of file data: without lending, each is a buffer of its own.
    expect(count).toBe(12);
    expect(buffers.size).toBeLessThanOrEqual(4);
  });

  it('extracts to the same tree', async () => {
    await buildSourceTree();
    await writeFile(path.join(source, 'big.bin'), Buffer.alloc(3 * 1024 * 1024 + 5, 9));
    const lent = await lendTarChunks(source, '.');
    const { tar } = await copyEachChunk(lent);
    const destination = path.join(temp.path, 'copy');
    await mkdir(destination);
    await extractTar(destination, '.', Readable.from([tar]));
    expect(await describeTree(destination)).toEqual(await describeTree(source));
  });

  it('stops reading files when closed part way', async () => {
    await writeFile(path.join(source, 'big.bin'), Buffer.alloc(16 * 1024 * 1024, 1));
    const lent = await lendTarChunks(source, '.');
    let received = 0;
    for await (const chunk of lent) {
      received += chunk.length;
      if (received > 64 * 1024) break;
    }
    lent.close();
    expect(received).toBeLessThan(4 * 1024 * 1024);
  });

  it('fails before streaming for a missing path', async () => {
    await expect(lendTarChunks(source, 'nope')).rejects.toThrow(ArtifactNotFoundError);
  });
});
