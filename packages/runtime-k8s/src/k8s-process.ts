import type { Readable } from 'node:stream';
import { ExecutableNotFoundError, RuntimeError } from '@jetbridge/runtime';
import type { Process, ProcessIO } from '@jetbridge/runtime';
import { spawnInput } from './helper/frames.js';
import {
  execHelper,
  execHelperFramed,
  HelperFrameError,
  helperProcessId,
  type FramedExecOutcome,
  type HelperPurpose,
  type HelperTarget,
} from './helper/helper-exec.js';
import type { Logger } from './logger.js';
import type { K8sRuntimeMetrics } from './metrics.js';
import { OutputSinks } from './output-sinks.js';

/** What spawn receives as its first stdin frame (helper/spec.go). */
export interface HelperProcessSpec {
  path: string;
  args: string[];
  env: Record<string, string>;
  containerEnv?: Record<string, string>;
  dir: string;
  user?: string;
  stdin: boolean;
  tty?: { rows: number; columns: number };
}

/** What a process needs from its container. */
export interface ProcessHost {
  readonly handle: string;
  readonly target: HelperTarget;
  readonly metrics: K8sRuntimeMetrics;
  readonly logger: Logger;
  readonly terminateGraceMs: number;
  /** Aborted when the pod can no longer run processes (failed, deleted, destroyed, worker disconnected). */
  readonly lifecycle: AbortSignal;
  /** Why processes cannot go on, from a fresh read of the pod; undefined while they can. */
  verdict(): Promise<RuntimeError | undefined>;
  /** A process ended (recorded on the pod, for the reaper's keep-for-hijack). */
  exited(id: string, status: number): void;
  /**
   * stream mode: brings the container's outputs into the web's store; a process's wait() resolves only once
   * they are there (the engine reads outputs right after it), and rejects when they cannot be collected.
   */
  collectOutputs?(): Promise<void>;
}

interface StreamOutcome {
  progressed: boolean;
  frameError?: HelperFrameError;
  exec: FramedExecOutcome;
}

type StartResult = { ok: true } | { ok: false; error: unknown };

interface HelperStream {
  started: Promise<StartResult>;
  done: Promise<StreamOutcome>;
}

/** Byte offsets in a step process's stdout and stderr (as the helper keeps them in files in the pod). */
export interface OutputOffsets {
  stdout: number;
  stderr: number;
}

/** Consecutive resumptions without a byte of progress before the process is given up on. */
const MAX_FRUITLESS_RESUMES = 30;
const START_ATTEMPTS = 3;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * A step process in a pod. It runs detached under the helper's supervisor, its output appended to files in
 * the pod and its exit status written to a file when it ends; this object only follows it, over one exec
 * (`spawn`, then `tail` from the byte offsets received so far after any dropped connection). So a lost socket
 * neither duplicates nor loses output, and the exit status comes only from the status file — never from an
 * exec's own outcome.
 */
