// Build plans, as Concourse's `atc.Plan` (atc/plan.go) puts them on the wire: a node is
// `{"id": "<opaque string>", "attempts"?: [int], <exactly one step key>: <body>}`.
import type { TaskConfig } from './task-config.js';

/** Opaque and unique within a plan; fly uses hex counters ("6650a1b2"), pipelines use numbers as strings. */
export type PlanId = string;

export type Version = Record<string, string>;
export type Params = Record<string, unknown>;
export type Source = Record<string, unknown>;

/** Fields every plan node has besides its step key. */
export interface PlanEnvelope {
  id: PlanId;
  /** Attempt numbers of enclosing `retry` steps (outermost first). */
  attempts?: number[];
}

/** How a resource step gets the image of its resource type. */
export interface TypeImage {
  check_plan?: Plan;
  get_plan?: Plan;
  /** The bottom-most base resource type the step relies on. */
  base_type?: string;
  privileged?: boolean;
}

export interface ResourceTypeConfig {
  name: string;
  type: string;
  source: Source;
  defaults?: Source;
  privileged?: boolean;
  check_every?: string;
  tags?: string[];
  params?: Params;
}

export interface GetPlan {
  name?: string;
  type: string;
  source: Source;
  image: TypeImage;
  version?: Version;
  version_from?: PlanId;
  params?: Params;
  resource?: string;
  tags?: string[];
  timeout?: string;
}

export interface PutPlan {
  name: string;
  type: string;
  source: Source;
  image: TypeImage;
  params?: Params;
  inputs?: 'all' | 'detect' | string[];
  resource?: string;
  tags?: string[];
  timeout?: string;
  expose_build_created_by?: boolean;
}

export interface CheckPlan {
  name: string;
  type: string;
  source: Source;
  image: TypeImage;
  from_version?: Version;
  resource?: string;
  resource_type?: string;
  prototype?: string;
  /** A Go duration or "never". */
  interval?: string;
  skip_interval?: boolean;
  timeout?: string;
  tags?: string[];
}

export interface TaskPlan {
  name: string;
  privileged: boolean;
  hermetic: boolean;
  tags?: string[];
  /** `<artifact>/<path inside it>` of a task.yml; exclusive with `config`. */
  config_path?: string;
  config?: TaskConfig;
  container_limits?: { cpu?: number; memory?: number };
  /** Name of an artifact holding a rootfs-format image; overrides the config's image. */
  image?: string;
  /** Template vars for a `config_path` file. */
  vars?: Params;
  params?: Record<string, string>;
  input_mapping?: Record<string, string>;
  output_mapping?: Record<string, string>;
  timeout?: string;
  resource_types?: ResourceTypeConfig[];
  check_skip_interval?: boolean;
}

/** Prototype run step (experimental in Concourse). */
export interface RunPlan {
  message: string;
  type: string;
  object?: Params;
  privileged: boolean;
  tags?: string[];
  container_limits?: { cpu?: number; memory?: number };
  timeout?: string;
}

export interface SetPipelinePlan {
  name: string;
  file: string;
  team?: string;
  vars?: Params;
  var_files?: string[];
  instance_vars?: Params;
}

export interface LoadVarPlan {
  name: string;
  file: string;
  format?: string;
  reveal?: boolean;
}

export interface InParallelPlan {
  /** fly posts `null` when `fly execute` has no inputs; decoded as an empty list. */
  steps: Plan[];
  /** Maximum steps running at once; absent or < 1 means unlimited. */
  limit?: number;
  fail_fast?: boolean;
}

export interface AcrossVar {
  name: string;
  values?: unknown;
  max_in_flight?: 'all' | number;
}

export interface AcrossPlan {
  vars: AcrossVar[];
  /** The uninterpolated JSON of the sub-plan, instantiated once per combination of values. */
  substep_template: string;
  fail_fast?: boolean;
}

export interface OnSuccessPlan {
  step: Plan;
  on_success: Plan;
}
export interface OnFailurePlan {
  step: Plan;
  on_failure: Plan;
}
export interface OnAbortPlan {
  step: Plan;
  on_abort: Plan;
}
export interface OnErrorPlan {
  step: Plan;
  on_error: Plan;
}
export interface EnsurePlan {
  step: Plan;
  ensure: Plan;
}
export interface TryPlan {
  step: Plan;
}
export interface TimeoutPlan {
  step: Plan;
  /** A Go duration. */
  duration: string;
}

/** `fly execute -i`: an uploaded artifact made available under `name`. */
export interface ArtifactInputPlan {
  artifact_id: number;
  name: string;
}

/** `fly execute -o`: the build's artifact `name` kept for download. */
export interface ArtifactOutputPlan {
  name: string;
}

/** Deprecated; only found in the plans of old builds. */
export interface DependentGetPlan {
  type: string;
  name?: string;
  resource: string;
}

/** Each step key and the body it carries. */
export interface StepBodies {
  get: GetPlan;
  put: PutPlan;
  check: CheckPlan;
  task: TaskPlan;
  run: RunPlan;
  set_pipeline: SetPipelinePlan;
  load_var: LoadVarPlan;
  do: Plan[];
  in_parallel: InParallelPlan;
  across: AcrossPlan;
  on_success: OnSuccessPlan;
  on_failure: OnFailurePlan;
  on_abort: OnAbortPlan;
  on_error: OnErrorPlan;
  ensure: EnsurePlan;
  try: TryPlan;
  timeout: TimeoutPlan;
  /** One plan per attempt; each attempt's nodes carry `attempts`. */
  retry: Plan[];
  artifact_input: ArtifactInputPlan;
  artifact_output: ArtifactOutputPlan;
  dependent_get: DependentGetPlan;
}

export type StepKind = keyof StepBodies;

/** The plan node whose step is `K`, e.g. `PlanOf<'task'>` is `{id, attempts?, task: TaskPlan}`. */
export type PlanOf<K extends StepKind> = PlanEnvelope & { [P in K]: StepBodies[P] };

/** A plan node: the envelope and exactly one step. */
export type Plan = { [K in StepKind]: PlanOf<K> }[StepKind];

export const STEP_KINDS: readonly StepKind[] = [
  'get',
  'put',
  'check',
  'task',
  'run',
  'set_pipeline',
  'load_var',
  'do',
  'in_parallel',
  'across',
  'on_success',
  'on_failure',
  'on_abort',
  'on_error',
  'ensure',
  'try',
  'timeout',
  'retry',
  'artifact_input',
  'artifact_output',
  'dependent_get',
];

/** Which step a (decoded) plan node carries. */
export function stepKindOf(plan: Plan): StepKind {
  for (const kind of STEP_KINDS) {
    if (kind in plan) return kind;
  }
  throw new Error(`plan ${plan.id} has no step`);
}

/** Narrow a plan node to its step kind. */
export function isStep<K extends StepKind>(plan: Plan, kind: K): plan is Plan & PlanOf<K> {
  return kind in plan;
}
