import { Readable, Writable } from 'node:stream';

// The frame protocol of jetbridge-helper (helper/frames.go): a type byte, a big-endian uint32 length, the
// payload. Output frames say which stream bytes belong to, so offsets are counted exactly and a dropped exec
// resumes without losing or repeating a byte.

export const FRAME = {
  // helper → JetBridge
  started: 'p',
  stdout: 'o',
  stderr: 'e',
  exit: 'x',
  error: 'E',
  heartbeat: 'h',
  // JetBridge → helper (spawn's stdin)
  spec: 'S',
  stdin: 'i',
  stdinEnd: 'z',
} as const;

export type FrameKind = (typeof FRAME)[keyof typeof FRAME];

const HEADER_BYTES = 5;
const MAX_PAYLOAD = 16 * 1024 * 1024;
/** Stdin chunks are cut to this so one frame never holds the socket for long. */
const MAX_STDIN_FRAME = 256 * 1024;

export function encodeFrame(kind: FrameKind, payload: Buffer | string = Buffer.alloc(0)): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header.write(kind, 0, 'latin1');
  header.writeUInt32BE(body.length, 1);
  return Buffer.concat([header, body]);
}

/**
 * spawn's stdin: the spec frame, then the process's stdin (if any) as `i` frames and a closing `z`. Framed,
 * the input ends by itself, so the exec works on v4.channel.k8s.io (no half-close) as well as v5.
 */
export function spawnInput(spec: unknown, stdin: Readable | undefined): Readable {
  async function* frames(): AsyncGenerator<Buffer> {
    yield encodeFrame(FRAME.spec, JSON.stringify(spec));
    if (stdin) {
      try {
        for await (const chunk of stdin) {
          const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
          for (let offset = 0; offset < bytes.length; offset += MAX_STDIN_FRAME) {
            yield encodeFrame(FRAME.stdin, bytes.subarray(offset, offset + MAX_STDIN_FRAME));
          }
        }
      } catch {
        // A failing stdin source ends the process's stdin, as a closed pipe would.
      }
    }
    yield encodeFrame(FRAME.stdinEnd);
  }
  return Readable.from(frames(), { objectMode: false });
}

/**
 * Decodes helper frames from an exec's stdout and hands each to `onFrame`; a returned promise holds the
 * stream (and through it the socket) until it settles, so a slow log consumer slows the exec down instead of
 * piling up output in memory. A frame cut by a dropped connection is never delivered.
 */
export class FrameDecoder extends Writable {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly onFrame: (kind: string, payload: Buffer) => void | Promise<void>) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    void this.drainFrames().then(() => callback(), callback);
  }

  private async drainFrames(): Promise<void> {
    while (this.pending.length >= HEADER_BYTES && !this.destroyed) {
      const length = this.pending.readUInt32BE(1);
      if (length > MAX_PAYLOAD) throw new Error(`helper frame of ${length} bytes is too large`);
      if (this.pending.length < HEADER_BYTES + length) return;
      const kind = String.fromCharCode(this.pending[0] ?? 0);
      const payload = this.pending.subarray(HEADER_BYTES, HEADER_BYTES + length);
      this.pending = this.pending.subarray(HEADER_BYTES + length);
      await this.onFrame(kind, payload);
    }
  }
}
