import type { Writable } from 'node:stream';

/**
 * The writables a process's stdout (or stderr) goes to: the caller's, plus those of later attaches. Never
 * ended (the Worker contract: the caller owns its streams); a sink that errors or closes is dropped; a full
 * sink holds the exec (and through it the helper) until it drains.
 */
export class OutputSinks {
  private readonly sinks = new Set<Writable>();

  add(sink: Writable | undefined): void {
    if (sink === undefined || this.sinks.has(sink) || sink.destroyed || sink.writableEnded) return;
    this.sinks.add(sink);
    const drop = (): void => {
      this.sinks.delete(sink);
    };
    sink.once('close', drop);
    sink.on('error', drop);
  }

  async write(chunk: Buffer): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const sink of this.sinks) {
      if (sink.destroyed || sink.writableEnded) {
        this.sinks.delete(sink);
        continue;
      }
      if (!sink.write(chunk)) {
        waits.push(
          new Promise<void>((resolve) => {
            const done = (): void => {
              sink.off('drain', done);
              sink.off('close', done);
              sink.off('error', done);
              resolve();
            };
            sink.on('drain', done);
            sink.on('close', done);
            sink.on('error', done);
          }),
        );
      }
    }
    if (waits.length > 0) await Promise.all(waits);
  }
}
