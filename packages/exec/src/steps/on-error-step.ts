// `on_error` (atc/exec/on_error.go): the hook runs, with a fresh signal, when the step errored — not when it
// was aborted. The step stays errored; the hook's error is added to the step's.
import type { PlanOf } from '@jetbridge/plan';
import type { RunState } from '../run-state.js';
import { freshSignal, type Step } from '../step.js';
import type { StepBuilder } from '../step-builder.js';
import { combineErrors, isInterruption } from '../step-errors.js';

export class OnErrorStep implements Step {
  constructor(
    private readonly step: Step,
    private readonly hook: Step,
  ) {}

  async run(state: RunState, signal: AbortSignal): Promise<boolean> {
    try {
      return await this.step.run(state, signal);
    } catch (error) {
      if (isInterruption(error)) throw error;
      let hookError: unknown;
      try {
        await this.hook.run(state, freshSignal());
      } catch (caught) {
        hookError = caught;
      }
      throw combineErrors([error, hookError]);
    }
  }
}

export function onErrorStep(
  plan: PlanOf<'on_error'>,
  builder: StepBuilder,
  attempts: readonly number[],
): Step {
  return new OnErrorStep(
    builder.build(plan.on_error.step, attempts),
    builder.withBuildStatus('errored').build(plan.on_error.on_error, attempts),
  );
}
