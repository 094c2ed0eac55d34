// Turns a process's output stream into `log` events (Concourse's dbEventWriter, atc/engine/log_event_writer.go):
// text is emitted up to the last line break so a secret split across writes is still caught, multi-byte
// characters are never split, and an unfinished line is flushed after a while (minus anything that could
// still become a secret) so progress output shows up.
import { StringDecoder } from 'node:string_decoder';
import { Writable } from 'node:stream';
import type { Redactor } from './redactor.js';

export interface LogEventWriterOptions {
  /** How long an unfinished line may wait for its line break. Concourse: 1s. */
  partialLineFlushMs?: number;
  /** An unfinished line longer than this is flushed at once. */
  maxPendingChars?: number;
  /** Writes wait while this much redacted text is queued for the sink (backpressure on the process). */
  highWaterChars?: number;
}

export class LogEventWriter {
  private readonly decoder = new StringDecoder('utf8');
  /** Decoded text after the last line break, not yet redacted. */
  private pending = '';
  /** Redacted text waiting for the sink; batched while an emit is in flight. */
  private ready = '';
  private emitting: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly partialLineFlushMs: number;
  private readonly maxPendingChars: number;
  private readonly highWaterChars: number;

  constructor(
    private readonly emit: (payload: string) => Promise<void>,
    private readonly redactor: Redactor,
    options: LogEventWriterOptions = {},
  ) {
    this.partialLineFlushMs = options.partialLineFlushMs ?? 1000;
    this.maxPendingChars = options.maxPendingChars ?? 64 * 1024;
    this.highWaterChars = options.highWaterChars ?? 1024 * 1024;
  }

  /** A Writable to hand to the runtime as a process's stdout or stderr. */
  stream(): Writable {
    return new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        this.write(chunk).then(() => callback(), callback);
      },
    });
  }

  async write(chunk: Buffer | string): Promise<void> {
    this.pending += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const lineEnd = lastLineBreak(this.pending);
    if (lineEnd >= 0) {
      this.enqueue(this.redactor.redact(this.pending.slice(0, lineEnd + 1)));
      this.pending = this.pending.slice(lineEnd + 1);
    }
    if (this.pending.length > this.maxPendingChars) this.flushPartialLine();
    this.armTimer();
    if (this.ready.length > this.highWaterChars) await this.drained();
  }

  /** Emit everything, including an unfinished last line (and bytes of an incomplete character). */
  async close(): Promise<void> {
    this.disarmTimer();
    this.pending += this.decoder.end();
    if (this.pending !== '') this.enqueue(this.redactor.redact(this.pending));
    this.pending = '';
    await this.drained();
  }

  private flushPartialLine(): void {
    const cut = this.redactor.safeCut(this.pending);
    if (cut === 0) return;
    this.enqueue(this.redactor.redact(this.pending.slice(0, cut)));
    this.pending = this.pending.slice(cut);
  }

  private armTimer(): void {
    if (this.pending === '') {
      this.disarmTimer();
      return;
    }
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flushPartialLine();
    }, this.partialLineFlushMs);
    this.timer.unref();
  }

  private disarmTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private enqueue(text: string): void {
    if (text === '') return;
    this.ready += text;
    this.emitting ??= this.pump();
  }

  private async pump(): Promise<void> {
    try {
      while (this.ready !== '') {
        const payload = this.ready;
        this.ready = '';
        await this.emit(payload);
      }
    } finally {
      this.emitting = undefined;
    }
  }

  private async drained(): Promise<void> {
    while (this.emitting !== undefined) await this.emitting;
  }
}

/** Index of the last "\n", or of the last "\r" when there is none (progress bars), as Concourse cuts. */
function lastLineBreak(text: string): number {
  const newline = text.lastIndexOf('\n');
  return newline >= 0 ? newline : text.lastIndexOf('\r');
}
