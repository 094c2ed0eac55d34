// Turns a plan into steps (Concourse's planBuilder, atc/engine/builder.go). Adding a step type is one file in
// steps/ and one line here. Leaf steps are wrapped so their errors become `error` events; the attempt
// numbers of enclosing retries are passed down so containers can be labelled with them.
import { stepKindOf, type Plan, type PlanOf, type StepKind } from '@jetbridge/plan';
import type { Step } from './step.js';
import type { HookBuildStatus } from './step-env.js';
import { acrossStep } from './steps/across-step.js';
import { checkStep } from './steps/check-step.js';
import { getStep } from './steps/get-step.js';
import { loadVarStep } from './steps/load-var-step.js';
import { putStep } from './steps/put-step.js';
import { setPipelineStep } from './steps/set-pipeline-step.js';
import { artifactInputStep } from './steps/artifact-input-step.js';
import { artifactOutputStep } from './steps/artifact-output-step.js';
import { doStep } from './steps/do-step.js';
import { ensureStep } from './steps/ensure-step.js';
import { inParallelStep } from './steps/in-parallel-step.js';
import { LogErrorStep } from './steps/log-error-step.js';
import { onAbortStep } from './steps/on-abort-step.js';
import { onErrorStep } from './steps/on-error-step.js';
import { onFailureStep } from './steps/on-failure-step.js';
import { onSuccessStep } from './steps/on-success-step.js';
import { retryStep } from './steps/retry-step.js';
import { taskStep } from './steps/task-step.js';
import { timeoutStep } from './steps/timeout-step.js';
import { tryStep } from './steps/try-step.js';
import { unsupportedStep } from './steps/unsupported-step.js';

export interface StepBuilder {
  /** The step for `plan`, inside retries whose attempt numbers are `attempts` (outermost first). */
  build(plan: Plan, attempts: readonly number[]): Step;
  /** A builder for a hook's steps, whose get/put/check see BUILD_STATUS (Concourse's withBuildStatus). */
  withBuildStatus(status: HookBuildStatus): StepBuilder;
  /** The status of the hooked step, inside an on_success/on_failure/on_abort/on_error hook. */
  readonly buildStatus: HookBuildStatus | undefined;
}

type StepFactory<K extends StepKind> = (
  plan: PlanOf<K>,
  builder: StepBuilder,
  attempts: readonly number[],
) => Step;

/** Steps that run something and report their own errors. */
const leaf =
  <K extends StepKind>(factory: StepFactory<K>): StepFactory<K> =>
  (plan, builder, attempts) =>
    new LogErrorStep(plan.id, factory(plan, builder, attempts));

const unsupported =
  <K extends StepKind>(kind: K): StepFactory<K> =>
  (plan) =>
    new LogErrorStep(plan.id, unsupportedStep(kind, plan));

const factories: { [K in StepKind]: StepFactory<K> } = {
  task: leaf(taskStep),
  artifact_input: leaf(artifactInputStep),
  artifact_output: leaf(artifactOutputStep),
  do: doStep,
  in_parallel: inParallelStep,
  try: tryStep,
  timeout: timeoutStep,
  retry: retryStep,
  on_success: onSuccessStep,
  on_failure: onFailureStep,
  on_abort: onAbortStep,
  on_error: onErrorStep,
  ensure: ensureStep,
  get: leaf(getStep),
  put: leaf(putStep),
  check: leaf(checkStep),
  run: unsupported('run'),
  set_pipeline: leaf(setPipelineStep),
  load_var: leaf(loadVarStep),
  // Errors of an across are reported for the across too, as Concourse wraps it in LogError.
  across: leaf(acrossStep),
  dependent_get: unsupported('dependent_get'),
};

function stepBuilder(buildStatus: HookBuildStatus | undefined): StepBuilder {
  const builder: StepBuilder = {
    buildStatus,
    build(plan, attempts) {
      const factory = factories[stepKindOf(plan)] as StepFactory<StepKind>;
      return factory(plan as PlanOf<StepKind>, builder, attempts);
    },
    withBuildStatus: (status) => stepBuilder(status),
  };
  return builder;
}

export const planStepBuilder: StepBuilder = stepBuilder(undefined);
