// `on_failure` (atc/exec/on_failure.go): the hook runs when the step failed (not errored, not aborted). The
// step stays failed whatever the hook does, unless the hook errors.
import type { PlanOf } from '@jetbridge/plan';
import type { RunState } from '../run-state.js';
import type { Step } from '../step.js';
import type { StepBuilder } from '../step-builder.js';

export class OnFailureStep implements Step {
  constructor(
    private readonly step: Step,
    private readonly hook: Step,
  ) {}

  async run(state: RunState, signal: AbortSignal): Promise<boolean> {
    const succeeded = await this.step.run(state, signal);
    if (!succeeded) await this.hook.run(state, signal);
    return succeeded;
  }
}

export function onFailureStep(
  plan: PlanOf<'on_failure'>,
  builder: StepBuilder,
  attempts: readonly number[],
): Step {
  return new OnFailureStep(
    builder.build(plan.on_failure.step, attempts),
    builder.withBuildStatus('failed').build(plan.on_failure.on_failure, attempts),
  );
}
