import type { IncomingMessage } from 'node:http';
import { constants as osConstants } from 'node:os';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { ApiError } from './api-error.js';
import type { ExecDrop } from '../faults.js';
import { resolveExecutable, spawnInSandbox } from '../kubelet/container-sandbox.js';
import type { ExecTarget, Kubelet } from '../kubelet/kubelet.js';

/** Channel numbers of the k8s channel protocol (first byte of each binary message). */
const STDIN = 0;
const STDOUT = 1;
const STDERR = 2;
const STATUS = 3;
const RESIZE = 4;
const CLOSE = 255;

export const V5_PROTOCOL = 'v5.channel.k8s.io';
export const V4_PROTOCOL = 'v4.channel.k8s.io';

/** Output bytes queued on the socket before the process's pipes are paused (the server's own backpressure). */
const OUTPUT_HIGH_WATER = 1024 * 1024;
const OUTPUT_LOW_WATER = 256 * 1024;
/**
 * Output read in one turn of the event loop is sent as one message of up to this many bytes: at the pipe's
 * 64 KiB reads, a 200 MB transfer is otherwise 3,200 messages, each a copy, a send and a callback here and a
 * message event (and stream write) in the client. The API server's frames are not 64 KiB either.
 */
const MAX_OUTPUT_FRAME = 1024 * 1024;
/** Messages at least this big are built in reused buffers, which hold a full message plus one pipe read. */
const POOLED_FRAME_MIN = 64 * 1024;
const POOLED_FRAME_CAPACITY = MAX_OUTPUT_FRAME + 64 * 1024;
/** Buffers kept for reuse, shared by all sessions (one session has about two in flight). */
const POOLED_FRAMES_KEPT = 8;

export interface ExecSessionInfo {
  id: number;
  namespace: string;
  pod: string;
  container: string;
  command: string[];
  protocol: string;
  stdin: boolean;
  tty: boolean;
  /** Host PID of the exec'd process (no PID namespace: visible in the host's /proc). */
  pid?: number;
  stdinBytes: number;
  stdoutBytes: number;
  stderrBytes: number;
  /** Most bytes ever queued on the socket at once, a measure of the server's backpressure. */
  maxQueuedOutputBytes: number;
  pingsReceived: number;
  stdinClosedByClient: boolean;
  state: 'running' | 'completed' | 'client-closed' | 'dropped';
  exitCode?: number;
}

export interface ExecRequest {
  namespace: string;
  pod: string;
  query: URLSearchParams;
}

function frame(channel: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.allocUnsafe(payload.length + 1);
  out[0] = channel;
  payload.copy(out, 1);
  return out;
}

/**
 * Output of one channel waiting to be sent, joined into one channel-protocol message when taken. Messages
 * are built in reused buffers (a fresh 1 MiB buffer per message is 200 MB of allocations for 200 MB of
 * output: V8 collects garbage for it over and over); a buffer comes back once the socket has written it.
 */
class PendingOutput {
  static readonly #free: Buffer[] = [];
  #channel = STDOUT;
  #parts: Buffer[] = [];
  bytes = 0;

  accepts(channel: number): boolean {
    return this.#parts.length === 0 || channel === this.#channel;
  }

  add(channel: number, payload: Buffer): void {
    this.#channel = channel;
    this.#parts.push(payload);
    this.bytes += payload.length;
  }

