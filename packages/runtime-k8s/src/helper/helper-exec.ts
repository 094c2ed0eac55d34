import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { execInPod, type ExecKubeConfig, type ExecResult } from '../exec/index.js';
import { TextTail } from '../text-tail.js';
import { FrameDecoder } from './frames.js';

/** Where the helper runs: the step pod's main container, from the emptyDir the init container filled. */
export interface HelperTarget {
  kubeConfig: ExecKubeConfig;
  namespace: string;
  pod: string;
  container: string;
  /** Path of the helper binary inside the container. */
  helperPath: string;
}

/** What a helper exec is for, as metrics label it. */
export type HelperPurpose = 'spawn' | 'tail' | 'kill' | 'resize' | 'status' | 'tar-in' | 'tar-out';

/** The helper reported a failure with a code (`E` frame): not-found, exists, executable-not-found, lost… */
export class HelperFrameError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'HelperFrameError';
  }
}

const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * The name of a process's directory in the pod: the caller's id when it is a safe file name, else a hash of
 * it (the same for the same id, so a restarted web finds the process again).
 */
export function helperProcessId(id: string): string {
  return SAFE_ID.test(id) ? id : `h-${createHash('sha256').update(id).digest('hex').slice(0, 40)}`;
}

export interface FramedExecOutcome {
  result?: ExecResult;
  error?: unknown;
  stderr: string;
}

/**
 * Runs a helper subcommand that answers in frames. Resolves (never rejects) once the exec ended and every
 * frame it delivered has been handled; a frame cut off by a dropped connection is not delivered.
 * Always sends stdin (an empty one if none): some runtimes end an exec without stdin after its first output
 * (kata-containers #13640); helper input is self-delimiting, so v4 servers work too.
 */
export async function execHelperFramed(
  target: HelperTarget,
  args: string[],
  options: {
    stdin?: Readable;
    onFrame: (kind: string, payload: Buffer) => void | Promise<void>;
    signal?: AbortSignal;
  },
): Promise<FramedExecOutcome> {
  const decoder = new FrameDecoder(options.onFrame);
  const stderr = new TextTail(4096);
  try {
    const result = await execInPod({
      kubeConfig: target.kubeConfig,
      namespace: target.namespace,
      pod: target.pod,
      container: target.container,
      command: [target.helperPath, ...args],
      stdin: options.stdin ?? Readable.from([]),
      stdinIsSelfDelimiting: true,
      stdout: decoder,
      stderr,
      endOutputs: false,
      killOnAbort: false,
      pingIntervalMs: 15_000,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    await new Promise<void>((resolve, reject) => {
      decoder.once('error', reject);
      decoder.end(resolve);
    });
    return { result, stderr: stderr.value() };
  } catch (error) {
    decoder.destroy();
    return { error, stderr: stderr.value() };
  }
}

/** Runs a helper subcommand with plain output (kill, resize, status). */
export async function execHelper(
  target: HelperTarget,
  args: string[],
  options: { signal?: AbortSignal } = {},
): Promise<{ exitCode: number; stdout: string; stderr: string; result: ExecResult }> {
  const chunks: Buffer[] = [];
  const stdout = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  const stderr = new TextTail(4096);
  const result = await execInPod({
    kubeConfig: target.kubeConfig,
    namespace: target.namespace,
    pod: target.pod,
    container: target.container,
    command: [target.helperPath, ...args],
    stdin: Readable.from([]),
    stdinIsSelfDelimiting: true,
    stdout,
    stderr,
    killOnAbort: false,
    signal: options.signal ?? AbortSignal.timeout(30_000),
  });
  return {
    exitCode: result.exitCode,
    stdout: Buffer.concat(chunks).toString('utf8'),
    stderr: stderr.value(),
    result,
  };
}
