// `attempts: N` (atc/exec/retry_step.go): the plan holds one sub-plan per attempt; they run in turn until one
// succeeds. A failure or an error starts the next attempt, the last attempt's result counts, and an abort
// stops at once. Each attempt's containers carry its attempt number ("2", or "1.2" when nested).
import type { PlanOf } from '@jetbridge/plan';
import type { RunState } from '../run-state.js';
import type { Step } from '../step.js';
import type { StepBuilder } from '../step-builder.js';
import { abortReason } from '../step-errors.js';

export class RetryStep implements Step {
  constructor(private readonly attempts: readonly Step[]) {}

  async run(state: RunState, signal: AbortSignal): Promise<boolean> {
    let succeeded = false;
    let lastError: unknown;
    for (const attempt of this.attempts) {
      try {
        succeeded = await attempt.run(state, signal);
        lastError = undefined;
      } catch (error) {
        succeeded = false;
        lastError = error;
      }
      if (signal.aborted) throw abortReason(signal);
      if (lastError === undefined && succeeded) break;
    }
    if (lastError !== undefined) throw lastError;
    return succeeded;
  }
}

export function retryStep(plan: PlanOf<'retry'>, builder: StepBuilder, attempts: readonly number[]): Step {
  return new RetryStep(plan.retry.map((inner, index) => builder.build(inner, [...attempts, index + 1])));
}
