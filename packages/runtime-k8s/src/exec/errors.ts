/** Which exec an error is about, for messages and logs. */
export interface ExecTarget {
  namespace: string;
  pod: string;
  container?: string;
  command: readonly string[];
}

function describe(target: ExecTarget): string {
  const container = target.container ? `/${target.container}` : '';
  return `exec in ${target.namespace}/${target.pod}${container} [${target.command.join(' ')}]`;
}

/** Every exec failure carries an HTTP status (for the API layer) and the exec it concerns. */
export abstract class ExecError extends Error {
  abstract readonly httpStatus: number;

  constructor(
    readonly target: ExecTarget,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${describe(target)}: ${message}`, options);
    this.name = new.target.name;
  }
}

/** The API server refused the WebSocket upgrade (pod not found, forbidden, 5xx…). */
export class ExecUpgradeError extends ExecError {
  constructor(
    target: ExecTarget,
    readonly httpStatus: number,
    readonly serverMessage: string,
    readonly reason?: string,
  ) {
    super(target, `upgrade refused with HTTP ${httpStatus}: ${serverMessage}`);
  }
}

/**
 * The socket ended without a status frame (dropped connection, proxy, no pong): the outcome is unknown and must
 * never be read as success. The remote process may still be running; `pidFile` locates it for a kill.
 */
export class ExecConnectionLostError extends ExecError {
  readonly httpStatus = 502;

  constructor(
    target: ExecTarget,
    detail: string,
    readonly bytes: { stdin: number; stdout: number; stderr: number },
    readonly pidFile?: string,
    options?: { cause?: unknown },
  ) {
    super(
      target,
      `connection lost before the exit status (${detail}; stdin ${bytes.stdin} B sent, stdout ${bytes.stdout} B, stderr ${bytes.stderr} B received)`,
      options,
    );
  }
}

/** The status frame reported a failure other than a non-zero exit (e.g. executable not found). */
export class ExecFailedError extends ExecError {
  constructor(
    target: ExecTarget,
    readonly reason: string,
    readonly serverMessage: string,
    readonly httpStatus: number = 500,
  ) {
    super(target, `${reason}: ${serverMessage}`);
  }
}

/** The server could not speak what this exec needs (e.g. only v4 while stdin needs a half-close). */
export class ExecProtocolError extends ExecError {
  readonly httpStatus = 502;
}

/** The transfer completed but its byte count or checksum is not what the caller expected. */
export class ExecVerificationError extends ExecError {
  readonly httpStatus = 502;

  constructor(
    target: ExecTarget,
    readonly what: string,
    readonly expected: string | number,
    readonly actual: string | number,
  ) {
    super(target, `${what} mismatch: expected ${expected}, got ${actual}`);
  }
}

/** A local stream (the stdin source or an output destination) failed. */
export class ExecStreamError extends ExecError {
  readonly httpStatus = 500;
}

/** The caller aborted; `remoteKilled`: a second exec confirmed the remote process is gone (killed, exited, or never to start). */
export class ExecAbortedError extends ExecError {
  readonly httpStatus = 499;

  constructor(
    target: ExecTarget,
    readonly remoteKilled: boolean,
    options?: { cause?: unknown },
  ) {
    super(
      target,
      remoteKilled ? 'aborted; remote process killed' : 'aborted; remote process not killed',
      options,
    );
  }
}
