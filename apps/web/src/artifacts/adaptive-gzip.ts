// gzip for artifact downloads that does not spend minutes compressing what does not compress. `fly execute
// -o` expects a gzip'd tar, but outputs are often binaries, archives or images: deflate gains nothing on
// them and costs far more than moving the bytes (15-40 MB/s on a slow core, against a memory copy for a
// stored block). Each window of the stream is judged by deflating a small sample: a window that does not
// shrink is written as stored deflate blocks, the rest is compressed.
//
// The result is one ordinary gzip member (RFC 1952) around one raw deflate stream (RFC 1951), readable by
// any gzip reader. zlib's own streams cannot switch cheaply (after params() to level 0 zlib still copies at
// compression speed), so the deflate stream is assembled here: stored blocks written directly, compressed
// runs deflated piece by piece (each piece ends with a sync flush, byte-aligned and not final, and refers
// only to its own bytes), a final empty stored block, then the CRC-32 and length trailer.
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';

export interface AdaptiveGzipOptions {
  /** Level for compressible windows; zlib's default (6) when absent. */
  level?: number;
  /** Bytes of input decided at a time. */
  windowBytes?: number;
  /** Bytes at the start of each window deflated (at level 1) to judge it. */
  sampleBytes?: number;
  /** A window is stored unless its sample deflates to less than this fraction of its size. */
  storeAboveRatio?: number;
}

const DEFAULT_WINDOW_BYTES = 4 * 1024 * 1024;
// Deflating the sample is most of the CPU a stored window costs (level 1 runs at tens of MB/s on random
// data); 16 KiB and 64 KiB samples made the same decisions (same output size) on 150 MB of a tar of
// shared libraries and node_modules, and a 200 MB random download costs ~20% less CPU.
const DEFAULT_SAMPLE_BYTES = 16 * 1024;
const DEFAULT_STORE_ABOVE_RATIO = 0.9;
/** Compressed runs are deflated in pieces of about this size (on the thread pool, one at a time). */
const PIECE_BYTES = 256 * 1024;
/** Output is yielded in chunks of about this size. */
const OUTPUT_CHUNK_BYTES = 1024 * 1024;
/** The largest stored block deflate allows. */
const STORED_BLOCK_BYTES = 65_535;
/** ID1 ID2, CM = deflate, no flags, no mtime, no extra flags, OS = unknown. */
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff]);
/** BFINAL = 1, BTYPE = stored, LEN = 0, NLEN = 0xffff. */
const FINAL_EMPTY_STORED_BLOCK = Buffer.from([0x01, 0x00, 0x00, 0xff, 0xff]);

const deflateRaw = promisify(zlib.deflateRaw);

/**
 * `source` gzip'd, stored or compressed window by window (see the file comment). Destroying the result
 * destroys `source`; an error of `source` fails the result.
 */
export function adaptiveGzip(source: Readable, options: AdaptiveGzipOptions = {}): Readable {
  const gzip = Readable.from(gzipMember(source, options), { objectMode: false });
  // Also when the reader leaves before the source was first read from (ending it early does not reach it).
  gzip.once('close', () => source.destroy());
  return gzip;
}

async function* gzipMember(
  source: AsyncIterable<unknown>,
  options: AdaptiveGzipOptions,
): AsyncGenerator<Buffer> {
  const level = options.level ?? zlib.constants.Z_DEFAULT_COMPRESSION;
  const windowBytes = options.windowBytes ?? DEFAULT_WINDOW_BYTES;
  const sampleBytes = Math.min(options.sampleBytes ?? DEFAULT_SAMPLE_BYTES, windowBytes);
  const storeAboveRatio = options.storeAboveRatio ?? DEFAULT_STORE_ABOVE_RATIO;

  let crc = 0;
  let length = 0;
  let leftInWindow = 0;
  let storing = false;
  /** The start of the current window, held until it is judged. */
  let sample: Buffer[] = [];
  let sampled = 0;
  /** Bytes of a compressed run waiting to make up a piece. */
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  /** Output not yet yielded: stored blocks still point into the source's chunks (no copy until the yield). */
  const output = new OutputParts();

  const deflatePending = async (): Promise<void> => {
    if (pendingBytes === 0) return;
    const piece = Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    output.push(await deflateRaw(piece, { level, finishFlush: zlib.constants.Z_SYNC_FLUSH }));
  };
  /** Route bytes of the current window to the stored or the compressed path. */
  const emit = async (bytes: Buffer): Promise<void> => {
    if (storing) {
      pushStoredBlocks(output, bytes);
      return;
    }
    pending.push(bytes);
    pendingBytes += bytes.length;
    if (pendingBytes >= PIECE_BYTES) await deflatePending();
  };
  const judgeWindow = async (): Promise<void> => {
    const bytes = Buffer.concat(sample, sampled);
    sample = [];
    sampled = 0;
    const trial = await deflateRaw(bytes, { level: 1 });
    const store = trial.length >= bytes.length * storeAboveRatio;
    // A compressed run ends where storing starts.
    if (store && !storing) await deflatePending();
    storing = store;
    await emit(bytes);
  };

  yield GZIP_HEADER;
  for await (const data of source) {
    let chunk = data as Buffer;
    crc = zlib.crc32(chunk, crc);
    length += chunk.length;
    while (chunk.length > 0) {
      if (leftInWindow === 0) leftInWindow = windowBytes;
      const windowOffset = windowBytes - leftInWindow;
      const sampling = windowOffset < sampleBytes;
      const take = Math.min(chunk.length, sampling ? sampleBytes - windowOffset : leftInWindow);
      const piece = chunk.subarray(0, take);
      chunk = chunk.subarray(take);
      leftInWindow -= take;
      if (!sampling) {
        await emit(piece);
        continue;
      }
      sample.push(piece);
      sampled += take;
      if (sampled >= sampleBytes) await judgeWindow();
    }
    // Large writes: each chunk costs the HTTP response (and the client) a round of callbacks.
    if (output.bytes >= OUTPUT_CHUNK_BYTES) yield output.take();
  }
  if (sampled > 0) await judgeWindow();
  await deflatePending();
  if (output.bytes > 0) yield output.take();

  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(length % 2 ** 32, 4);
  yield Buffer.concat([FINAL_EMPTY_STORED_BLOCK, trailer]);
}

/** Output waiting to be yielded as one buffer. */
class OutputParts {
  #parts: Buffer[] = [];
  bytes = 0;

  push(part: Buffer): void {
    this.#parts.push(part);
    this.bytes += part.length;
  }

  /** Everything pushed, as one buffer (the one copy of stored bytes), and empty again. */
  take(): Buffer {
    const joined =
      this.#parts.length === 1 ? (this.#parts[0] as Buffer) : Buffer.concat(this.#parts, this.bytes);
    this.#parts = [];
    this.bytes = 0;
    return joined;
  }
}

/** `bytes` as non-final stored blocks: each a 5-byte header (BTYPE 00, LEN, NLEN) and up to 64 KiB. */
function pushStoredBlocks(output: OutputParts, bytes: Buffer): void {
  for (let offset = 0; offset < bytes.length; offset += STORED_BLOCK_BYTES) {
    const block = bytes.subarray(offset, offset + STORED_BLOCK_BYTES);
    const header = Buffer.alloc(5);
    header.writeUInt16LE(block.length, 1);
    header.writeUInt16LE(~block.length & 0xffff, 3);
    output.push(header);
    output.push(block);
  }
}
