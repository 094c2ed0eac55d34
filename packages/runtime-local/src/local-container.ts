import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { RuntimeError } from '@jetbridge/runtime';
import type {
  Container,
  ContainerInfo,
  ContainerMetadata,
  Process,
  ProcessIO,
  ProcessSpec,
} from '@jetbridge/runtime';
import type { ContainerLayout } from './container-layout.js';
import { LocalProcess } from './local-process.js';
import { recordProcessGroup } from './process-records.js';
import { removeTree } from './remove-tree.js';

export interface LocalContainerOptions {
  /** `ContainerSpec.env`: every process gets it. */
  env: Record<string, string>;
  /** PATH handed to processes: the server's own (the host is the image). */
  hostPath: string;
  terminateGraceMs: number;
  /** Called once the container is gone, so the worker forgets it. */
  onDestroyed(handle: string): void;
}

/** Finished processes kept for `attach` (their exit status); the oldest are forgotten beyond this. */
const FINISHED_PROCESSES_KEPT = 100;
/** How long destroy waits for a killed process to be reaped before removing the directory anyway. */
const KILLED_PROCESS_WAIT_MS = 10_000;

/** A step's container on the host: a directory layout (see ContainerLayout) and the processes run in it. */
export class LocalContainer implements Container {
  private state: 'created' | 'destroying' | 'failed' = 'created';
  private readonly processes = new Map<string, LocalProcess>();
  private readonly startingIds = new Set<string>();
  private destroying: Promise<void> | undefined;

  constructor(
    readonly handle: string,
    readonly metadata: ContainerMetadata,
    private readonly layout: ContainerLayout,
    private readonly options: LocalContainerOptions,
  ) {}

  info(workerName: string): ContainerInfo {
    return { handle: this.handle, workerName, state: this.state, metadata: this.metadata };
  }

  async run(spec: ProcessSpec, io: ProcessIO): Promise<Process> {
    this.assertUsable();
    const id = spec.id ?? randomUUID();
    if (this.startingIds.has(id) || this.processes.get(id)?.running) {
      throw new RuntimeError(`process ${id} is already running in container ${this.handle}`);
    }
    this.startingIds.add(id);
    try {
      const cwd = this.layout.hostPathOf(spec.dir ?? '.');
      await mkdir(cwd, { recursive: true });
      const started = await LocalProcess.start({
        id,
        path: this.layout.executablePathOf(spec.path),
        args: spec.args,
        cwd,
        // Only PATH comes from the server, never the rest of its environment (credentials live there).
        // PWD lets shells keep the logical path through symlinked mounts.
        env: {
          PATH: this.options.hostPath,
          HOME: this.layout.homeDir,
          PWD: cwd,
          ...this.options.env,
          ...spec.env,
        },
        io,
        terminateGraceMs: this.options.terminateGraceMs,
      });
      // So a worker restarted after a crash can stop it (see process-records.ts).
      if (started.pid !== undefined) {
        await recordProcessGroup(this.layout.containerDir, started.pid).catch(() => undefined);
      }
      if (this.state !== 'created') {
        // Destroyed while this one was starting: it must not outlive the container.
        await started.signal('kill');
        throw new RuntimeError(`container ${this.handle} was destroyed`);
      }
      this.remember(started);
      return started;
    } finally {
      this.startingIds.delete(id);
    }
  }

  async attach(processId: string, io: ProcessIO): Promise<Process> {
    const proc = this.processes.get(processId);
    if (proc === undefined) throw new RuntimeError(`no process ${processId} in container ${this.handle}`);
    proc.attach(io);
    return proc;
  }

  destroy(): Promise<void> {
    this.destroying ??= this.tearDown().catch((err: unknown) => {
      this.state = 'failed';
      this.destroying = undefined; // the next destroy() tries again
      throw err;
    });
    return this.destroying;
  }

  /** Process group ids of the processes still running (for leak checks in tests). */
  runningProcessGroups(): number[] {
    return [...this.processes.values()].flatMap((p) => (p.running && p.pid !== undefined ? [p.pid] : []));
  }

  private async tearDown(): Promise<void> {
    this.state = 'destroying';
    const running = [...this.processes.values()].filter((proc) => proc.running);
    await Promise.all(
      running.map(async (proc) => {
        await proc.signal('kill').catch(() => undefined);
        await Promise.race([
          proc.wait(),
          new Promise((resolve) => setTimeout(resolve, KILLED_PROCESS_WAIT_MS).unref()),
        ]);
      }),
    );
    try {
      await removeTree(this.layout.containerDir);
    } catch (err) {
      throw new RuntimeError(`cannot remove container ${this.handle}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.options.onDestroyed(this.handle);
  }

  private assertUsable(): void {
    if (this.state !== 'created') throw new RuntimeError(`container ${this.handle} is ${this.state}`);
  }

  private remember(proc: LocalProcess): void {
    this.processes.delete(proc.id); // a finished process of the same id gives way
    this.processes.set(proc.id, proc);
    const finished = [...this.processes.values()].filter((p) => !p.running);
    for (const old of finished.slice(0, Math.max(0, finished.length - FINISHED_PROCESSES_KEPT))) {
      this.processes.delete(old.id);
    }
  }
}
