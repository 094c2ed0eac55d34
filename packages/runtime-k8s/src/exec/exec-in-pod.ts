import { createHash, randomUUID, type Hash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type https from 'node:https';
import { Writable, type Readable } from 'node:stream';
import WebSocket, { type ClientOptions } from 'ws';
import {
  CLOSE_CHANNEL,
  encodeFrame,
  parseStatus,
  protocolName,
  protocolOf,
  STATUS_CHANNEL,
  STDERR_CHANNEL,
  STDIN_CHANNEL,
  STDOUT_CHANNEL,
  type ExecProtocol,
  type ExecStatus,
} from './channel-protocol.js';
import {
  ExecAbortedError,
  ExecConnectionLostError,
  ExecFailedError,
  ExecProtocolError,
  ExecStreamError,
  ExecUpgradeError,
  ExecVerificationError,
  type ExecTarget,
} from './errors.js';
import { FrameBufferPool, type PooledFrame } from './frame-buffers.js';
import {
  killableCommand,
  killCommand,
  parseKillOutcome,
  type KillOutcome,
  type KillSignal,
} from './remote-kill.js';

/**
 * The part of client-node's `KubeConfig` the transport uses: the current cluster's URL, and credentials/TLS
 * applied to request options. Any `KubeConfig` (client-node 1.x or 2.x) fits.
 */
export interface ExecKubeConfig {
  getCurrentCluster(): { server: string } | null;
  applyToHTTPSOptions(options: https.RequestOptions): Promise<void>;
}

/** How an abort reaches the remote process (see remote-kill.ts). */
export interface KillOnAbort {
  /** Where the wrapped command records its PID inside the container. Default `/tmp/.jetbridge-exec-<uuid>.pid`. */
  pidFile?: string;
  /** First signal; SIGKILL follows after `graceMs`. Default TERM. */
  signal?: KillSignal;
  /** Default 2000. */
  graceMs?: number;
  /** Upper bound for the kill exec itself. Default 15000. */
  timeoutMs?: number;
}

export interface ExecInPodOptions {
  /** Cluster, credentials and TLS come from here (client-node's `applyToHTTPSOptions`). */
  kubeConfig: ExecKubeConfig;
  namespace: string;
  pod: string;
  /** Required when the pod has several containers. */
  container?: string;
  command: readonly string[];
  /**
   * Sent on channel 0 with backpressure (the source is not read while the socket's buffer is above the mark).
   * Each chunk is copied into a frame before the next is asked for, so a source may lend its buffers
   * (artifact-store's lendTarChunks).
   */
  stdin?: Readable | AsyncIterable<Uint8Array | string>;
  /**
   * On v4 the server cannot be told that stdin ended; only a command that stops reading by itself (a tar reader,
   * `boundedStdinCommand`) works there. Without this flag, an exec with stdin insists on v5.
   */
  stdinIsSelfDelimiting?: boolean;
  /** Destinations of channels 1 and 2; when full, the socket is paused. Output without a destination is counted and dropped. */
  stdout?: Writable;
  stderr?: Writable;
  /** End stdout/stderr when the exec completes and wait for them to finish. Default true. */
  endOutputs?: boolean;
  /** Asks for a TTY: the server merges stderr into stdout (no resize support). */
  tty?: boolean;
  /** Default 'auto': offer v5 then v4 (v5 only when stdin needs a half-close). */
  protocol?: ExecProtocol | 'auto';
  /** Aborting kills the remote process through a second exec (unless killOnAbort is false), then rejects. */
  signal?: AbortSignal;
  /** Default enabled: wraps the command in `sh -c` to record its PID. `false` for containers without a shell. */
  killOnAbort?: KillOnAbort | false;
  /** WebSocket ping period; a session with two unanswered pings is lost. Default 30000; 0 disables. */
  pingIntervalMs?: number;
  /** Socket buffer size (bytes) above which the stdin source is paused. Default 1 MiB. */
  sendHighWaterMark?: number;
  /** Compute sha256 of the stdin sent and of the stdout received. */
  digest?: boolean;
  /** Checked once the command exits 0; a mismatch rejects with ExecVerificationError. */
  expect?: { stdinBytes?: number; stdoutBytes?: number; stdoutSha256?: string };
  /** WebSocket handshake timeout. Default 30000. */
  connectTimeoutMs?: number;
}

export interface ExecResult {
  /** From the channel-3 status frame: 0 for Success, the ExitCode cause for NonZeroExitCode. */
  exitCode: number;
  protocol: ExecProtocol;
  stdinBytes: number;
  stdoutBytes: number;
  stderrBytes: number;
  /** With `digest: true`. */
  stdinSha256?: string;
  stdoutSha256?: string;
  pingsSent: number;
  durationMs: number;
}

const DEFAULT_PING_INTERVAL_MS = 30_000;
const DEFAULT_SEND_HIGH_WATER = 1024 * 1024;
/** Large stdin chunks are cut so that one frame never monopolises the socket (1 MiB: a file read's chunk). */
const MAX_FRAME_PAYLOAD = 1024 * 1024;

function execPath(options: ExecInPodOptions, command: readonly string[]): string {
  const query = new URLSearchParams();
  for (const part of command) query.append('command', part);
  if (options.container) query.set('container', options.container);
  query.set('stdout', 'true');
  if (!options.tty) query.set('stderr', 'true');
  if (options.stdin) query.set('stdin', 'true');
  if (options.tty) query.set('tty', 'true');
  const namespace = encodeURIComponent(options.namespace);
  const pod = encodeURIComponent(options.pod);
  return `/api/v1/namespaces/${namespace}/pods/${pod}/exec?${query.toString()}`;
}

function offeredProtocols(options: ExecInPodOptions, target: ExecTarget): ExecProtocol[] {
  const needsHalfClose = options.stdin !== undefined && !options.stdinIsSelfDelimiting;
  const requested = options.protocol ?? 'auto';
  if (requested === 'v4' && needsHalfClose) {
    throw new ExecProtocolError(
      target,
      'v4.channel.k8s.io cannot signal the end of stdin; make stdin self-delimiting (boundedStdinCommand) and set stdinIsSelfDelimiting',
    );
  }
  if (requested !== 'auto') return [requested];
  return needsHalfClose ? ['v5'] : ['v5', 'v4'];
}

async function readBody(response: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Opens the exec WebSocket with the kubeconfig's credentials; resolves once the upgrade succeeded. */
async function connect(
  options: ExecInPodOptions,
  target: ExecTarget,
  command: readonly string[],
  protocols: ExecProtocol[],
): Promise<WebSocket> {
  const cluster = options.kubeConfig.getCurrentCluster();
  if (!cluster) throw new ExecProtocolError(target, 'the kubeconfig has no current cluster');
  const base = cluster.server
    .replace(/^https:/, 'wss:')
    .replace(/^http:/, 'ws:')
    .replace(/\/$/, '');
  const clientOptions: ClientOptions & https.RequestOptions = {};
  await options.kubeConfig.applyToHTTPSOptions(clientOptions);
  const ws = new WebSocket(`${base}${execPath(options, command)}`, protocols.map(protocolName), {
    ...clientOptions,
    perMessageDeflate: false,
    // An all-zero masking key: frames are still masked as RFC 6455 requires of a client, but ws then skips
    // XOR-ing (and copying) every stdin byte of a large transfer. Masking defends
    // proxies against script in a browser choosing the bytes on the wire; this client is no browser.
    generateMask: (mask: Buffer) => {
      mask.fill(0);
    },
    handshakeTimeout: options.connectTimeoutMs ?? 30_000,
    maxPayload: 64 * 1024 * 1024,
  });
  return new Promise<WebSocket>((resolve, reject) => {
    const onAbort = (): void => {
      ws.terminate();
      reject(new ExecAbortedError(target, false));
    };
    let refused = false;
    const settle = (): void => options.signal?.removeEventListener('abort', onAbort);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();
    ws.once('open', () => {
      settle();
      resolve(ws);
    });
    ws.once('unexpected-response', (request, response) => {
      refused = true;
      settle();
      void readBody(response)
        .then(
          (body) => {
            let message = body.trim() || (response.statusMessage ?? '');
            let reason: string | undefined;
            try {
              const status = JSON.parse(body) as { message?: unknown; reason?: unknown };
              if (typeof status.message === 'string') message = status.message;
              if (typeof status.reason === 'string') reason = status.reason;
            } catch {
              // not a Status object: keep the raw body
            }
            reject(new ExecUpgradeError(target, response.statusCode ?? 0, message, reason));
          },
          (error: unknown) =>
            reject(
              new ExecConnectionLostError(
                target,
                'upgrade response unreadable',
                { stdin: 0, stdout: 0, stderr: 0 },
                undefined,
                { cause: error },
              ),
            ),
        )
        .finally(() => request.destroy());
    });
    ws.on('error', (error) => {
      if (refused) return;
      settle();
      reject(
        new ExecConnectionLostError(
          target,
          `could not connect: ${error.message}`,
          { stdin: 0, stdout: 0, stderr: 0 },
          undefined,
          { cause: error },
        ),
      );
    });
  });
}

/**
 * Runs a command in a pod container over the exec WebSocket and resolves with its exit code, which comes only
 * from the channel-3 status frame: a socket that ends without one rejects with ExecConnectionLostError, never
 * a success. v5 half-closes stdin with a `[255, 0]` frame and keeps reading output; v4 sends stdin and never
 * closes early (the input must be self-delimiting). Backpressure both ways: the stdin source is not read while the
 * socket buffer is above `sendHighWaterMark`; the socket is paused while stdout/stderr are full.
 *
 * @example
 *   const result = await execInPod({ kubeConfig, namespace: 'ci', pod, container: 'helper',
 *     command: ['tar', 'xf', '-', '-C', '/artifacts/a1'], stdin: tarStream, digest: true });
 *   if (result.exitCode !== 0) throw new Error(`tar exited ${result.exitCode}`);
 */
export async function execInPod(options: ExecInPodOptions): Promise<ExecResult> {
  const started = Date.now();
  const target: ExecTarget = { namespace: options.namespace, pod: options.pod, command: options.command };
  if (options.container) target.container = options.container;
  if (options.command.length === 0) throw new ExecProtocolError(target, 'empty command');
  const protocols = offeredProtocols(options, target);
  const kill = options.killOnAbort === false ? undefined : (options.killOnAbort ?? {});
  const pidFile = kill ? (kill.pidFile ?? `/tmp/.jetbridge-exec-${randomUUID()}.pid`) : undefined;
  const command = pidFile ? killableCommand(options.command, pidFile) : [...options.command];
  if (options.signal?.aborted) throw new ExecAbortedError(target, false);

  const killRemote = async (): Promise<boolean> => {
    if (!kill || !pidFile) return false;
    try {
      const outcome = await killRemoteProcess({
        kubeConfig: options.kubeConfig,
        namespace: options.namespace,
        pod: options.pod,
        ...(options.container ? { container: options.container } : {}),
        pidFile,
        signal: kill.signal ?? 'TERM',
        graceMs: kill.graceMs ?? 2000,
        timeoutMs: kill.timeoutMs ?? 15_000,
      });
      return outcome !== undefined;
    } catch {
      return false;
    }
  };

  let ws: WebSocket;
  try {
    ws = await connect(options, target, command, protocols);
  } catch (error) {
    // The upgrade may have completed on the server before the abort: make sure nothing keeps running.
    if (error instanceof ExecAbortedError) throw new ExecAbortedError(target, await killRemote());
    throw error;
  }
  const negotiated = protocolOf(ws.protocol);
  if (!negotiated || !protocols.includes(negotiated)) {
    ws.terminate();
    throw new ExecProtocolError(
      target,
      `server negotiated "${ws.protocol}", offered ${protocols.join(', ')}`,
    );
  }
  return runSession(ws, negotiated, options, target, pidFile, killRemote, started);
}

function runSession(
  ws: WebSocket,
  protocol: ExecProtocol,
  options: ExecInPodOptions,
  target: ExecTarget,
  pidFile: string | undefined,
  killRemote: () => Promise<boolean>,
  started: number,
): Promise<ExecResult> {
  const highWater = options.sendHighWaterMark ?? DEFAULT_SEND_HIGH_WATER;
  const stdinHash: Hash | undefined = options.digest ? createHash('sha256') : undefined;
  const stdoutHash: Hash | undefined =
    options.digest || options.expect?.stdoutSha256 !== undefined ? createHash('sha256') : undefined;
  const counts = { stdin: 0, stdout: 0, stderr: 0 };
  let pingsSent = 0;
  let settled = false;
  let socketError: Error | undefined;
  const blockedOutputs = new Set<Writable>();
  const sendWaiters: (() => void)[] = [];
  const timers: NodeJS.Timeout[] = [];

  return new Promise<ExecResult>((resolve, reject) => {
    const cleanup = (): void => {
      settled = true;
      for (const timer of timers) clearInterval(timer);
      options.signal?.removeEventListener('abort', onAbort);
      for (const wake of sendWaiters.splice(0)) wake();
      for (const [destination, listener] of outputErrorListeners) destination.off('error', listener);
    };

    const fail = (error: Error, killFirst = false): void => {
      if (settled) return;
      cleanup();
      ws.terminate();
      if (!killFirst) {
        reject(error);
        return;
      }
      void killRemote().then(() => reject(error));
    };

    const onAbort = (): void => {
      if (settled) return;
      cleanup();
      ws.terminate();
      void killRemote().then((remoteKilled) =>
        reject(new ExecAbortedError(target, remoteKilled, { cause: options.signal?.reason })),
      );
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) {
      onAbort();
      return;
    }

    // --- output: channels 1 and 2, with the socket paused while a destination is full
    const write = (destination: Writable | undefined, payload: Buffer): void => {
      if (!destination) return;
      if (!destination.write(payload) && !blockedOutputs.has(destination)) {
        blockedOutputs.add(destination);
        ws.pause();
        destination.once('drain', () => {
          blockedOutputs.delete(destination);
          if (blockedOutputs.size === 0 && !settled) ws.resume();
        });
      }
    };
    const outputErrorListeners = new Map<Writable, (error: Error) => void>();
    for (const destination of new Set([options.stdout, options.stderr])) {
      if (!destination) continue;
      const listener = (error: Error): void =>
        fail(new ExecStreamError(target, `output stream failed: ${error.message}`, { cause: error }), true);
      outputErrorListeners.set(destination, listener);
      destination.on('error', listener);
    }

    const finish = async (status: ExecStatus): Promise<void> => {
      if (settled) return;
      cleanup();
      ws.close(1000);
      try {
        if (options.endOutputs !== false) {
          await Promise.all(
            [...new Set([options.stdout, options.stderr])]
              .filter((stream): stream is Writable => stream !== undefined)
              .map(
                (stream) =>
                  new Promise<void>((done, failed) => {
                    if (stream.writableFinished) return done();
                    stream.once('finish', done);
                    stream.once('error', failed);
                    stream.end();
                  }),
              ),
          );
        }
      } catch (error) {
        reject(
          new ExecStreamError(target, `output stream failed: ${(error as Error).message}`, { cause: error }),
        );
        return;
      }
      if (status.kind === 'failed') {
        reject(new ExecFailedError(target, status.reason, status.message, status.code));
        return;
      }
      const result: ExecResult = {
        exitCode: status.exitCode,
        protocol,
        stdinBytes: counts.stdin,
        stdoutBytes: counts.stdout,
        stderrBytes: counts.stderr,
        pingsSent,
        durationMs: Date.now() - started,
      };
      if (stdinHash) result.stdinSha256 = stdinHash.digest('hex');
      if (stdoutHash) result.stdoutSha256 = stdoutHash.digest('hex');
      const expected = options.expect;
      if (expected && result.exitCode === 0) {
        const checks: [string, string | number | undefined, string | number | undefined][] = [
          ['stdin byte count', expected.stdinBytes, result.stdinBytes],
          ['stdout byte count', expected.stdoutBytes, result.stdoutBytes],
          ['stdout sha256', expected.stdoutSha256, result.stdoutSha256],
        ];
        for (const [what, want, got] of checks) {
          if (want !== undefined && want !== got) {
            reject(new ExecVerificationError(target, what, want, got ?? 'not computed'));
            return;
          }
        }
      }
      resolve(result);
    };

    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (settled) return;
      if (!isBinary || data.length === 0) return;
      const payload = data.subarray(1);
      switch (data[0]) {
        case STDOUT_CHANNEL:
          counts.stdout += payload.length;
          stdoutHash?.update(payload);
          write(options.stdout, payload);
          break;
        case STDERR_CHANNEL:
          counts.stderr += payload.length;
          write(options.stderr, payload);
          break;
        case STATUS_CHANNEL:
          void finish(parseStatus(payload));
          break;
        default:
          // CLOSE frames from the server and unknown channels carry nothing we act on.
          break;
      }
    });
    ws.on('error', (error) => (socketError = error));
    ws.on('close', (code, reason) => {
      if (settled) return;
      const detail = socketError
        ? `socket error: ${socketError.message}`
        : `socket closed with code ${code}${reason.length > 0 ? ` (${reason.toString()})` : ''}`;
      fail(
        new ExecConnectionLostError(
          target,
          detail,
          { ...counts },
          pidFile,
          socketError ? { cause: socketError } : undefined,
        ),
      );
    });

    // --- liveness: pings; two unanswered in a row lose the session (not while we paused the socket ourselves)
    const pingInterval = options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS;
    if (pingInterval > 0) {
      let unanswered = 0;
      ws.on('pong', () => (unanswered = 0));
      timers.push(
        setInterval(() => {
          if (blockedOutputs.size > 0) {
            unanswered = 0;
            return;
          }
          if (unanswered >= 2) {
            fail(
              new ExecConnectionLostError(
                target,
                `no pong for ${2 * pingInterval} ms`,
                { ...counts },
                pidFile,
              ),
              true,
            );
            return;
          }
          unanswered += 1;
          pingsSent += 1;
          ws.ping();
        }, pingInterval),
      );
    }

    // --- input: channel 0 with backpressure on the socket's buffered amount, then the v5 half-close
    const frames = new FrameBufferPool(MAX_FRAME_PAYLOAD);
    const send = ({ frame, release }: PooledFrame): Promise<void> =>
      new Promise<void>((sent) => {
        ws.send(frame, () => {
          release();
          if (ws.bufferedAmount < highWater / 2) for (const wake of sendWaiters.splice(0)) wake();
        });
        if (ws.bufferedAmount < highWater) sent();
        else sendWaiters.push(sent);
      });
    const pumpStdin = async (): Promise<void> => {
      const source = options.stdin;
      if (!source) return;
      try {
        for await (const chunk of source) {
          if (settled) return;
          const bytes: Uint8Array = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array);
          for (let offset = 0; offset < bytes.length && !settled; offset += MAX_FRAME_PAYLOAD) {
            const piece = bytes.subarray(offset, offset + MAX_FRAME_PAYLOAD);
            counts.stdin += piece.length;
            stdinHash?.update(piece);
            await send(frames.frame(STDIN_CHANNEL, piece));
          }
        }
      } catch (error) {
        fail(
          new ExecStreamError(target, `stdin source failed: ${(error as Error).message}`, { cause: error }),
          true,
        );
        return;
      }
      if (settled) return;
      if (protocol === 'v5') ws.send(encodeFrame(CLOSE_CHANNEL, Uint8Array.of(STDIN_CHANNEL)));
    };
    void pumpStdin();
  });
}

export interface KillRemoteProcessOptions {
  kubeConfig: ExecKubeConfig;
  namespace: string;
  pod: string;
  container?: string;
  /** The PID file a `killableCommand` wrote (execInPod's `killOnAbort.pidFile`, or `ExecConnectionLostError.pidFile`). */
  pidFile: string;
  signal?: KillSignal;
  graceMs?: number;
  timeoutMs?: number;
}

/**
 * Kills a process started with `killableCommand` through a second exec: sends `signal`, waits `graceMs`, then
 * SIGKILL. Resolves with what it found; rejects when the kill exec itself fails.
 */
export async function killRemoteProcess(options: KillRemoteProcessOptions): Promise<KillOutcome | undefined> {
  const chunks: Buffer[] = [];
  const stdout = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  const result = await execInPod({
    kubeConfig: options.kubeConfig,
    namespace: options.namespace,
    pod: options.pod,
    ...(options.container ? { container: options.container } : {}),
    command: killCommand(options.pidFile, options.signal ?? 'TERM', options.graceMs ?? 2000),
    stdout,
    killOnAbort: false,
    signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
  });
  if (result.exitCode !== 0) return undefined;
  return parseKillOutcome(Buffer.concat(chunks).toString('utf8'));
}
