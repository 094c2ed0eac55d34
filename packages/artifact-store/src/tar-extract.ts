import { PassThrough, pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import tarStream from 'tar-stream';
import { ArchiveEntryWriter } from './archive-entry-writer.js';
import { ContainedTree } from './contained-tree.js';
import {
  ArtifactStoreError,
  ArtifactTooLargeError,
  CorruptArchiveError,
  InvalidArtifactPathError,
} from './errors.js';
import { existingArtifactDirectory, normalizeSubpath, type ArtifactLocation } from './location.js';
import { drainedOrClosed } from './stream-events.js';

export interface ExtractOptions {
  /** The stream is gzip'd (fly uploads are). */
  gzip?: boolean;
  /** Limit on the uncompressed tar bytes (headers included); crossing it fails with ArtifactTooLargeError. */
  maxBytes?: number;
}

export interface ExtractResult {
  /** Entries in the archive, skipped ones included. */
  entries: number;
  /** Uncompressed tar bytes read. */
  bytes: number;
  /** Names of entries deliberately not extracted (devices, FIFOs). */
  skipped: string[];
}

// The end-of-archive marker: two zero blocks. Without it, a stream cut at an entry boundary looks complete.
const END_OF_ARCHIVE_BYTES = 1024;

/**
 * Stream a tar (optionally gzip'd) into `subpath` of an artifact (or any directory), safely: see
 * {@link ArchiveEntryWriter} for what is refused. Nothing outside `location` is ever written.
 *
 * Fails with {@link ArtifactTooLargeError} as soon as more than `maxBytes` were inflated (a gzip bomb costs
 * at most `maxBytes` plus a chunk), {@link UnsafeArchiveError} for an entry that would escape,
 * {@link CorruptArchiveError} for a truncated or malformed stream (including one that lacks the end-of-archive
 * marker). On failure, what was already extracted stays (the caller owns the directory:
 * `ArtifactStore.allocateFromTar` deletes it), and `input` is unpiped but neither drained nor destroyed,
 * so an HTTP server can still answer with the error's status.
 *
 * @example
 *   await extractTar(artifact, '.', request.raw, { gzip: true, maxBytes: 1 << 30 });
 */
export async function extractTar(
  location: ArtifactLocation,
  subpath: string,
  input: Readable,
  options: ExtractOptions = {},
): Promise<ExtractResult> {
  const root = await existingArtifactDirectory(location);
  const destination = normalizeSubpath(subpath);
  const tree = new ContainedTree(root);
  await tree.ensureDirectory(
    destination,
    (reason) => new InvalidArtifactPathError(`cannot extract into '${subpath}': ${reason}`),
  );
  if (input.destroyed && !input.readableEnded) {
    throw new CorruptArchiveError('the upload was aborted before it started');
  }

  const writer = new ArchiveEntryWriter(tree, destination);
  const limit = options.maxBytes;
  const extract = tarStream.extract();
  type ArchiveEntry = typeof extract extends AsyncIterable<infer E> ? E : never;
  let failure: unknown;
  // A parse error of tar-stream's own; also keeps streamx from throwing an unhandled 'error'.
  let archiveError: unknown;
  extract.on('error', (err: unknown) => {
    if (err !== failure) archiveError ??= err;
  });

  // Our own intake stage, so failing never destroys the caller's stream.
  const intake = new PassThrough();
  const decoded: Readable = options.gzip
    ? pipeline(intake, createGunzip({ chunkSize: 64 * 1024 }), () => {})
    : intake;
  const onInputError = (err: unknown) =>
    intake.destroy(
      new CorruptArchiveError('the upload failed before the archive was complete', { cause: err }),
    );
  const onInputClose = () => {
    if (!input.readableEnded)
      intake.destroy(new CorruptArchiveError('the upload ended before the archive was complete'));
  };
  input.on('error', onInputError);
  input.on('close', onInputClose);
  input.pipe(intake);

  const fail = (err: unknown) => {
    failure ??= err;
    extract.destroy(err instanceof Error ? err : undefined);
    decoded.destroy();
    intake.destroy();
  };
  let bytes = 0;

  const feed = async () => {
    try {
      for await (const chunk of decoded as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        if (limit !== undefined && bytes > limit) throw new ArtifactTooLargeError(limit);
        if (extract.destroyed) return;
        if (!extract.write(chunk)) await drainedOrClosed(extract);
      }
      if (!extract.destroyed) extract.end(null);
    } catch (err) {
      fail(
        err instanceof ArtifactStoreError
          ? err
          : new CorruptArchiveError(describeDecodeFailure(err), { cause: err }),
      );
    }
  };

  const consume = async () => {
    const entries = extract[Symbol.asyncIterator]();
    try {
      for (;;) {
        let next: IteratorResult<ArchiveEntry>;
        try {
          next = await entries.next();
        } catch (err) {
          throw asCorrupt(err);
        }
        if (next.done) return;
        await writer.write(next.value.header, next.value);
      }
    } catch (err) {
      fail(err);
    }
  };

  try {
    await Promise.all([feed(), consume()]);
  } finally {
    input.unpipe(intake);
    input.off('error', onInputError);
    input.off('close', onInputClose);
  }
  if (failure !== undefined) {
    await writer.abandon();
    // A broken archive also breaks the entry being written; report the cause, not the symptom.
    if (!(failure instanceof ArtifactStoreError) && archiveError !== undefined) throw asCorrupt(archiveError);
    throw failure;
  }
  if (bytes - writer.endOfLastEntry < END_OF_ARCHIVE_BYTES) {
    await writer.abandon();
    throw new CorruptArchiveError('the archive is truncated: it ends without the end-of-archive marker');
  }
  await writer.finish();
  return { entries: writer.entries, bytes, skipped: writer.skipped };
}

function asCorrupt(err: unknown): ArtifactStoreError {
  if (err instanceof ArtifactStoreError) return err;
  const message = errorMessage(err);
  return new CorruptArchiveError(
    /unexpected end of data/i.test(message)
      ? 'the archive is truncated'
      : `not a valid tar archive: ${message}`,
    { cause: err },
  );
}

function describeDecodeFailure(err: unknown): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (code === 'Z_BUF_ERROR') return 'the gzip stream is truncated';
  if (typeof code === 'string' && code.startsWith('Z_'))
    return `not a valid gzip stream: ${errorMessage(err)}`;
  return `the archive could not be read: ${errorMessage(err)}`;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
