// Stream mode's outputs are received in a worker thread of their own. Why: a 200 MB output is 200 MB of
// short-lived buffers (each socket read, each reassembled WebSocket message). In the web's own heap, sized by
// the API's long-lived objects, they set off a full mark-compact every few tens of MB (the old generation's
// headroom is below the young generation's capacity, which V8 reads as "near the limit") and the transfer
// runs at half speed, while the API waits on the same collections. A thread with a small young generation
// scavenges them cheaply and never gets there. Measured in docs/performance.md ("Stream mode's output").
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { RuntimeError } from '@jetbridge/runtime';
import { revivedError } from './thread-errors.js';
import type { ExecKubeConfig } from '../exec/index.js';
import type { Logger } from '../logger.js';
import type { FromCollector, ToCollector, TransferredOutcome } from './collector-messages.js';
import { snapshotConnection } from './connection-snapshot.js';
import { receiveTarOut, type TarOutOutcome, type TarOutRequest } from './tar-out-receiver.js';

/** Receives one output's tar-out into a staging directory (artifact-transfer.ts interprets the outcome). */
export interface TarOutReceiver {
  receive(request: TarOutRequest, kubeConfig: ExecKubeConfig, signal?: AbortSignal): Promise<TarOutOutcome>;
  close(): Promise<void>;
}

/** On this thread: what runs where no collector thread can. */
export const receiveOnThisThread: TarOutReceiver = {
  receive: receiveTarOut,
  close: () => Promise.resolve(),
};

/**
 * The collector thread's young generation (MiB). What matters most is that the thread's heap holds nothing but
 * transfers (even V8's default did well); of 6, 16, 32 and the default, 16 measured best
 * (docs/performance.md) and bounds the thread's memory.
 */
export const COLLECTOR_YOUNG_GENERATION_MB = 16;

/**
 * The compiled entry. It sits next to this module once built; run from source (the test runner compiles
 * TypeScript in its own process, which a worker thread does not inherit) it comes from the build output.
 */
function entryPath(): string {
  const relative = import.meta.url.endsWith('.ts')
    ? '../../dist/stream/collector-thread-entry.js'
    : './collector-thread-entry.js';
  return fileURLToPath(new URL(relative, import.meta.url));
}

interface Pending {
  resolve(outcome: TarOutOutcome): void;
  reject(error: Error): void;
}

function revivedOutcome(transferred: TransferredOutcome): TarOutOutcome {
  const { execError, extractError, ...rest } = transferred;
  return {
    ...rest,
    ...(execError === undefined ? {} : { execError: revivedError(execError) }),
    ...(extractError === undefined ? {} : { extractError: revivedError(extractError) }),
  };
}

/**
 * One thread for all of a worker's output collections (they are I/O: one thread keeps many going), started on
 * first use and kept only while collections run (it does not hold the process open). If it dies, the
 * collections it ran fail with a RuntimeError and the next one starts a new thread.
 */
export class OutputCollectorThread implements TarOutReceiver {
  private thread: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private warnedNoEntry = false;

  constructor(
    private readonly logger: Logger,
    private readonly youngGenerationMb = COLLECTOR_YOUNG_GENERATION_MB,
    private readonly entry = entryPath(),
  ) {}

  async receive(
    request: TarOutRequest,
    kubeConfig: ExecKubeConfig,
    signal?: AbortSignal,
  ): Promise<TarOutOutcome> {
    if (this.closed) throw new RuntimeError('the output collector is closed');
    const connection = await snapshotConnection(kubeConfig);
    if (!connection || !this.entryExists()) return receiveTarOut(request, kubeConfig, signal);
    const thread = this.started();
    const id = this.nextId++;
    return new Promise<TarOutOutcome>((resolve, reject) => {
      const onAbort = () => thread.postMessage({ type: 'abort', id } satisfies ToCollector);
      const settled = () => {
        signal?.removeEventListener('abort', onAbort);
        this.pending.delete(id);
        if (this.pending.size === 0) this.thread?.unref();
      };
      this.pending.set(id, {
        resolve: (outcome) => {
          settled();
          resolve(outcome);
        },
        reject: (error) => {
          settled();
          reject(error);
        },
      });
      thread.ref();
      thread.postMessage({ type: 'receive', id, request, connection } satisfies ToCollector);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted) onAbort();
    });
  }

  /** Stops the thread; collections still running fail. */
  async close(): Promise<void> {
    this.closed = true;
    const thread = this.thread;
    this.thread = undefined;
    if (thread) await thread.terminate();
    this.failAll(new RuntimeError('the output collector was closed while collecting'));
  }

  private entryExists(): boolean {
    if (existsSync(this.entry)) return true;
    if (!this.warnedNoEntry) {
      this.warnedNoEntry = true;
      this.logger.warn(
        { entry: this.entry },
        'the output collector thread is not built: collecting outputs on the main thread',
      );
    }
    return false;
  }

  private started(): Worker {
    if (this.thread) return this.thread;
    const thread = new Worker(this.entry, {
      resourceLimits: { maxYoungGenerationSizeMb: this.youngGenerationMb },
    });
    thread.on('message', (message: FromCollector) => {
      this.pending.get(message.id)?.resolve(revivedOutcome(message.outcome));
    });
    thread.on('error', (error) => {
      this.logger.warn({ err: error.message }, 'the output collector thread failed');
      this.failAll(
        new RuntimeError(`the output collector thread failed: ${error.message}`, { cause: error }),
      );
    });
    thread.on('exit', (code) => {
      if (this.thread === thread) this.thread = undefined;
      this.failAll(new RuntimeError(`the output collector thread exited (code ${code}) while collecting`));
    });
    thread.unref();
    this.thread = thread;
    return thread;
  }

  private failAll(error: Error): void {
    for (const pending of [...this.pending.values()]) pending.reject(error);
  }
}
