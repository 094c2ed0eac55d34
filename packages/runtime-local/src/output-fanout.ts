import type { Readable, Writable } from 'node:stream';

/**
 * Copies one process output (stdout or stderr) to every attached writable, without ever ending them
 * (the Worker contract: the caller owns its streams). A sink that errors or closes is dropped; a slow sink
 * pauses the output (backpressure reaches the process), as a single pipe would. With no sink the output
 * is discarded, so a process never blocks on a full pipe nobody reads.
 */
export class OutputFanout {
  private readonly sinks = new Map<Writable, () => void>();
  private readonly awaitingDrain = new Map<Writable, () => void>();
  private lastActivity = Date.now();

  constructor(private readonly source: Readable) {
    source.on('data', (chunk: Buffer) => this.write(chunk));
  }

  /**
   * Milliseconds since output last moved; 0 while a sink holds it back (the output is not idle then:
   * it waits for a slow reader, and cutting it off would lose what the process wrote).
   */
  idleFor(): number {
    return this.awaitingDrain.size > 0 ? 0 : Date.now() - this.lastActivity;
  }

  add(sink: Writable | undefined): void {
    if (sink === undefined || this.sinks.has(sink) || sink.destroyed || sink.writableEnded) return;
    const drop = () => this.remove(sink);
    sink.on('error', drop);
    sink.on('close', drop);
    this.sinks.set(sink, drop);
  }

  /** Stop writing to every sink and release them (the process ended and its output is drained). */
  detachAll(): void {
    for (const sink of [...this.sinks.keys()]) this.remove(sink);
  }

  private write(chunk: Buffer): void {
    this.lastActivity = Date.now();
    for (const sink of this.sinks.keys()) {
      if (sink.destroyed || sink.writableEnded) {
        this.remove(sink);
        continue;
      }
      if (!sink.write(chunk) && !this.awaitingDrain.has(sink)) {
        const onDrain = () => this.drained(sink);
        this.awaitingDrain.set(sink, onDrain);
        sink.once('drain', onDrain);
      }
    }
    if (this.awaitingDrain.size > 0) this.source.pause();
  }

  private drained(sink: Writable): void {
    this.lastActivity = Date.now();
    this.awaitingDrain.delete(sink);
    if (this.awaitingDrain.size === 0) this.source.resume();
  }

  private remove(sink: Writable): void {
    const drop = this.sinks.get(sink);
    if (drop === undefined) return;
    this.sinks.delete(sink);
    sink.off('error', drop);
    sink.off('close', drop);
    const onDrain = this.awaitingDrain.get(sink);
    if (onDrain !== undefined) {
      sink.off('drain', onDrain);
      this.drained(sink);
    }
  }
}
