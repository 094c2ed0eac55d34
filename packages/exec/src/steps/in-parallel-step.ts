// `in_parallel` (atc/exec/in_parallel.go): every step started, at most `limit` at once (< 1: no limit). The
// result is failed if any failed; errors are combined. With `fail_fast`, the first step that does not
// succeed cancels the others and stops pending ones from starting; the cancelled siblings' interruptions are
// ignored so the result is failed, not aborted. An abort of the build itself still aborts.
import type { PlanOf } from '@jetbridge/plan';
import { runInParallel } from '../parallel-executor.js';
import type { RunState } from '../run-state.js';
import type { Step } from '../step.js';
import type { StepBuilder } from '../step-builder.js';

export class InParallelStep implements Step {
  constructor(
    private readonly steps: readonly Step[],
    private readonly limit: number,
    private readonly failFast: boolean,
  ) {}

  run(state: RunState, signal: AbortSignal): Promise<boolean> {
    return runInParallel({
      count: this.steps.length,
      limit: this.limit,
      failFast: this.failFast,
      signal,
      run: (index, scoped) => (this.steps[index] as Step).run(state, scoped),
    });
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
