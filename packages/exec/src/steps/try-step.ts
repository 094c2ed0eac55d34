// `try` (atc/exec/try_step.go): a failure or an error of the inner step becomes success; only an abort
// passes through (a timeout does not: it is swallowed like any failure).
import type { PlanOf } from '@jetbridge/plan';
import type { RunState } from '../run-state.js';
import type { Step } from '../step.js';
import type { StepBuilder } from '../step-builder.js';
import { isInterruption } from '../step-errors.js';

export class TryStep implements Step {
  constructor(private readonly step: Step) {}

  async run(state: RunState, signal: AbortSignal): Promise<boolean> {
    try {
      await this.step.run(state, signal);
    } catch (error) {
      if (isInterruption(error)) throw error;
    }
    return true;
  }
}

export function tryStep(plan: PlanOf<'try'>, builder: StepBuilder, attempts: readonly number[]): Step {
  return new TryStep(builder.build(plan.try.step, attempts));
}
