import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/** Trailers the daemon sends after a tar body, so a reader can tell a complete, intact transfer from a cut one. */
export const SHA256_TRAILER = 'x-jetbridge-sha256';
export const BYTES_TRAILER = 'x-jetbridge-bytes';

/** Passes bytes through, counting and hashing them (SHA-256) on the way. */
export class DigestStream extends Transform {
  readonly #hash = createHash('sha256');
  bytes = 0;
  #digest: string | undefined;

  constructor(private readonly onFlush?: (digest: { sha256: string; bytes: number }) => Error | undefined) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    this.#hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    const error = this.onFlush?.({ sha256: this.sha256, bytes: this.bytes });
    callback(error ?? null);
  }

  /** The hex SHA-256 of everything that passed; only meaningful once the stream ended. */
  get sha256(): string {
    this.#digest ??= this.#hash.digest('hex');
    return this.#digest;
  }
}
