import { mkdir, mkdtemp, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ArtifactTooLargeError, createTarStream, extractTar } from '@jetbridge/artifact-store';
import { OutputTooLargeError, outputCollectionError, outputExtractOptions } from './output-size-limit.js';

// Real tar streams of real directories (what the helper's tar-out sends) collected into a staging directory
// under the stream-mode limit, as the output collection does.
let dir: string;
let output: string;
let staging: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-output-limit-'));
  output = path.join(dir, 'output');
  staging = path.join(dir, 'staging');
  await mkdir(output);
  await mkdir(staging);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * Collects `output` into `staging` under `maxOutputBytes`: the tar bytes the source sent and those collected
 * (the tar's size), or the failure.
 */
async function collect(
  maxOutputBytes: number,
): Promise<{ sent: number; collected?: number; error?: unknown }> {
  const tar = await createTarStream(output, '.');
  let sent = 0;
  tar.on('data', (chunk: Buffer) => (sent += chunk.length));
  try {
    const { bytes } = await extractTar(staging, '.', tar, outputExtractOptions(maxOutputBytes));
    return { sent, collected: bytes };
  } catch (error) {
    return { sent, error: outputCollectionError('/tmp/build/1a2b3c4d/out', error) };
  } finally {
    tar.destroy();
  }
}

describe('the stream-mode output size limit', () => {
  it('stops collecting an output as soon as it crosses the limit, naming the output and the limit', async () => {
    // A 2 GiB (sparse) file: its tar is read lazily, so only what the collection pulled is ever produced.
    await writeFile(path.join(output, 'huge.bin'), '');
    await truncate(path.join(output, 'huge.bin'), 2 * 1024 ** 3);
    const limit = 8 * 1024 * 1024;

    const { sent, error } = await collect(limit);

    expect(error).toBeInstanceOf(OutputTooLargeError);
    expect(error).toMatchObject({ output: '/tmp/build/1a2b3c4d/out', limitBytes: limit });
    expect((error as Error).message).toBe(
      'output /tmp/build/1a2b3c4d/out is too large to collect: it is larger than 8 MiB uncompressed, the limit of --kubernetes-stream-max-output-size',
    );
    expect((error as Error).cause).toBeInstanceOf(ArtifactTooLargeError);
    expect(sent).toBeLessThan(64 * 1024 * 1024);
  });

  it('collects an output at the limit, and any output with no limit (0)', async () => {
    await writeFile(path.join(output, 'a.txt'), 'a'.repeat(300_000));
    await mkdir(path.join(output, 'sub'));
    await writeFile(path.join(output, 'sub', 'b.txt'), 'b'.repeat(5000));
    const whole = await collect(0);
    expect(whole.error).toBeUndefined();
    const size = whole.collected as number;
    expect(size).toBeGreaterThan(305_000);
    expect((await readdir(staging)).sort()).toEqual(['a.txt', 'sub']);

    await rm(staging, { recursive: true });
    await mkdir(staging);
    expect((await collect(size)).error).toBeUndefined();
    await rm(staging, { recursive: true });
    await mkdir(staging);
    expect((await collect(size - 1)).error).toBeInstanceOf(OutputTooLargeError);
    expect(outputExtractOptions(0)).toEqual({});
  });

  it('leaves other collection failures as they are', () => {
    const other = new Error('exec connection lost');
    expect(outputCollectionError('/out', other)).toBe(other);
  });
});
