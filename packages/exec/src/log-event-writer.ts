// Turns a process's output stream into `log` events (Concourse's dbEventWriter, atc/engine/log_event_writer.go):
// text is emitted up to the last line break so a secret split across writes is still caught, multi-byte
// characters are never split, and an unfinished line is flushed after a while (minus anything that could
// still become a secret) so progress output shows up. Each emitted payload comes with the output's raw
// byte offset at its end (before redaction), so a web node collecting the step after a restart resumes the
// process's output right after what is already in the build log.
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
  /** Raw bytes of the output up to the end of what was handed to `enqueue` (before redaction). */
  private rawEnd = 0;
  private emitting: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly partialLineFlushMs: number;
  private readonly maxPendingChars: number;
  private readonly highWaterChars: number;

  constructor(
    /**
     * `rawOffset`: bytes of the process's raw output up to the end of `payload` — the byte length of the text
     * before redaction, always at a character boundary (for invalid UTF-8, of the text with its replacement
     * characters).
     */
    private readonly emit: (payload: string, rawOffset: number) => Promise<void>,
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
      this.enqueue(this.pending.slice(0, lineEnd + 1));
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
    if (this.pending !== '') this.enqueue(this.pending);
    this.pending = '';
    await this.drained();
  }

  private flushPartialLine(): void {
    const cut = this.redactor.safeCut(this.pending);
    if (cut === 0) return;
    this.enqueue(this.pending.slice(0, cut));
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

  /** Redact `raw` (decoded output, not yet redacted) and queue it for the sink. */
  private enqueue(raw: string): void {
    if (raw === '') return;
    this.rawEnd += Buffer.byteLength(raw, 'utf8');
    this.ready += this.redactor.redact(raw);
    this.emitting ??= this.pump();
  }

  private async pump(): Promise<void> {
    try {
      while (this.ready !== '') {
        const payload = this.ready;
        const rawOffset = this.rawEnd;
        this.ready = '';
        await this.emit(payload, rawOffset);
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
