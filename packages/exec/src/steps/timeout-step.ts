// `timeout` (atc/exec/timeout_step.go): the inner step runs with a deadline; running out makes the step
// *failed* (not errored: the docs say errored, the code and fly's exit code 1 say failed). The task that
// was interrupted reports "timeout exceeded" itself.
import { parseGoDuration, type PlanOf } from '@jetbridge/plan';
import type { RunState } from '../run-state.js';
import { deadlineSignal } from '../signals.js';
import type { Step } from '../step.js';
import type { StepBuilder } from '../step-builder.js';
import { isTimeout } from '../step-errors.js';

export class TimeoutStep implements Step {
  constructor(
    private readonly step: Step,
    private readonly duration: string,
  ) {}

  async run(state: RunState, signal: AbortSignal): Promise<boolean> {
    const ms = parseGoDuration(this.duration);
    const deadline = deadlineSignal(signal, ms);
    try {
      return await this.step.run(state, deadline.signal);
    } catch (error) {
      if (isTimeout(error)) return false;
      throw error;
    } finally {
      deadline.dispose();
    }
  }
}

export function timeoutStep(
  plan: PlanOf<'timeout'>,
  builder: StepBuilder,
  attempts: readonly number[],
): Step {
  return new TimeoutStep(builder.build(plan.timeout.step, attempts), plan.timeout.duration);
}
