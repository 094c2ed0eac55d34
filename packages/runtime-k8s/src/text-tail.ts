import { Writable } from 'node:stream';

/** Keeps the last `maxChars` characters written to it (a helper's report or error message), as text. */
export class TextTail extends Writable {
  private text = '';

  constructor(private readonly maxChars: number) {
    super();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.text = (this.text + chunk.toString('utf8')).slice(-this.maxChars);
    callback();
  }

  value(): string {
    return this.text.trim();
  }
}