export class K8sProcess implements Process {
  readonly helperId: string;
  private readonly stdout = new OutputSinks();
  private readonly stderr = new OutputSinks();
  private readonly offsets = { stdout: 0, stderr: 0 };
  private readonly status: Promise<number>;
  private resolveStatus: (status: number) => void = () => {};
  private rejectStatus: (error: Error) => void = () => {};
  private settled = false;
  private terminateTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly host: ProcessHost,
    readonly id: string,
    io: ProcessIO,
    private readonly tty: boolean,
  ) {
    this.helperId = helperProcessId(id);
    this.status = new Promise<number>((resolve, reject) => {
      this.resolveStatus = resolve;
      this.rejectStatus = reject;
    });
    // Reported through wait(); nobody waiting must not crash the server.
    this.status.catch(() => undefined);
    this.attachIO(io);
  }

  /** Starts `spec` in the pod; resolves once the helper reports it running. */
  static async spawn(
    host: ProcessHost,
    id: string,
    spec: HelperProcessSpec,
    io: ProcessIO,
  ): Promise<K8sProcess> {
    const process = new K8sProcess(host, id, io, spec.tty !== undefined);
    await process.start(spec, io.stdin);
    return process;
  }

  /**
   * Follows a process this object did not start (another web, before a restart): output from now on — or,
   * with `from`, from those byte offsets of its stdout and stderr (what a previous web node already logged) —
   * then its exit status, which may already be there.
   */
  static async attach(
    host: ProcessHost,
    id: string,
    io: ProcessIO,
    from?: OutputOffsets,
  ): Promise<K8sProcess> {
    const process = new K8sProcess(host, id, io, false);
    host.metrics.reattached('attach');
    const position =
      from === undefined
        ? ['--from-end']
        : [`--stdout-offset=${from.stdout}`, `--stderr-offset=${from.stderr}`];
    const stream = process.open('tail', ['tail', `--id=${process.helperId}`, ...position]);
    const started = await stream.started;
    if (!started.ok) throw await process.errorFor(started.error);
    void process.follow(stream.done);
    return process;
  }

  get running(): boolean {
    return !this.settled;
  }

  /** More output destinations (attach to a process this object already follows). */
  attachIO(io: ProcessIO): void {
    this.stdout.add(io.stdout);
    this.stderr.add(io.stderr);
  }

  wait(): Promise<number> {
    return this.status;
  }

  async signal(signal: 'terminate' | 'kill'): Promise<void> {
    if (this.settled) return;
    if (signal === 'kill') {
      await this.sendSignal('KILL');
      return;
    }
    await this.sendSignal('TERM');
    this.terminateTimer ??= setTimeout(() => {
      if (!this.settled) this.sendSignal('KILL').catch(() => undefined);
    }, this.host.terminateGraceMs);
  }

  async resize(size: { rows: number; columns: number }): Promise<void> {
    if (!this.tty || this.settled) return;
    await this.runHelper('resize', [
      'resize',
      `--id=${this.helperId}`,
      `--rows=${size.rows}`,
      `--columns=${size.columns}`,
    ]);
  }

  /** Ends the process's wait() with `error` (its container is gone or the worker let go of it). */
  abandon(error: RuntimeError): void {
    this.fail(error);
  }

  private async start(spec: HelperProcessSpec, stdin: Readable | undefined): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const stream = this.open('spawn', ['spawn', `--id=${this.helperId}`], spawnInput(spec, stdin));
      const started = await stream.started;
      if (started.ok) {
        void this.follow(stream.done);
        return;
      }
      const error = started.error;
      if (error instanceof HelperFrameError) {
        // `exists` after a lost first attempt: that attempt did start it, so follow it from the beginning.
        if (error.code === 'exists' && attempt > 1 && (await this.followFromStart())) return;
        throw await this.errorFor(error, spec.path);
      }
      const verdict = await this.host.verdict().catch(() => undefined);
      if (verdict) throw verdict;
      // stdin already consumed cannot be sent again: a process that started without it must not run on.
      if (stdin !== undefined) {
        await this.sendSignal('KILL').catch(() => undefined);
        throw new RuntimeError(
          `cannot start ${spec.path} in container ${this.host.handle}: ${describeError(error)} (its stdin cannot be sent again)`,
          { cause: error },
        );
      }
      if (attempt >= START_ATTEMPTS) {
        throw new RuntimeError(
          `cannot start ${spec.path} in container ${this.host.handle}: ${describeError(error)}`,
          { cause: error },
        );
      }
      // The connection may have dropped after the helper started it.
      try {
        if (await this.followFromStart()) return;
      } catch (probeError) {
        throw new RuntimeError(
          `cannot start ${spec.path} in container ${this.host.handle}: ${describeError(error)}; then: ${describeError(probeError)}`,
          { cause: error },
        );
      }
      await delay(200 * attempt);
    }
  }

  /** Follows the process from its first byte if it exists; false when the helper has no such process. */
  private async followFromStart(): Promise<boolean> {
    const stream = this.open('tail', [
      'tail',
      `--id=${this.helperId}`,
      '--stdout-offset=0',
      '--stderr-offset=0',
    ]);
    const started = await stream.started;
    if (started.ok) {
      void this.follow(stream.done);
      return true;
    }
    if (started.error instanceof HelperFrameError && started.error.code === 'not-found') return false;
    throw await this.errorFor(started.error);
  }

  /** Keeps following after the first exec: resume from the offsets until the exit frame or a verdict. */
  private async follow(first: Promise<StreamOutcome>): Promise<void> {
    let outcome = await first;
    let fruitless = 0;
    while (!this.settled) {
      if (outcome.frameError) {
        this.fail(await this.errorFor(outcome.frameError));
        return;
      }
      const verdict = await this.host.verdict().catch(() => undefined);
      if (this.settled) return;
      if (verdict) {
        this.fail(verdict);
        return;
      }
      fruitless = outcome.progressed ? 1 : fruitless + 1;
      if (fruitless > MAX_FRUITLESS_RESUMES) {
        this.fail(
          new RuntimeError(
            `lost process ${this.id} in container ${this.host.handle}: ${describeError(outcome.exec.error ?? outcome.exec.stderr)}`,
          ),
        );
        return;
      }
      this.host.logger.info(
        {
          container: this.host.handle,
          process: this.id,
          offsets: { ...this.offsets },
          err: describeError(outcome.exec.error ?? `helper exited ${outcome.exec.result?.exitCode}`),
        },
        'stream of a step process ended early; resuming from its offsets',
      );
      this.host.metrics.reattached('reconnect');
      await delay(Math.min(5_000, 100 * 2 ** (fruitless - 1)));
      if (this.settled) return;
      const stream = this.open('tail', [
        'tail',
        `--id=${this.helperId}`,
        `--stdout-offset=${this.offsets.stdout}`,
        `--stderr-offset=${this.offsets.stderr}`,
      ]);
      outcome = await stream.done;
    }
  }

  /** One helper exec whose frames feed this process's outputs, offsets and status. */
  private open(purpose: HelperPurpose, args: string[], stdin?: Readable): HelperStream {
    let progressed = false;
    let frameError: HelperFrameError | undefined;
    let reportStart: (result: StartResult) => void = () => {};
    const started = new Promise<StartResult>((resolve) => (reportStart = resolve));
    const began = Date.now();
    const done = execHelperFramed(this.host.target, args, {
      ...(stdin ? { stdin } : {}),
      signal: this.host.lifecycle,
      onFrame: async (kind, payload) => {
        switch (kind) {
          case 'p': {
            const info = JSON.parse(payload.toString('utf8')) as { stdout: number; stderr: number };
            this.offsets.stdout = info.stdout;
            this.offsets.stderr = info.stderr;
            reportStart({ ok: true });
            break;
          }
          case 'o':
            progressed = true;
            this.offsets.stdout += payload.length;
            await this.stdout.write(payload);
            break;
          case 'e':
            progressed = true;
            this.offsets.stderr += payload.length;
            await this.stderr.write(payload);
            break;
          case 'x': {
            progressed = true;
            const exit = JSON.parse(payload.toString('utf8')) as { status: number };
            this.finish(exit.status);
            break;
          }
          case 'E': {
            const error = JSON.parse(payload.toString('utf8')) as { code: string; message: string };
            frameError = new HelperFrameError(error.code, error.message);
            reportStart({ ok: false, error: frameError });
            break;
          }
          default:
            break; // heartbeats
        }
      },
    }).then((exec): StreamOutcome => {
      this.host.metrics.exec(purpose, {
        sent: exec.result?.stdinBytes ?? 0,
        received: (exec.result?.stdoutBytes ?? 0) + (exec.result?.stderrBytes ?? 0),
        seconds: (Date.now() - began) / 1000,
      });
      reportStart({
        ok: false,
        error:
          frameError ??
          exec.error ??
          new Error(`the helper exited ${exec.result?.exitCode ?? '?'} without starting: ${exec.stderr}`),
      });
      return { progressed, exec, ...(frameError ? { frameError } : {}) };
    });
    return { started, done };
  }

  private async errorFor(error: unknown, path?: string): Promise<RuntimeError> {
    if (error instanceof HelperFrameError) {
      switch (error.code) {
        case 'executable-not-found':
          return new ExecutableNotFoundError(path ?? error.message);
        case 'exists':
          return new RuntimeError(`process ${this.id} already exists in container ${this.host.handle}`);
        case 'not-found':
          return new RuntimeError(`no process ${this.id} in container ${this.host.handle}`);
        default:
          return new RuntimeError(`process ${this.id} in container ${this.host.handle}: ${error.message}`);
      }
    }
    const verdict = await this.host.verdict().catch(() => undefined);
    if (verdict) return verdict;
    if (error instanceof RuntimeError) return error;
    return new RuntimeError(`process ${this.id} in container ${this.host.handle}: ${describeError(error)}`, {
      cause: error,
    });
  }

  private async sendSignal(name: 'TERM' | 'KILL'): Promise<void> {
    try {
      await this.runHelper('kill', ['kill', `--id=${this.helperId}`, `--signal=${name}`]);
    } catch (error) {
      if (this.settled) return;
      // A pod that is gone took the process with it.
      if (await this.host.verdict().catch(() => undefined)) return;
      throw error;
    }
  }

  private async runHelper(purpose: HelperPurpose, args: string[]): Promise<void> {
    const began = Date.now();
    let outcome;
    try {
      outcome = await execHelper(this.host.target, args);
    } catch (error) {
      throw new RuntimeError(`${purpose} of process ${this.id} failed: ${describeError(error)}`, {
        cause: error,
      });
    }
    this.host.metrics.exec(purpose, {
      sent: 0,
      received: outcome.result.stdoutBytes + outcome.result.stderrBytes,
      seconds: (Date.now() - began) / 1000,
    });
    if (outcome.exitCode !== 0) {
      throw new RuntimeError(
        `${purpose} of process ${this.id} failed: ${outcome.stderr || `exit ${outcome.exitCode}`}`,
      );
    }
  }

  private finish(status: number): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.terminateTimer);
    this.host.exited(this.id, status);
    if (!this.host.collectOutputs) {
      this.resolveStatus(status);
      return;
    }
    this.host.collectOutputs().then(
      () => this.resolveStatus(status),
      (error: unknown) =>
        this.rejectStatus(
          error instanceof RuntimeError
            ? error
            : new RuntimeError(`cannot collect the outputs of process ${this.id}: ${describeError(error)}`, {
                cause: error,
              }),
        ),
    );
  }

  private fail(error: RuntimeError): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.terminateTimer);
    this.rejectStatus(error);
  }
}
