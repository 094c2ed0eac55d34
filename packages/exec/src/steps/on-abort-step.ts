// `on_abort` (atc/exec/on_abort.go): the hook runs when the step was interrupted (not on a timeout), with a
// fresh signal so the abort does not stop it too. The step stays aborted; the hook's result is ignored.
import type { PlanOf } from '@jetbridge/plan';
import type { RunState } from '../run-state.js';
import { freshSignal, type Step } from '../step.js';
import type { StepBuilder } from '../step-builder.js';
import { isInterruption } from '../step-errors.js';

export class OnAbortStep implements Step {
  constructor(
    private readonly step: Step,
    private readonly hook: Step,
  ) {}

  async run(state: RunState, signal: AbortSignal): Promise<boolean> {
    try {
      return await this.step.run(state, signal);
    } catch (error) {
      if (isInterruption(error)) {
        await this.hook.run(state, freshSignal()).catch((hookError: unknown) => {
          state.logger.info({ buildId: state.build.id, err: String(hookError) }, 'on_abort hook errored');
        });
      }
      throw error;
    }
  }
}

export function onAbortStep(
  plan: PlanOf<'on_abort'>,
  builder: StepBuilder,
  attempts: readonly number[],
): Step {
  return new OnAbortStep(
    builder.build(plan.on_abort.step, attempts),
    builder.withBuildStatus('aborted').build(plan.on_abort.on_abort, attempts),
  );
}
