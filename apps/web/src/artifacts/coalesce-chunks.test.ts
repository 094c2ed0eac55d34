import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from '@jest/globals';
import { CoalesceChunks } from './coalesce-chunks.js';

async function chunksThrough(input: Buffer[], minBytes: number): Promise<Buffer[]> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(input),
    new CoalesceChunks(minBytes),
    new Writable({ write: (chunk: Buffer, _encoding, done) => (out.push(chunk), done()) }),
  );
  return out;
}

describe('CoalesceChunks', () => {
  it('passes every byte through in order, in chunks of at least minBytes but the last', async () => {
    const data = randomBytes(1_000_003);
    const input: Buffer[] = [];
    for (let offset = 0; offset < data.length; offset += 65_536)
      input.push(data.subarray(offset, offset + 65_536));
    const out = await chunksThrough(input, 256 * 1024);
    expect(Buffer.concat(out).equals(data)).toBe(true);
    expect(out.slice(0, -1).every((chunk) => chunk.length >= 256 * 1024)).toBe(true);
    expect(out.length).toBe(4);
  });

  it('passes a large chunk as it is, and nothing for an empty stream', async () => {
    const big = randomBytes(300_000);
    const [only, ...rest] = await chunksThrough([big], 100_000);
    expect(only).toBe(big);
    expect(rest).toEqual([]);
    expect(await chunksThrough([], 100_000)).toEqual([]);
  });
});
