// `do`: steps in order, stopping at the first that does not succeed (atc/engine/builder.go builds it as a
// chain of OnSuccess steps).
import type { PlanOf } from '@jetbridge/plan';
import type { RunState } from '../run-state.js';
import type { Step } from '../step.js';
import type { StepBuilder } from '../step-builder.js';

export class DoStep implements Step {
  constructor(private readonly steps: readonly Step[]) {}

  async run(state: RunState, signal: AbortSignal): Promise<boolean> {
    for (const step of this.steps) {
      if (!(await step.run(state, signal))) return false;
    }
    return true;
  }
}

export function doStep(plan: PlanOf<'do'>, builder: StepBuilder, attempts: readonly number[]): Step {
  return new DoStep(plan.do.map((inner) => builder.build(inner, attempts)));
}
