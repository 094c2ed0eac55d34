// A tar writer for hostile archives: every header field is written as given (names with `..`, absolute
// paths, links anywhere), and fields a real archiver would never write can be forced (a size the data does
// not have, a broken checksum, a huge pax record). Well-formed input gives POSIX ustar + pax archives that
// GNU tar and fly's Go archive/tar read.
export interface RawEntry {
  name: string;
  /** `0` file, `5` directory, `2` symlink, `1` hard link, `6` fifo, `3` character device, `x` pax header… */
  type: string;
  content?: Buffer;
  linkname?: string;
  mode?: number;
  /** Written in the size field instead of the content's length (the data written stays `content`). */
  sizeField?: string;
  /** Spoils the header checksum. */
  badChecksum?: boolean;
}

const BLOCK = 512;

function field(target: Buffer, offset: number, length: number, text: string): void {
  Buffer.from(text, 'utf8').subarray(0, length).copy(target, offset);
}

function octal(value: number, length: number): string {
  return `${value.toString(8).padStart(length - 1, '0')}\0`;
}

function header(entry: RawEntry, size: number): Buffer {
  const block = Buffer.alloc(BLOCK);
  field(block, 0, 100, entry.name);
  field(block, 100, 8, octal(entry.mode ?? (entry.type === '5' ? 0o755 : 0o644), 8));
  field(block, 108, 8, octal(1000, 8));
  field(block, 116, 8, octal(1000, 8));
  field(block, 124, 12, entry.sizeField ?? octal(size, 12));
  field(block, 136, 12, octal(1_700_000_000, 12));
  block.fill(' ', 148, 156);
  field(block, 156, 1, entry.type);
  field(block, 157, 100, entry.linkname ?? '');
  field(block, 257, 6, 'ustar\0');
  field(block, 263, 2, '00');
  let sum = 0;
  for (const byte of block) sum += byte;
  field(block, 148, 8, `${(entry.badChecksum ? sum + 1 : sum).toString(8).padStart(6, '0')}\0 `);
  return block;
}

function padded(data: Buffer): Buffer {
  const rest = data.length % BLOCK;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(BLOCK - rest)]);
}

/** A pax record `<len> <key>=<value>\n`, its length counting itself. */
export function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let length = Buffer.byteLength(body) + 1;
  while (String(length).length + Buffer.byteLength(body) !== length) length += 1;
  return `${length}${body}`;
}

/** The archive, with a pax header before entries whose name or link does not fit ustar. */
export function rawTar(entries: RawEntry[], options: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const content = entry.content ?? Buffer.alloc(0);
    const long = Buffer.byteLength(entry.name) > 99 || Buffer.byteLength(entry.linkname ?? '') > 99;
    if (long && entry.type !== 'x') {
      const pax = Buffer.from(
        paxRecord('path', entry.name) + (entry.linkname ? paxRecord('linkpath', entry.linkname) : ''),
      );
      parts.push(header({ name: 'PaxHeader', type: 'x' }, pax.length), padded(pax));
    }
    parts.push(header(entry, content.length), padded(content));
  }
  if (options.end !== false) parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}
