// `in_parallel` (atc/exec/in_parallel.go): every step started, at most `limit` at once (< 1: no limit). The
// result is failed if any failed; errors are combined. With `fail_fast`, the first step that does not
// succeed cancels the others and stops pending ones from starting; the cancelled siblings' interruptions are
// ignored so the result is failed, not aborted. An abort of the build itself still aborts.
import type { PlanOf } from '@jetbridge/plan';
import type { RunState } from '../run-state.js';
import { childSignal } from '../signals.js';
import type { Step } from '../step.js';
import type { StepBuilder } from '../step-builder.js';
import { StepInterruptedError, abortReason, combineErrors, isInterruption } from '../step-errors.js';

export class InParallelStep implements Step {
  constructor(
    private readonly steps: readonly Step[],
    private readonly limit: number,
    private readonly failFast: boolean,
  ) {}

  async run(state: RunState, signal: AbortSignal): Promise<boolean> {
    const scope = childSignal(signal);
    const errors: unknown[] = [];
    let failures = 0;
    let next = 0;

    const runOne = async (step: Step): Promise<void> => {
      let succeeded = false;
      try {
        succeeded = await step.run(state, scope.signal);
      } catch (error) {
        if (!isInterruption(error)) errors.push(error);
      }
      if (!succeeded) {
        failures++;
        if (this.failFast) scope.abort(new StepInterruptedError());
      }
    };
    const lane = async (): Promise<void> => {
      for (let step = this.steps[next]; step !== undefined; step = this.steps[next]) {
        if (scope.signal.aborted) return;
        next++;
        await runOne(step);
      }
    };

    const lanes = this.limit >= 1 ? Math.min(this.limit, this.steps.length) : this.steps.length;
    try {
      await Promise.all(Array.from({ length: lanes }, lane));
    } finally {
      scope.dispose();
    }

    if (signal.aborted) throw abortReason(signal);
    const error = combineErrors(errors);
    if (error !== undefined) throw error;
    return failures === 0;
  }
}

export function inParallelStep(
  plan: PlanOf<'in_parallel'>,
  builder: StepBuilder,
  attempts: readonly number[],
): Step {
  const { steps, limit, fail_fast: failFast } = plan.in_parallel;
  return new InParallelStep(
    steps.map((inner) => builder.build(inner, attempts)),
    limit ?? 0,
    failFast ?? false,
  );
}
