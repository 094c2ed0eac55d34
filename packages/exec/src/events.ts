// The build events the engine emits, in the versions fly renders (concourse-api.md §3.3, atc/event/events.go).
// The web layer numbers, stores and streams them, and emits the build's `status` events itself.
import type { TaskConfig } from '@jetbridge/plan';

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

export function logEvent(time: number, origin: EventOrigin, payload: string): BuildEvent {
  return { event: 'log', version: '5.1', data: { time, origin, payload } };
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
