// `on_success` (atc/exec/on_success.go): the hook runs when the step succeeded, and its result is the result.
import type { PlanOf } from '@jetbridge/plan';
import type { RunState } from '../run-state.js';
import type { Step } from '../step.js';
import type { StepBuilder } from '../step-builder.js';

export class OnSuccessStep implements Step {
  constructor(
    private readonly step: Step,
    private readonly hook: Step,
  ) {}

  async run(state: RunState, signal: AbortSignal): Promise<boolean> {
    if (!(await this.step.run(state, signal))) return false;
    return this.hook.run(state, signal);
  }
}

export function onSuccessStep(
  plan: PlanOf<'on_success'>,
  builder: StepBuilder,
  attempts: readonly number[],
): Step {
  return new OnSuccessStep(
    builder.build(plan.on_success.step, attempts),
    builder.withBuildStatus('succeeded').build(plan.on_success.on_success, attempts),
  );
}