  /** The message (channel byte, then the payload), and what to call once it is written. */
  take(): { frame: Buffer; bytes: number; release: () => void } | undefined {
    if (this.#parts.length === 0) return undefined;
    const pooled = this.bytes >= POOLED_FRAME_MIN && this.bytes <= POOLED_FRAME_CAPACITY;
    const buffer = pooled
      ? (PendingOutput.#free.pop() ?? Buffer.allocUnsafeSlow(POOLED_FRAME_CAPACITY + 1))
      : Buffer.allocUnsafe(this.bytes + 1);
    buffer[0] = this.#channel;
    let offset = 1;
    for (const part of this.#parts) offset += part.copy(buffer, offset);
    const taken = {
      frame: buffer.subarray(0, offset),
      bytes: this.bytes,
      release: () => {
        if (pooled && PendingOutput.#free.length < POOLED_FRAMES_KEPT) PendingOutput.#free.push(buffer);
      },
    };
    this.#parts = [];
    this.bytes = 0;
    return taken;
  }
}

function flag(query: URLSearchParams, name: string): boolean {
  const value = query.get(name);
  return value === 'true' || value === '1';
}

/**
 * pods/exec over WebSocket with the real channel protocol: `v5.channel.k8s.io` (stdin half-close via a
 * `[255, 0]` message) and `v4.channel.k8s.io`; the exit status is a v1 Status JSON on channel 3 (Success, or
 * Failure/NonZeroExitCode with an ExitCode cause). Closing the socket does not kill the process, as on a real
 * cluster. Backpressure both ways: the socket is paused while the process's stdin is full, and the process's
 * stdout/stderr are paused while too much output is queued on the socket.
 */
export class ExecEndpoint {
  private readonly server: WebSocketServer;
  private readonly sessions: ExecSessionInfo[] = [];
  private nextId = 1;

  constructor(
    private readonly kubelet: Kubelet,
    private readonly protocols: readonly string[],
    private readonly takeDrop: () => Required<Omit<ExecDrop, 'count'>> | undefined,
  ) {
    this.server = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: 64 * 1024 * 1024,
      handleProtocols: (offered) => this.chooseProtocol([...offered]) ?? false,
    });
  }

  get history(): readonly ExecSessionInfo[] {
    return this.sessions;
  }

  /** The first protocol in the client's order that this server speaks (the wsstream handshake rule). */
  chooseProtocol(offered: readonly string[]): string | undefined {
    return offered.find((protocol) => this.protocols.includes(protocol));
  }

  /** Validates the request (throwing the API server's errors) and completes the WebSocket upgrade. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, request: ExecRequest): void {
    const { query } = request;
    const command = query.getAll('command');
    if (command.length === 0)
      throw ApiError.badRequest('you must specify at least one command for the container');
    const stdin = flag(query, 'stdin');
    const tty = flag(query, 'tty');
    if (!stdin && !flag(query, 'stdout') && !flag(query, 'stderr')) {
      throw ApiError.badRequest('you must specify at least 1 of stdin, stdout, stderr');
    }
    const target = this.kubelet.execTarget(request.namespace, request.pod, query.get('container'));
    const offered = (req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((each) => each.trim())
      .filter(Boolean);
    const protocol = this.chooseProtocol(offered);
    if (!protocol) {
      throw ApiError.badRequest(
        `unable to upgrade connection: requested protocol(s) are not supported: [${offered.join(' ')}]; supports [${this.protocols.join(' ')}]`,
      );
    }
    const info: ExecSessionInfo = {
      id: this.nextId++,
      namespace: request.namespace,
      pod: request.pod,
      container: target.container,
      command,
      protocol,
      stdin,
      tty,
      stdinBytes: 0,
      stdoutBytes: 0,
      stderrBytes: 0,
      maxQueuedOutputBytes: 0,
      pingsReceived: 0,
      stdinClosedByClient: false,
      state: 'running',
    };
    this.sessions.push(info);
    const drop = this.takeDrop();
    this.server.handleUpgrade(req, socket, head, (ws) => {
      void this.run(ws, target, info, drop).catch(() => ws.terminate());
    });
  }

  close(): void {
    for (const client of this.server.clients) client.terminate();
    this.server.close();
  }

  private async run(
    ws: WebSocket,
    target: ExecTarget,
    info: ExecSessionInfo,
    drop: Required<Omit<ExecDrop, 'count'>> | undefined,
  ): Promise<void> {
    ws.on('ping', () => (info.pingsReceived += 1));
    // Messages can arrive before the process exists (stdin sent right after the upgrade): hold them until then.
    const early: Buffer[] = [];
    const dispatch: { onMessage?: (data: Buffer) => void } = {};
    ws.on('message', (data: Buffer) => (dispatch.onMessage ? dispatch.onMessage(data) : early.push(data)));
    let finished = false;
    const beforeStatus: { flush?: () => void } = {};
    const sendStatus = (status: Record<string, unknown>): void => {
      beforeStatus.flush?.();
      finished = true;
      ws.send(frame(STATUS, Buffer.from(JSON.stringify({ metadata: {}, ...status }))), () => ws.close(1000));
    };
    if (!(await resolveExecutable(target.pid, info.command[0] ?? '', target.env.PATH ?? ''))) {
      info.state = 'completed';
      sendStatus({
        status: 'Failure',
        message: `Internal error occurred: error executing command in container: failed to exec in container: exec: "${info.command[0] ?? ''}": executable file not found in $PATH`,
        reason: 'InternalError',
        details: {
          causes: [{ message: `exec: "${info.command[0] ?? ''}": executable file not found in $PATH` }],
        },
        code: 500,
      });
      return;
    }
    const child = spawnInSandbox(target.pid, info.command, target.env, info.stdin);
    if (child.pid !== undefined) info.pid = child.pid;
    this.kubelet.trackExec(target.podUid, child);

    // Zero-length messages open the output channels, as the API server's stream layer does.
    ws.send(frame(STDOUT));
    ws.send(frame(STDERR));

    let queued = 0;
    const outputs = [child.stdout, child.stderr].filter((stream) => stream !== null);
    const cut = (): void => {
      info.state = 'dropped';
      finished = true;
      ws.terminate();
    };
    const pending = new PendingOutput();
    let dropAfterFlush = false;
    const flush = (): void => {
      const taken = pending.take();
      if (!taken) return;
      if (ws.readyState !== ws.OPEN) return taken.release();
      const dropNow = dropAfterFlush;
      ws.send(taken.frame, () => {
        taken.release();
        queued -= taken.bytes;
        if (dropNow) cut();
        else if (queued <= OUTPUT_LOW_WATER) for (const stream of outputs) stream.resume();
      });
    };
    let flushScheduled = false;
    const forward = (channel: number, data: Buffer): void => {
      if (finished) return;
      let payload = data;
      if (drop?.direction === 'output') {
        const sent = info.stdoutBytes + info.stderrBytes;
        if (sent + payload.length >= drop.afterBytes)
          payload = payload.subarray(0, Math.max(0, drop.afterBytes - sent));
      }
      if (channel === STDOUT) info.stdoutBytes += payload.length;
      else info.stderrBytes += payload.length;
      queued += payload.length;
      info.maxQueuedOutputBytes = Math.max(info.maxQueuedOutputBytes, queued);
      // Output of the other channel goes out first: the order of what the process wrote is kept.
      if (!pending.accepts(channel)) flush();
      pending.add(channel, payload);
      if (drop?.direction === 'output' && info.stdoutBytes + info.stderrBytes >= drop.afterBytes) {
        finished = true;
        dropAfterFlush = true;
        flush();
      } else if (pending.bytes >= MAX_OUTPUT_FRAME) {
        flush();
      } else if (!flushScheduled) {
        // libuv reads a busy pipe several times per poll: what arrived in this turn of the loop goes out
        // as one message, and a lone line of output is not held back.
        flushScheduled = true;
        setImmediate(() => {
          flushScheduled = false;
          flush();
        });
      }
      if (queued >= OUTPUT_HIGH_WATER) for (const stream of outputs) stream.pause();
    };
    beforeStatus.flush = flush;
    child.stdout?.on('data', (data: Buffer) => forward(STDOUT, data));
    child.stderr?.on('data', (data: Buffer) => forward(info.tty ? STDOUT : STDERR, data));
    child.stdin?.on('error', () => {
      // The process exited without reading all of its input: the rest is discarded, as with a real pipe.
    });

    let stdinPaused = false;
    const onMessage = (data: Buffer): void => {
      const channel = data[0];
      const payload = data.subarray(1);
      if (channel === STDIN) {
        info.stdinBytes += payload.length;
        if (drop?.direction === 'stdin' && info.stdinBytes >= drop.afterBytes) return cut();
        const stdin = child.stdin;
        if (stdin && !stdin.destroyed && !stdin.writableEnded && !stdin.write(payload) && !stdinPaused) {
          stdinPaused = true;
          ws.pause();
          stdin.once('drain', () => {
            stdinPaused = false;
            ws.resume();
          });
        }
      } else if (channel === CLOSE && info.protocol === V5_PROTOCOL && payload[0] === STDIN) {
        info.stdinClosedByClient = true;
        child.stdin?.end();
      } else if (channel === RESIZE) {
        // No pseudo-terminal here: a resize is accepted and ignored.
      }
    };
    dispatch.onMessage = onMessage;
    for (const data of early.splice(0)) onMessage(data);

    ws.on('close', () => {
      if (info.state === 'completed') return;
      // The client went away (or the connection was cut): the process keeps running, as on a real node, but
      // loses its pipes: its stdin reads end of file, its next write gets EPIPE.
      if (!finished) info.state = 'client-closed';
      finished = true;
      child.stdin?.destroy();
      for (const stream of outputs) stream.destroy();
    });

    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    const exitCode = exit.code ?? 128 + (exit.signal ? osConstants.signals[exit.signal] : 1);
    info.exitCode = exitCode;
    if (finished) return;
    info.state = 'completed';
    if (exitCode === 0) {
      sendStatus({ status: 'Success' });
    } else {
      sendStatus({
        status: 'Failure',
        message: `command terminated with non-zero exit code: error executing command [${info.command.join(' ')}], exit code ${exitCode}`,
        reason: 'NonZeroExitCode',
        details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
      });
    }
  }
}
