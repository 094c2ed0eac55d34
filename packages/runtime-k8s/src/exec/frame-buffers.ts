import { encodeFrame } from './channel-protocol.js';

/** A channel-protocol message, and what to call once the socket has written it. */
export interface PooledFrame {
  frame: Buffer;
  release(): void;
}

/**
 * Reuses the buffers of large stdin frames. A fresh 1 MiB buffer per frame is 200 MB of allocations for a
 * 200 MB transfer: the allocator hands back fresh pages (a page fault and a zeroed page each 4 KiB) and V8
 * counts them as external memory, which brings garbage collections forward. A buffer is taken back only once
 * the socket reports the frame written, so a frame in flight is never overwritten.
 */
export class FrameBufferPool {
  readonly #free: Buffer[] = [];

  constructor(
    /** Largest payload a pooled buffer holds. */
    private readonly capacity: number,
    /** Buffers kept for reuse (more in flight at once are allocated, then dropped). */
    private readonly keep = 4,
    /** Payloads below this are framed in a plain allocation (Node's own pool serves them). */
    private readonly minPooled = 64 * 1024,
  ) {}

  frame(channel: number, payload: Uint8Array): PooledFrame {
    if (payload.length < this.minPooled || payload.length > this.capacity) {
      return { frame: encodeFrame(channel, payload), release: () => undefined };
    }
    const buffer = this.#free.pop() ?? Buffer.allocUnsafeSlow(this.capacity + 1);
    buffer[0] = channel;
    buffer.set(payload, 1);
    let released = false;
    return {
      frame: buffer.subarray(0, payload.length + 1),
      release: () => {
        if (released) return;
        released = true;
        if (this.#free.length < this.keep) this.#free.push(buffer);
      },
    };
  }
}
