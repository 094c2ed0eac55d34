// Running one build's plan to its end (Concourse's engine build, atc/engine/engine.go): the outcome is
// aborted when the root step was interrupted, errored for any other error, else succeeded or failed.
import type { Plan } from '@jetbridge/plan';
import type { Container, Worker } from '@jetbridge/runtime';
import type { ArtifactCatalog } from './artifact-catalog.js';
import type { BuildRecorder } from './build-recorder.js';
import { systemClock, type Clock } from './clock.js';
import type { BuildEventSink } from './events.js';
import { silentLogger, type Logger } from './logger.js';
import { Redactor } from './redactor.js';
import type { ResourceTypeResolver } from './resource-type-resolver.js';
import { RunState, type BuildIdentity } from './run-state.js';
import { childSignal } from './signals.js';
import { planStepBuilder } from './step-builder.js';
import { StepInterruptedError, isInterruption } from './step-errors.js';
import type { StepJournal } from './step-journal.js';
import { errorMessage } from './steps/log-error-step.js';
import type { VarsResolver } from './vars/build-vars.js';

export type BuildOutcome = 'succeeded' | 'failed' | 'errored' | 'aborted';

export interface RunBuildOptions extends BuildRecorder {
  plan: Plan;
  worker: Worker;
  build: BuildIdentity;
  /** Receives every event but `status`, which the caller emits around the run. */
  events: BuildEventSink;
  artifacts: ArtifactCatalog;
  /** Aborting it aborts the build: running processes are killed, then `ensure`/`on_abort` hooks run. */
  signal?: AbortSignal;
  /** Secret values to replace with `((redacted))` in logs and task events. */
  redact?: readonly string[];
  logger?: Logger;
  clock?: Clock;
  /** Timeout of task steps that set none, in ms (Concourse's `--default-task-timeout`). */
  defaultTaskTimeoutMs?: number;
  /** Timeout of get steps that set none, in ms (`--default-get-timeout`). */
  defaultGetTimeoutMs?: number;
  /** Timeout of put steps that set none, in ms (`--default-put-timeout`). */
  defaultPutTimeoutMs?: number;
  /** Timeout of check steps that set none, in ms (Concourse's `--global-resource-check-timeout`, 1h by default). */
  defaultCheckTimeoutMs?: number;
  /** Given to tasks as ATC_EXTERNAL_URL; resource steps also get BUILD_URL and BUILD_URL_SHORT from it. */
  externalUrl?: string;
  /** Where `((var))` values come from besides the build's local vars (credential managers, var_sources). */
  vars?: VarsResolver;
  /** How get, put and check steps find their resource type's executables. */
  resourceTypes?: ResourceTypeResolver;
  /** How long an unfinished output line waits before it is sent anyway; 1s by default. */
  partialLineFlushMs?: number;
  /**
   * Called when a step is done with its container, so the caller can keep it for `fly intercept` and
   * destroy it later. Without it, containers are destroyed when the build ends.
   */
  onContainerDone?: (container: Container) => void | Promise<void>;
  /**
   * Where task, get and put steps record how they ended; steps it has finished already (an earlier run of
   * this build, on a web node that died) are replayed instead of run (step-journal.ts).
   */
  journal?: StepJournal;
}

/** Run a build plan against a worker and tell how it ended. Never rejects because of the plan's steps. */
export async function runBuild(options: RunBuildOptions): Promise<BuildOutcome> {
  const state = new RunState({
    build: options.build,
    worker: options.worker,
    catalog: options.artifacts,
    sink: options.events,
    redactor: new Redactor(options.redact ?? []),
    logger: options.logger ?? silentLogger,
    clock: options.clock ?? systemClock,
    defaultTimeouts: {
      task: options.defaultTaskTimeoutMs,
      get: options.defaultGetTimeoutMs,
      put: options.defaultPutTimeoutMs,
      check: options.defaultCheckTimeoutMs,
    },
    externalUrl: options.externalUrl,
    partialLineFlushMs: options.partialLineFlushMs,
    onContainerDone: options.onContainerDone,
    vars: options.vars,
    resourceTypes: options.resourceTypes,
    recorder: options,
    journal: options.journal,
  });

  // Steps see their own signal whose reason tells an abort from a timeout, whatever the caller aborts with.
  const abort = childSignal(new AbortController().signal);
  const onAbort = (): void => abort.abort(new StepInterruptedError());
  if (options.signal?.aborted) onAbort();
  options.signal?.addEventListener('abort', onAbort, { once: true });

  try {
    if (abort.signal.aborted) return 'aborted';
    const root = planStepBuilder.build(options.plan, options.plan.attempts ?? []);
    const succeeded = await root.run(state, abort.signal);
    return succeeded ? 'succeeded' : 'failed';
  } catch (error) {
    if (isInterruption(error)) return 'aborted';
    state.logger.info({ buildId: options.build.id, err: String(error) }, 'build errored');
    // Errors of leaf steps were reported where they happened; others (e.g. a bad timeout duration) here.
    if (!state.wasReported(error)) await state.emitError({ id: options.plan.id }, errorMessage(error), error);
    return 'errored';
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    abort.dispose();
    await state.finish();
  }
}
