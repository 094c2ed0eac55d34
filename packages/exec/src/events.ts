// The build events the engine emits, in the versions fly renders (concourse-api.md §3.3, atc/event/events.go).
// The web layer numbers, stores and streams them, and emits the build's `status` events itself.
import type { PublicPlan, TaskConfig, Version } from '@jetbridge/plan';
import type { MetadataField } from './build-recorder.js';

/** One build event as on the wire, without `event_id`. */
export interface BuildEvent {
  event: string;
  version: string;
  data: Record<string, unknown>;
}

/** Where events go. The engine never calls `emit` concurrently and awaits each call, so order is kept. */
export interface BuildEventSink {
  emit(event: BuildEvent): void | Promise<void>;
}

/** The step (plan id) an event is about and, for logs, the stream. */
export interface EventOrigin {
  id: string;
  source?: 'stdout' | 'stderr';
}

/**
 * `outputOffset`: JetBridge's own field, stored but left out of the event stream (Concourse has none) — the
 * step process's raw output bytes on this stream up to the end of `payload`, where a web node collecting the
 * step after a restart resumes (apps/web/src/runtime/step-recovery.ts).
 */
export function logEvent(
  time: number,
  origin: EventOrigin,
  payload: string,
  outputOffset?: number,
): BuildEvent {
  return {
    event: 'log',
    version: '5.1',
    data: { time, origin, payload, ...(outputOffset === undefined ? {} : { output_offset: outputOffset }) },
  };
}

export function errorEvent(time: number, origin: EventOrigin, message: string): BuildEvent {
  return { event: 'error', version: '4.1', data: { message, origin, time } };
}

export function selectedWorkerEvent(time: number, origin: EventOrigin, workerName: string): BuildEvent {
  return { event: 'selected-worker', version: '1.0', data: { time, origin, selected_worker: workerName } };
}

export function initializeTaskEvent(time: number, origin: EventOrigin, config: ShadowTaskConfig): BuildEvent {
  return { event: 'initialize-task', version: '4.0', data: { time, origin, config } };
}

export function startTaskEvent(time: number, origin: EventOrigin, config: ShadowTaskConfig): BuildEvent {
  return { event: 'start-task', version: '5.0', data: { time, origin, config } };
}

export function finishTaskEvent(time: number, origin: EventOrigin, exitStatus: number): BuildEvent {
  return { event: 'finish-task', version: '4.0', data: { time, exit_status: exitStatus, origin } };
}

export function initializeGetEvent(time: number, origin: EventOrigin): BuildEvent {
  return { event: 'initialize-get', version: '2.0', data: { origin, time } };
}

export function startGetEvent(time: number, origin: EventOrigin): BuildEvent {
  return { event: 'start-get', version: '1.0', data: { origin, time } };
}

/** `finish-get` 5.1: a failed `in` has no version (Go writes the nil map as null) and no metadata. */
export function finishGetEvent(
  time: number,
  origin: EventOrigin,
  exitStatus: number,
  result?: FetchResult,
): BuildEvent {
  return { event: 'finish-get', version: '5.1', data: finishResourceData(time, origin, exitStatus, result) };
}

export function initializePutEvent(time: number, origin: EventOrigin): BuildEvent {
  return { event: 'initialize-put', version: '2.0', data: { origin, time } };
}

export function startPutEvent(time: number, origin: EventOrigin): BuildEvent {
  return { event: 'start-put', version: '1.0', data: { origin, time } };
}

export function finishPutEvent(
  time: number,
  origin: EventOrigin,
  exitStatus: number,
  result?: FetchResult,
): BuildEvent {
  return { event: 'finish-put', version: '5.1', data: finishResourceData(time, origin, exitStatus, result) };
}

/** What `in`/`out` printed: the version and its metadata. */
export interface FetchResult {
  version: Version;
  metadata: MetadataField[];
}

function finishResourceData(
  time: number,
  origin: EventOrigin,
  exitStatus: number,
  result: FetchResult | undefined,
): Record<string, unknown> {
  const data: Record<string, unknown> = {
    origin,
    time,
    exit_status: exitStatus,
    version: result?.version ?? null,
  };
  // `metadata,omitempty`
  if (result !== undefined && result.metadata.length > 0) data['metadata'] = result.metadata;
  return data;
}

export function initializeCheckEvent(time: number, origin: EventOrigin, name: string): BuildEvent {
  return { event: 'initialize-check', version: '1.0', data: { origin, time, name } };
}

/** `initialize` of steps without an initialize event of their own: set_pipeline, load_var, across. */
export function initializeEvent(time: number, origin: EventOrigin): BuildEvent {
  return { event: 'initialize', version: '1.0', data: { origin, time } };
}

export function startEvent(time: number, origin: EventOrigin): BuildEvent {
  return { event: 'start', version: '1.0', data: { origin, time } };
}

export function finishEvent(time: number, origin: EventOrigin, succeeded: boolean): BuildEvent {
  return { event: 'finish', version: '1.0', data: { origin, time, succeeded } };
}

/** `set-pipeline-changed` carries no time. */
export function setPipelineChangedEvent(origin: EventOrigin, changed: boolean): BuildEvent {
  return { event: 'set-pipeline-changed', version: '1.0', data: { origin, changed } };
}

/** Each across combination as `{step: public plan, values}`. */
export function acrossSubstepsEvent(
  time: number,
  origin: EventOrigin,
  substeps: Array<{ step: PublicPlan; values: unknown[] }>,
): BuildEvent {
  return { event: 'across-substeps', version: '1.0', data: { time, origin, substeps } };
}

/** The reduced task config task events carry (`event.ShadowTaskConfig`); Go writes nil slices as null. */
export interface ShadowTaskConfig {
  platform: string;
  image: string;
  run: { path: string; args: string[] | null; dir: string };
  inputs: Array<{ name: string; path: string }> | null;
}

/** Reduce a task config for task events; `redact` hides secrets in the command line, as Concourse does. */
export function shadowTaskConfig(config: TaskConfig, redact: (text: string) => string): ShadowTaskConfig {
  const inputs = config.inputs ?? [];
  return {
    platform: config.platform ?? '',
    image: config.rootfs_uri ?? '',
    run: {
      path: redact(config.run.path),
      args: config.run.args === undefined ? null : config.run.args.map(redact),
      dir: config.run.dir ?? '',
    },
    inputs:
      inputs.length === 0 ? null : inputs.map((input) => ({ name: input.name, path: input.path ?? '' })),
  };
}
