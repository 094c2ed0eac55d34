// The task step (atc/exec/task_step.go): resolve the config, mount the inputs and fresh output volumes in a
// container, run `run.path`, stream its output as `log` events, and register the outputs as artifacts.
//
// Events, in Concourse's order: initialize-task → selected-worker → start-task → log… → finish-task.
// Exit 0 succeeds, any other exit status fails. A timeout fails the step with an `error` "timeout exceeded";
// an abort kills the process and rejects with StepInterruptedError. Outputs are registered whatever the
// exit status (also after a timeout or an abort), as Concourse does.
import { createHash, randomUUID } from 'node:crypto';
import { posix } from 'node:path';
import { Writable } from 'node:stream';
import type { PlanOf, TaskConfig, TaskPlan } from '@jetbridge/plan';
import type { Container, ContainerSpec, ImageSpec, Mount, Process, Volume } from '@jetbridge/runtime';
import {
  finishTaskEvent,
  initializeTaskEvent,
  logEvent,
  selectedWorkerEvent,
  shadowTaskConfig,
  startTaskEvent,
  type EventOrigin,
} from '../events.js';
import { InvalidImageDigestError, registryImageAt } from '../image-versions.js';
import { LogEventWriter } from '../log-event-writer.js';
import type { RunState } from '../run-state.js';
import { deadlineSignal, whenAborted } from '../signals.js';
import type { Step } from '../step.js';
import { StepError, abortReason, isTimeout, throwIfAborted } from '../step-errors.js';
import { journalWrite, replayStep } from '../step-journal.js';
import { stepTimeoutMs } from '../step-timeout.js';
import { resolveTaskConfig } from './task-config-source.js';

/** Required inputs are not in the build (names after `input_mapping`). */
export class MissingInputsError extends StepError {
  constructor(
    readonly inputs: string[],
    stepName: string,
  ) {
    super(`missing inputs: ${inputs.join(', ')}`, stepName);
    this.name = 'MissingInputsError';
  }
}

/** The task step's `image:` names an artifact the build does not have. */
export class MissingTaskImageSourceError extends StepError {
  constructor(sourceName: string, stepName: string) {
    super(
      `missing image artifact source: ${sourceName}\n\nmake sure there's a corresponding 'get' step, or a task that produces it as an output`,
      stepName,
    );
    this.name = 'MissingTaskImageSourceError';
  }
}

const NO_EXECUTABLE =
  'No executable defined for task. Specify an executable to run in either the task config (run.path) or as an ENTRYPOINT/CMD in the container image.';

/** Process id of a task's process, so `fly intercept` and a restarted engine can find it (Concourse: "task"). */
export const TASK_PROCESS_ID = 'task';

export class TaskStep implements Step {
  constructor(
    private readonly planId: string,
    private readonly task: TaskPlan,
    private readonly attempts: readonly number[],
  ) {}

  async run(state: RunState, signal: AbortSignal): Promise<boolean> {
    const origin: EventOrigin = { id: this.planId };
    // Finished before a restart: its outputs and outcome as recorded, nothing run or emitted again.
    const replayed = await replayStep(state, this.planId, this.task.name);
    if (replayed !== undefined) return replayed.succeeded;
    const config = await resolveTaskConfig(this.task, state.artifacts, state.vars.lookup);
    throwIfAborted(signal);
    const redact = (text: string): string => state.redactor.redact(text);
    await state.emit(initializeTaskEvent(state.now(), origin, shadowTaskConfig(config, redact)));

    const image = await this.imageSpec(config, state);
    if (config.run.path === '') throw new StepError(NO_EXECUTABLE, this.task.name);
    const inputs = this.inputVolumes(config, state);
    const timeoutMs = this.timeoutMs(state);

    await state.emit(selectedWorkerEvent(state.now(), origin, state.worker.name));
    const deadline = timeoutMs === undefined ? undefined : deadlineSignal(signal, timeoutMs);
    const runSignal = deadline?.signal ?? signal;
    try {
      const outputs = await this.outputVolumes(config, inputs, state);
      throwIfAborted(runSignal);
      // Recorded before the process starts: a node collecting it after a restart registers these outputs.
      const artifacts = this.outputArtifacts(config, outputs);
      await journalWrite(state, (journal) => journal.starting(this.planId, artifacts));
      const container = await state.worker.createContainer(
        this.containerSpec(config, image, inputs, outputs, state),
      );
      try {
        throwIfAborted(runSignal);
        await state.emit(startTaskEvent(state.now(), origin, shadowTaskConfig(config, redact)));
        let exitStatus: number | undefined;
        try {
          exitStatus = await this.runProcess(container, config, state, runSignal);
        } finally {
          this.registerOutputs(config, outputs, state);
        }
        if (exitStatus === undefined) {
          const reason = abortReason(runSignal);
          if (!isTimeout(reason)) throw reason;
          await state.emitError(origin, 'timeout exceeded');
          await journalWrite(state, (journal) =>
            journal.finish(this.planId, { succeeded: false, artifacts }),
          );
          return false;
        }
        await state.emit(finishTaskEvent(state.now(), origin, exitStatus));
        const succeeded = exitStatus === 0;
        await journalWrite(state, (journal) =>
          journal.finish(this.planId, { succeeded, exitStatus, artifacts }),
        );
        return succeeded;
      } finally {
        await state.containerDone(container);
      }
    } finally {
      deadline?.dispose();
    }
  }

