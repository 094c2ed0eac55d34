// Resource containers and processes for the get, put and check steps: the container spec (working in
// /tmp/build/<kind>), the step's timeout around container creation and the script, stderr streamed to the
// build log, stdout kept for the protocol.
import { randomUUID } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import type { Container, ContainerMetadata, ContainerSpec, Mount, Process } from '@jetbridge/runtime';
import { logEvent, selectedWorkerEvent } from './events.js';
import { LogEventWriter } from './log-event-writer.js';
import type { ResourceTypeExecutables } from './resource-type-resolver.js';
import { resourcesDir } from './resource-script.js';
import type { RunState } from './run-state.js';
import { deadlineSignal, whenAborted } from './signals.js';
import { journalWrite } from './step-journal.js';
import { abortReason, isTimeout, throwIfAborted } from './step-errors.js';

export interface ResourceContainerOptions {
  kind: 'get' | 'put' | 'check';
  stepName: string;
  attempts: readonly number[];
  executables: ResourceTypeExecutables;
  env: Record<string, string>;
  mounts: Mount[];
  tags?: string[];
  resourceName?: string;
}

export function resourceContainerSpec(
  state: RunState,
  options: ResourceContainerOptions,
  planId: string,
): ContainerSpec {
  const build = state.build;
  const dir = resourcesDir(options.kind);
  const metadata: ContainerMetadata = {
    type: options.kind,
    teamName: build.teamName,
    stepName: options.stepName,
    planId,
    attempt: options.attempts.length > 0 ? options.attempts.join('.') : undefined,
    buildId: build.id,
    buildName: build.name,
    pipelineId: build.pipelineId,
    pipelineName: build.pipelineName,
    pipelineInstanceVars: build.pipelineInstanceVars,
    jobId: build.jobId,
    jobName: build.jobName,
    resourceName: options.resourceName,
    workingDirectory: dir,
  };
  return {
    handle: randomUUID(),
    image: options.executables.kind === 'image' ? options.executables.image : undefined,
    // A custom type declared `privileged: true` runs privileged (Concourse's FetchImage ImageSpec.Privileged).
    ...(options.executables.kind === 'image' && options.executables.privileged === true
      ? { privileged: true }
      : {}),
    env: options.env,
    dir,
    mounts: options.mounts,
    tags: options.tags,
    metadata,
  };
}

export interface ResourceRun {
  planId: string;
  container: ResourceContainerOptions;
  invocation: { path: string; args: string[] };
  /** The JSON request for stdin. */
  request: string;
  timeoutMs: number | undefined;
  signal: AbortSignal;
  /** Called once the container exists, right before the script starts (put and check emit their start here). */
  beforeRun?: () => Promise<void>;
  /** The artifacts the step registers when it succeeds (a get's volume), journalled as the script starts. */
  artifacts?: Record<string, string>;
}

/**
 * Select the worker, create the container and run the script under the step's timeout. Resolves with the
 * script's exit status and stdout, or undefined after a timeout (reported as an `error` event "timeout
 * exceeded": the step fails, as Concourse's delegate.Errored + `return false, nil`). An abort rejects.
 */
export async function runInResourceContainer(
  state: RunState,
  run: ResourceRun,
): Promise<{ exitStatus: number; stdout: string } | undefined> {
  const origin = { id: run.planId };
  await state.emit(selectedWorkerEvent(state.now(), origin, state.worker.name));
  const deadline = run.timeoutMs === undefined ? undefined : deadlineSignal(run.signal, run.timeoutMs);
  const runSignal = deadline?.signal ?? run.signal;
  try {
    let container: Container | undefined;
    try {
      container = await state.worker.createContainer(resourceContainerSpec(state, run.container, run.planId));
      throwIfAborted(runSignal);
      // A node collecting the script after a restart hands its response to this step (step-journal.ts).
      await journalWrite(state, (journal) => journal.starting(run.planId, run.artifacts ?? {}));
      await run.beforeRun?.();
      const result = await runResourceScript(
        state,
        run.planId,
        container,
        run.invocation,
        run.request,
        runSignal,
      );
      if (result !== undefined) return result;
      throw abortReason(runSignal);
    } catch (error) {
      if (!isTimeout(error) || run.signal.aborted) throw error;
      await state.emitError(origin, 'timeout exceeded');
      return undefined;
    } finally {
      if (container !== undefined) await state.containerDone(container);
    }
  } finally {
    deadline?.dispose();
  }
}

/**
 * Run a script to its end: its exit status and stdout, or undefined when `signal` fired first (the process
 * is then killed). stderr becomes `log` events of `planId`.
 */
export async function runResourceScript(
  state: RunState,
  planId: string,
  container: Container,
  invocation: { path: string; args: string[] },
  request: string,
  signal: AbortSignal,
): Promise<{ exitStatus: number; stdout: string } | undefined> {
  // As a task's, the events carry the raw stderr offset at their end: where a web node collecting the step
  // after a restart resumes its output (the stored event stream never shows it).
  const stderr = new LogEventWriter(
    (payload, rawOffset) =>
      state.emit(logEvent(state.now(), { id: planId, source: 'stderr' }, payload, rawOffset)),
    state.redactor,
    { partialLineFlushMs: state.partialLineFlushMs },
  );
  const stderrStream = stderr.stream();
  const stdoutChunks: Buffer[] = [];
  const stdoutStream = new Writable({
    write: (chunk: Buffer, _encoding, callback) => {
      stdoutChunks.push(chunk);
      callback();
    },
  });
  const closeOutput = async (): Promise<void> => {
    await Promise.all([endStream(stdoutStream), endStream(stderrStream)]);
    await stderr.close();
  };

  let process: Process;
  try {
    process = await container.run(
      { id: 'resource', path: invocation.path, args: invocation.args },
      { stdin: Readable.from([Buffer.from(request)]), stdout: stdoutStream, stderr: stderrStream },
    );
  } catch (error) {
    await closeOutput();
    throw error;
  }

  const exited = process.wait().then(
    (status) => ({ status }),
    (error: unknown) => ({ error }),
  );
  const aborted = whenAborted(signal);
  try {
    const first = await Promise.race([exited, aborted.fired.then(() => 'aborted' as const)]);
    if (first === 'aborted') {
      await process.signal('kill').catch((error: unknown) => {
        state.logger.error(
          { buildId: state.build.id, err: String(error) },
          'failed to kill a resource process',
        );
      });
      await exited;
      return undefined;
    }
    if ('error' in first) throw first.error;
    await closeOutput();
    return { exitStatus: first.status, stdout: Buffer.concat(stdoutChunks).toString('utf8') };
  } finally {
    aborted.dispose();
    await closeOutput();
  }
}

/** End a stream handed to the runtime and wait until everything written to it has been consumed. */
function endStream(stream: Writable): Promise<void> {
  if (stream.writableFinished) return Promise.resolve();
  return new Promise((resolve) => {
    stream.once('finish', resolve);
    stream.once('error', () => resolve());
    stream.end();
  });
}
