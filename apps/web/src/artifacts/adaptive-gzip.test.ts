import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { describe, expect, it } from '@jest/globals';
import { adaptiveGzip } from './adaptive-gzip.js';

const WINDOW = 256 * 1024;
const options = { windowBytes: WINDOW, sampleBytes: 16 * 1024 };

/** `buffer` as a stream of `chunkSize` pieces, like a tar stream read from files. */
function chunked(buffer: Buffer, chunkSize = 60_000): Readable {
  return Readable.from(
    (function* () {
      for (let offset = 0; offset < buffer.length; offset += chunkSize)
        yield buffer.subarray(offset, offset + chunkSize);
    })(),
  );
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(stream, new Writable({ write: (chunk: Buffer, _e, done) => (chunks.push(chunk), done()) }));
  return Buffer.concat(chunks);
}

function text(bytes: number): Buffer {
  const line =
    'export function add(a: number, b: number): number { return a + b; } // source code compresses\n';
  return Buffer.from(line.repeat(Math.ceil(bytes / line.length))).subarray(0, bytes);
}

describe('adaptiveGzip', () => {
  it('is plain gzip: what it writes gunzips to exactly its input, for random and text windows mixed', async () => {
    const input = Buffer.concat([text(300_000), randomBytes(700_000), text(500_000), randomBytes(10)]);
    const gzipped = await collect(adaptiveGzip(chunked(input), options));
    expect(zlib.gunzipSync(gzipped).equals(input)).toBe(true);
    // An independent reader agrees, CRC and length trailer included.
    const gunzip = spawnSync('gzip', ['-dc'], { input: gzipped, maxBuffer: 16 * 1024 * 1024 });
    expect(gunzip.status).toBe(0);
    expect(gunzip.stdout.equals(input)).toBe(true);
  });

  it('stores what does not compress and compresses what does', async () => {
    const random = randomBytes(2 * 1024 * 1024);
    const storedSize = (await collect(adaptiveGzip(chunked(random), options))).length;
    // Stored blocks: the input plus a few bytes of framing per block, never less.
    expect(storedSize).toBeGreaterThan(random.length);
    expect(storedSize).toBeLessThan(random.length * 1.001);

    const source = text(2 * 1024 * 1024);
    const compressed = (await collect(adaptiveGzip(chunked(source), options))).length;
    expect(compressed).toBeLessThan(source.length / 20);
    expect(compressed).toBeLessThan(zlib.gzipSync(source, { level: 1 }).length);
  });

  it('handles an empty source and chunks larger than a window', async () => {
    expect(zlib.gunzipSync(await collect(adaptiveGzip(Readable.from([]), options))).length).toBe(0);
    const big = Buffer.concat([randomBytes(WINDOW * 2), text(WINDOW * 2)]);
    const gzipped = await collect(adaptiveGzip(chunked(big, WINDOW * 3), options));
    expect(zlib.gunzipSync(gzipped).equals(big)).toBe(true);
  });

  it("fails with its source's error, and destroying it destroys the source", async () => {
    const failing = new Readable({ read() {} });
    failing.push(text(100_000));
    const gzip = adaptiveGzip(failing, options);
    setImmediate(() => failing.destroy(new Error('disk went away')));
    await expect(collect(gzip)).rejects.toThrow('disk went away');

    // Readers that go away at any point, between stored and compressed windows too, stop the source.
    const alternating = Buffer.concat([randomBytes(WINDOW), text(WINDOW), randomBytes(WINDOW), text(WINDOW)]);
    for (let stopAfter = 0; stopAfter < 40; stopAfter++) {
      const source = chunked(alternating, 8 * 1024);
      const gzip = adaptiveGzip(source, options);
      let seen = 0;
      gzip.on('data', () => {
        if (seen++ === stopAfter) gzip.destroy();
      });
      await new Promise((resolve) => source.once('close', resolve));
    }

    const endless = new Readable({
      read() {
        this.push(randomBytes(64 * 1024));
      },
    });
    const reader = adaptiveGzip(endless, options);
    reader.once('data', () => reader.destroy());
    await new Promise((resolve) => endless.once('close', resolve));
    expect(endless.destroyed).toBe(true);
  });
});
