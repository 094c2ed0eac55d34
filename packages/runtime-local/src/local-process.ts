import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { constants } from 'node:os';
import { ExecutableNotFoundError, RuntimeError } from '@jetbridge/runtime';
import type { Process, ProcessIO } from '@jetbridge/runtime';
import { OutputFanout } from './output-fanout.js';

export interface LocalProcessOptions {
  id: string;
  path: string;
  args: string[];
  /** Host directory the process starts in (exists). */
  cwd: string;
  /** The whole environment: nothing is inherited from the server. */
  env: Record<string, string>;
  io: ProcessIO;
  /** How long `terminate` waits for the process group before killing it. */
  terminateGraceMs: number;
}

/**
 * Once the main process has exited (and its group was killed), how long its output may stay idle before its
 * pipes are closed: only a process that left its group can still hold them open. Time spent waiting for a
 * slow reader does not count.
 */
const OUTPUT_IDLE_MS = 2_000;

/**
 * One step process running on the host. It is spawned `detached`, i.e. as the leader of its own process
 * group, so a signal reaches everything it started (`sh -c 'sleep 100'` included): `kill` is SIGKILL to the
 * group, `terminate` SIGTERM then SIGKILL after a grace period (Concourse's step abort: garden's
 * terminate-then-kill). When the main process exits, whatever it left running in its group is killed too:
 * a background job holding stdout open must neither hang the step (a classic Concourse hang) nor outlive it.
 * A process that escapes its group on purpose (`setsid`) is not tracked.
 */
export class LocalProcess implements Process {
  private exitedAlready = false;
  private terminateTimer: NodeJS.Timeout | undefined;
  private readonly status: Promise<number>;
  private readonly stdout: OutputFanout;
  private readonly stderr: OutputFanout;

  /** Spawn the process; rejects with ExecutableNotFoundError when `path` cannot be found. */
  static async start(options: LocalProcessOptions): Promise<LocalProcess> {
    const child = spawn(options.path, options.args, {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    // A process that stops reading its stdin must not take the server down with EPIPE.
    child.stdin.on('error', () => undefined);
    try {
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new ExecutableNotFoundError(options.path);
      throw new RuntimeError(`cannot run ${options.path}: ${(err as Error).message}`, { cause: err });
    }
    return new LocalProcess(options.id, child, options.io, options.terminateGraceMs);
  }

  private constructor(
    readonly id: string,
    private readonly child: ChildProcessWithoutNullStreams,
    io: ProcessIO,
    private readonly terminateGraceMs: number,
  ) {
    // Errors after the spawn (a failed kill) are answered by signal(); never crash on them.
    child.on('error', () => undefined);
    this.stdout = new OutputFanout(child.stdout);
    this.stderr = new OutputFanout(child.stderr);
    const outputClosed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    this.status = new Promise<number>((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitedAlready = true;
        clearTimeout(this.terminateTimer);
        this.signalGroup('SIGKILL', { quiet: true });
        const status = code ?? 128 + (signal ? constants.signals[signal] : 0);
        void outputDrained(outputClosed, [this.stdout, this.stderr]).then(() => {
          this.stdout.detachAll();
          this.stderr.detachAll();
          child.stdout.destroy();
          child.stderr.destroy();
          child.stdin.destroy();
          resolve(status);
        });
      });
    });
    this.attach(io, { initial: true });
  }

  /** Whether the main process still runs. */
  get running(): boolean {
    return !this.exitedAlready;
  }

  /** The process group id (the leader's pid), for leak checks. */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /**
   * Wire more streams to the process: output from now on, and stdin when it is still open. At start, a
   * process given no stdin reads end of file at once, as under `</dev/null`.
   */
  attach(io: ProcessIO, { initial }: { initial: boolean } = { initial: false }): void {
    this.stdout.add(io.stdout);
    this.stderr.add(io.stderr);
    const stdin = this.child.stdin;
    if (io.stdin) {
      if (stdin.writableEnded || stdin.destroyed) return;
      io.stdin.on('error', () => stdin.end());
      io.stdin.pipe(stdin);
    } else if (initial) {
      stdin.end();
    }
  }

  wait(): Promise<number> {
    return this.status;
  }

  async signal(signal: 'terminate' | 'kill'): Promise<void> {
    if (this.exitedAlready) return;
    if (signal === 'kill') {
      this.signalGroup('SIGKILL');
      return;
    }
    this.signalGroup('SIGTERM');
    this.terminateTimer ??= setTimeout(
      () => this.signalGroup('SIGKILL', { quiet: true }),
      this.terminateGraceMs,
    );
  }

  /** No pty without native code: a tty request runs the process on pipes, so there is nothing to resize. */
  async resize(): Promise<void> {}

  private signalGroup(signal: NodeJS.Signals, { quiet }: { quiet: boolean } = { quiet: false }): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ESRCH' || quiet) return; // ESRCH: the group is already gone
      // EPERM: no member of the group may be signalled by us (they all switched user, e.g. setuid).
      throw new RuntimeError(`cannot signal process ${this.id}: ${(err as Error).message}`, { cause: err });
    }
  }
}

/** Resolves once the output has closed, or has been idle (not held back by a reader) for OUTPUT_IDLE_MS. */
async function outputDrained(closed: Promise<void>, outputs: OutputFanout[]): Promise<void> {
  let isClosed = false;
  void closed.then(() => (isClosed = true));
  while (!isClosed && outputs.some((output) => output.idleFor() < OUTPUT_IDLE_MS)) {
    await Promise.race([closed, delay(100)]);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