  /** Runs the process to its end; undefined when the signal fired first and the process was killed. */
  private async runProcess(
    container: Container,
    config: TaskConfig,
    state: RunState,
    signal: AbortSignal,
  ): Promise<number | undefined> {
    const writer = (source: 'stdout' | 'stderr'): LogEventWriter =>
      new LogEventWriter(
        (payload, rawOffset) =>
          state.emit(logEvent(state.now(), { id: this.planId, source }, payload, rawOffset)),
        state.redactor,
        { partialLineFlushMs: state.partialLineFlushMs },
      );
    const stdout = writer('stdout');
    const stderr = writer('stderr');
    const stdoutStream = stdout.stream();
    const stderrStream = stderr.stream();
    const closeOutput = async (): Promise<void> => {
      await Promise.all([endStream(stdoutStream), endStream(stderrStream)]);
      await stdout.close();
      await stderr.close();
    };

    let process: Process;
    try {
      process = await container.run(
        {
          id: TASK_PROCESS_ID,
          path: config.run.path,
          args: config.run.args ?? [],
          dir:
            config.run.dir === undefined || config.run.dir === '' ? undefined : containerPath(config.run.dir),
          user: config.run.user,
        },
        { stdout: stdoutStream, stderr: stderrStream },
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
            'failed to kill a task process',
          );
        });
        await exited;
        return undefined;
      }
      if ('error' in first) throw first.error;
      return first.status;
    } finally {
      aborted.dispose();
      await closeOutput();
    }
  }

  private async imageSpec(config: TaskConfig, state: RunState): Promise<ImageSpec | undefined> {
    if (this.task.image !== undefined && this.task.image !== '') {
      const volume = state.artifacts.lookup(this.task.image);
      if (volume === undefined) throw new MissingTaskImageSourceError(this.task.image, this.task.name);
      return { kind: 'volume', volume };
    }
    const resource = config.image_resource;
    if (resource !== undefined) {
      // Image check/get sub-plans are not run: a registry image is handed to the runtime as a reference, at
      // the version a runtime that pulls images finds (taskImage), else at the config's own `version:`.
      try {
        const taskImage = state.resourceTypes?.taskImage;
        if (taskImage !== undefined)
          return await taskImage.call(state.resourceTypes, resource, this.task.resource_types ?? []);
        const version = resource.version;
        return registryImageAt(
          resource.source,
          version === undefined ? undefined : { version, origin: 'version' },
        );
      } catch (error) {
        if (!(error instanceof InvalidImageDigestError)) throw error;
        throw new StepError(`image_resource: ${error.message}`, this.task.name, { cause: error });
      }
    }
    if (config.rootfs_uri !== undefined && config.rootfs_uri !== '')
      return { kind: 'rootfs', uri: config.rootfs_uri };
    return undefined;
  }

  /** Each config input's volume by input name; missing required inputs are an error, optional ones skipped. */
  private inputVolumes(config: TaskConfig, state: RunState): Map<string, { volume: Volume; path: string }> {
    const inputs = new Map<string, { volume: Volume; path: string }>();
    const missing: string[] = [];
    for (const input of config.inputs ?? []) {
      const artifactName = this.task.input_mapping?.[input.name] ?? input.name;
      const volume = state.artifacts.lookup(artifactName);
      if (volume === undefined) {
        if (input.optional !== true) missing.push(artifactName);
        continue;
      }
      inputs.set(input.name, { volume, path: containerPath(input.path || input.name) });
    }
    if (missing.length > 0) throw new MissingInputsError(missing, this.task.name);
    return inputs;
  }

  /**
   * A fresh volume per output. An output at the same path as an input starts with the input's contents
   * (Concourse mounts a copy-on-write copy of the input there).
   */
  private async outputVolumes(
    config: TaskConfig,
    inputs: Map<string, { volume: Volume; path: string }>,
    state: RunState,
  ): Promise<Map<string, { volume: Volume; path: string }>> {
    const outputs = new Map<string, { volume: Volume; path: string }>();
    for (const output of config.outputs ?? []) {
      const path = containerPath(output.path || output.name);
      const volume = await state.worker.createVolume({
        owner: { kind: 'step', buildId: state.build.id, stepName: this.task.name },
        teamName: state.build.teamName,
        type: 'container',
      });
      const input = [...inputs.values()].find((candidate) => candidate.path === path);
      if (input !== undefined) {
        // streamIn leaves its source open when it fails; the copy's source is ours to close.
        const source = await input.volume.streamOut('.');
        try {
          await volume.streamIn('.', source);
        } finally {
          source.destroy();
        }
      }
      outputs.set(output.name, { volume, path });
    }
    return outputs;
  }

  private containerSpec(
    config: TaskConfig,
    image: ImageSpec | undefined,
    inputs: Map<string, { volume: Volume; path: string }>,
    outputs: Map<string, { volume: Volume; path: string }>,
    state: RunState,
  ): ContainerSpec {
    const workingDirectory = taskWorkingDirectory(this.task.name);
    const outputPaths = new Set([...outputs.values()].map((output) => output.path));
    const mounts: Mount[] = [
      // An input whose path an output takes over is not mounted: the output holds a copy of it.
      // Inputs are read-only mounts: the runtime gives the task its own copy (Concourse's copy-on-write
      // volumes), so what the task changes never reaches the artifact other steps see.
      ...[...inputs.values()]
        .filter((input) => !outputPaths.has(input.path))
        .map(({ volume, path }) => ({ volume, path, readOnly: true })),
      ...[...outputs.values()].map(({ volume, path }) => ({ volume, path })),
    ];
    const env: Record<string, string> = {};
    if (state.externalUrl !== undefined) env['ATC_EXTERNAL_URL'] = state.externalUrl;
    Object.assign(env, config.params);
    const limits = config.container_limits;
    const build = state.build;
    return {
      handle: randomUUID(),
      image,
      env,
      dir: workingDirectory,
      limits: limits === undefined ? undefined : { cpuShares: limits.cpu, memoryBytes: limits.memory },
      privileged: this.task.privileged,
      mounts,
      tags: this.task.tags,
      metadata: {
        type: 'task',
        teamName: build.teamName,
        stepName: this.task.name,
        planId: this.planId,
        attempt: this.attempts.length > 0 ? this.attempts.join('.') : undefined,
        buildId: build.id,
        buildName: build.name,
        pipelineId: build.pipelineId,
        pipelineName: build.pipelineName,
        pipelineInstanceVars: build.pipelineInstanceVars,
        jobId: build.jobId,
        jobName: build.jobName,
        user: config.run.user,
        workingDirectory,
      },
    };
  }

  /** The artifacts registerOutputs registers: name (after `output_mapping`) → volume handle. */
  private outputArtifacts(
    config: TaskConfig,
    outputs: Map<string, { volume: Volume }>,
  ): Record<string, string> {
    const artifacts: Record<string, string> = {};
    for (const output of config.outputs ?? []) {
      const volume = outputs.get(output.name)?.volume;
      if (volume !== undefined)
        artifacts[this.task.output_mapping?.[output.name] ?? output.name] = volume.handle;
    }
    return artifacts;
  }

  private registerOutputs(
    config: TaskConfig,
    outputs: Map<string, { volume: Volume }>,
    state: RunState,
  ): void {
    for (const output of config.outputs ?? []) {
      const volume = outputs.get(output.name)?.volume;
      if (volume !== undefined)
        state.artifacts.register(this.task.output_mapping?.[output.name] ?? output.name, volume);
    }
  }

  /** The step's `timeout`, else the default task timeout (Concourse's MaybeTimeout). */
  private timeoutMs(state: RunState): number | undefined {
    return stepTimeoutMs(this.task.timeout, state.defaultTimeouts.task, this.task.name);
  }
}

/** `/tmp/build/<first 4 bytes of SHA-256 of the step name, hex>`: stable per step name, as Concourse v8. */
export function taskWorkingDirectory(stepName: string): string {
  return `/tmp/build/${createHash('sha256').update(stepName).digest('hex').slice(0, 8)}`;
}

/** A config path as Concourse resolves it: absolute paths as they are, `..` removed from relative ones. */
function containerPath(path: string): string {
  if (posix.isAbsolute(path)) return path;
  return posix.normalize(path.replaceAll('..', '')).replace(/\/+$/, '') || '.';
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

export function taskStep(plan: PlanOf<'task'>, _builder: unknown, attempts: readonly number[]): Step {
  return new TaskStep(plan.id, plan.task, attempts);
}
