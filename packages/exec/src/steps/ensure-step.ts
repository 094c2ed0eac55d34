// `ensure` (atc/exec/ensure_step.go): the hook always runs — after an abort or a timeout too, then with a
// fresh signal. Aborted (or timed out) if the step was; errored if the step or the hook errored; otherwise
// succeeded only if both succeeded.
import type { PlanOf } from '@jetbridge/plan';
import type { RunState } from '../run-state.js';
import { freshSignal, type Step } from '../step.js';
import type { StepBuilder } from '../step-builder.js';
import { abortReason, combineErrors } from '../step-errors.js';

export class EnsureStep implements Step {
  constructor(
    private readonly step: Step,
    private readonly hook: Step,
  ) {}

  async run(state: RunState, signal: AbortSignal): Promise<boolean> {
    const errors: unknown[] = [];
    let stepSucceeded = false;
    try {
      stepSucceeded = await this.step.run(state, signal);
    } catch (error) {
      errors.push(error);
    }

    let hookSucceeded = false;
    try {
      hookSucceeded = await this.hook.run(state, signal.aborted ? freshSignal() : signal);
    } catch (error) {
      errors.push(error);
    }

    if (signal.aborted) throw abortReason(signal);
    const error = combineErrors(errors);
    if (error !== undefined) throw error;
    return stepSucceeded && hookSucceeded;
  }
}

export function ensureStep(plan: PlanOf<'ensure'>, builder: StepBuilder, attempts: readonly number[]): Step {
  return new EnsureStep(
    builder.build(plan.ensure.step, attempts),
    builder.build(plan.ensure.ensure, attempts),
  );
}
