// A job seen as one step (atc/job_config.go): its plan runs like a `do`, wrapped from the inside out by the
// job hooks on_success → on_failure → on_abort → on_error → ensure (outermost). Plus the walk over the base
// steps of a step tree that Concourse calls the StepRecursor, and the job facts derived from it.
import type { JobConfig, Params } from './config.js';
import {
  stepResourceName,
  type GetStep,
  type LoadVarStep,
  type PutStep,
  type RunStep,
  type SetPipelineStep,
  type StepConfig,
  type TaskStep,
  type VersionConfig,
} from './steps.js';

export function jobStepConfig(job: JobConfig): StepConfig {
  let step: StepConfig = job.plan === undefined ? { kind: 'do' } : { kind: 'do', steps: job.plan };
  if (job.on_success !== undefined) step = { kind: 'on_success', step, hook: job.on_success };
  if (job.on_failure !== undefined) step = { kind: 'on_failure', step, hook: job.on_failure };
  if (job.on_abort !== undefined) step = { kind: 'on_abort', step, hook: job.on_abort };
  if (job.on_error !== undefined) step = { kind: 'on_error', step, hook: job.on_error };
  if (job.ensure !== undefined) step = { kind: 'ensure', step, hook: job.ensure };
  return step;
}

export interface BaseStepVisitor {
  onGet?(step: GetStep): void;
  onPut?(step: PutStep): void;
  onTask?(step: TaskStep): void;
  onRun?(step: RunStep): void;
  onSetPipeline?(step: SetPipelineStep): void;
  onLoadVar?(step: LoadVarStep): void;
}

/** Visit every base step (get, put, task, run, set_pipeline, load_var), hooks included, in plan order. */
export function visitBaseSteps(step: StepConfig, visitor: BaseStepVisitor): void {
  switch (step.kind) {
    case 'get':
      visitor.onGet?.(step);
      return;
    case 'put':
      visitor.onPut?.(step);
      return;
    case 'task':
      visitor.onTask?.(step);
      return;
    case 'run':
      visitor.onRun?.(step);
      return;
    case 'set_pipeline':
      visitor.onSetPipeline?.(step);
      return;
    case 'load_var':
      visitor.onLoadVar?.(step);
      return;
    case 'try':
      visitBaseSteps(step.step.config, visitor);
      return;
    case 'do':
    case 'in_parallel':
      for (const sub of step.steps ?? []) visitBaseSteps(sub.config, visitor);
      return;
    case 'across':
    case 'timeout':
    case 'retry':
      visitBaseSteps(step.step, visitor);
      return;
    case 'on_success':
    case 'on_failure':
    case 'on_abort':
    case 'on_error':
    case 'ensure':
      visitBaseSteps(step.step, visitor);
      visitBaseSteps(step.hook.config, visitor);
      return;
  }
}

/** A job input: every get step anywhere in the job (`JobConfig.Inputs`). */
export interface JobInput {
  name: string;
  resource: string;
  passed?: string[];
  version?: VersionConfig;
  trigger: boolean;
  params?: Params;
  tags?: string[];
}

export function jobInputs(job: JobConfig): JobInput[] {
  const inputs: JobInput[] = [];
  visitBaseSteps(jobStepConfig(job), {
    onGet(step) {
      const input: JobInput = {
        name: step.name,
        resource: stepResourceName(step),
        trigger: step.trigger === true,
      };
      if (step.passed !== undefined) input.passed = step.passed;
      if (step.version !== undefined) input.version = step.version;
      if (step.params !== undefined) input.params = step.params;
      if (step.tags !== undefined) input.tags = step.tags;
      inputs.push(input);
    },
  });
  return inputs;
}

/** A job output: every put step anywhere in the job (`JobConfig.Outputs`). */
export function jobOutputs(job: JobConfig): Array<{ name: string; resource: string }> {
  const outputs: Array<{ name: string; resource: string }> = [];
  visitBaseSteps(jobStepConfig(job), {
    onPut(step) {
      outputs.push({ name: step.name, resource: stepResourceName(step) });
    },
  });
  return outputs;
}

/** 1 if serial or in serial groups, else `max_in_flight`, else 0 (unlimited) — `JobConfig.MaxInFlight`. */
export function effectiveMaxInFlight(job: JobConfig): number {
  if (job.serial === true || (job.serial_groups?.length ?? 0) > 0) return 1;
  return job.max_in_flight ?? 0;
}

/**
 * The serial groups stored for a job: its own, or its name when it is serial or limits max_in_flight
 * (the job then serializes against itself).
 */
export function effectiveSerialGroups(job: JobConfig): string[] {
  if ((job.serial_groups?.length ?? 0) > 0) return [...(job.serial_groups ?? [])];
  if (job.serial === true || (job.max_in_flight ?? 0) > 0) return [job.name];
  return [];
}
