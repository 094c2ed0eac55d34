// Steps in pipeline form (atc/steps.go). A step in YAML is one map whose keys select a core step and the
// modifiers wrapped around it; `Step` is that envelope, `StepConfig` the parsed chain: modifiers
// (`ensure`, `on_*`, `across`, `attempts`, `timeout`) hold the step they wrap in `step`, ending at one core step.
import type { ContainerLimits, TaskConfig } from '@jetbridge/plan';
import type { Params, Version } from './config.js';

export interface Step {
  config: StepConfig;
  /** Keys left over after the core step was parsed; the validator reports them (`unknown fields [...]`). */
  unknownFields?: Record<string, unknown>;
}

export type StepConfig =
  | GetStep
  | PutStep
  | TaskStep
  | RunStep
  | SetPipelineStep
  | LoadVarStep
  | TryStep
  | DoStep
  | InParallelStep
  | AcrossStep
  | RetryStep
  | TimeoutStep
  | OnSuccessStep
  | OnFailureStep
  | OnAbortStep
  | OnErrorStep
  | EnsureStep;

export type StepKind = StepConfig['kind'];
export type CoreStep =
  GetStep | PutStep | TaskStep | RunStep | SetPipelineStep | LoadVarStep | TryStep | DoStep | InParallelStep;
export type StepModifier = Exclude<StepConfig, CoreStep>;

/** `latest`, `every`, or a pinned version. Any other string decodes to `""` (neither), as in Concourse. */
export type VersionConfig = 'latest' | 'every' | '' | Version;
/** `detect` (v8 default), `all`, or artifact names. Any other string decodes to `""`. */
export type InputsConfig = 'all' | 'detect' | '' | string[];

export interface GetStep {
  kind: 'get';
  /** The `get:` value: artifact and input name. */
  name: string;
  /** Defaults to `name`; see {@link stepResourceName}. */
  resource?: string;
  version?: VersionConfig;
  params?: Params;
  passed?: string[];
  trigger?: boolean;
  tags?: string[];
  timeout?: string;
}

export interface PutStep {
  kind: 'put';
  name: string;
  resource?: string;
  params?: Params;
  inputs?: InputsConfig;
  tags?: string[];
  get_params?: Params;
  timeout?: string;
  no_get?: boolean;
}

export interface TaskStep {
  kind: 'task';
  name: string;
  privileged?: boolean;
  hermetic?: boolean;
  /** `<artifact>/<path>` of a task config file. */
  file?: string;
  container_limits?: ContainerLimits;
  config?: TaskConfig;
  /** Keys of the inline `config:` that a task config does not have (reported by the validator). */
  configUnknownFields?: Record<string, unknown>;
  /** Environment; values coerced to strings. */
  params?: Record<string, string>;
  vars?: Params;
  tags?: string[];
  input_mapping?: Record<string, string>;
  output_mapping?: Record<string, string>;
  /** Name of an artifact holding the image. */
  image?: string;
  timeout?: string;
}

/** Prototype "run" step (experimental). */
export interface RunStep {
  kind: 'run';
  /** The `run:` value: the message sent to the prototype. */
  message: string;
  type: string;
  params?: Params;
  privileged?: boolean;
  tags?: string[];
  container_limits?: ContainerLimits;
  timeout?: string;
}

export interface SetPipelineStep {
  kind: 'set_pipeline';
  /** A pipeline name, or `self`. */
  name: string;
  file?: string;
  team?: string;
  vars?: Params;
  var_files?: string[];
  instance_vars?: Params;
}

export interface LoadVarStep {
  kind: 'load_var';
  name: string;
  file?: string;
  format?: string;
  reveal?: boolean;
}

export interface TryStep {
  kind: 'try';
  step: Step;
}

export interface DoStep {
  kind: 'do';
  /** Undefined when `do:` is null. */
  steps?: Step[];
  tags?: string[];
}

/** Written either as a list of steps or as `{steps, limit, fail_fast}`. */
export interface InParallelStep {
  kind: 'in_parallel';
  steps?: Step[];
  limit?: number;
  fail_fast?: boolean;
  tags?: string[];
}

export interface AcrossVarConfig {
  var: string;
  /** A list, or a `((var))` resolved at run time. */
  values?: unknown;
  /** Default 1. */
  max_in_flight?: 'all' | number;
}

export interface AcrossStep {
  kind: 'across';
  vars: AcrossVarConfig[];
  fail_fast?: boolean;
  step: StepConfig;
}

/** `attempts: N`. */
export interface RetryStep {
  kind: 'retry';
  attempts: number;
  step: StepConfig;
}

/** `timeout:` around a step that has no timeout of its own (get, put and task do). */
export interface TimeoutStep {
  kind: 'timeout';
  duration: string;
  step: StepConfig;
}

export interface OnSuccessStep {
  kind: 'on_success';
  step: StepConfig;
  hook: Step;
}
export interface OnFailureStep {
  kind: 'on_failure';
  step: StepConfig;
  hook: Step;
}
export interface OnAbortStep {
  kind: 'on_abort';
  step: StepConfig;
  hook: Step;
}
export interface OnErrorStep {
  kind: 'on_error';
  step: StepConfig;
  hook: Step;
}
export interface EnsureStep {
  kind: 'ensure';
  step: StepConfig;
  hook: Step;
}

/** The resource a get or put step uses: `resource:`, or else the step name. */
export function stepResourceName(step: GetStep | PutStep): string {
  return step.resource !== undefined && step.resource !== '' ? step.resource : step.name;
}

export function isStepModifier(step: StepConfig): step is StepModifier {
  return 'step' in step && step.kind !== 'try';
}
