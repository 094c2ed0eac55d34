// Concourse's LogErrorStep (atc/exec/log_error_step.go): when a leaf step errors, an `error` event tells the
// user why — "interrupted" for an abort, "timeout exceeded" for a deadline, else the error's message.
import type { RunState } from '../run-state.js';
import type { Step } from '../step.js';
import { isInterruption, isTimeout } from '../step-errors.js';

export class LogErrorStep implements Step {
  constructor(
    private readonly planId: string,
    private readonly step: Step,
  ) {}

  async run(state: RunState, signal: AbortSignal): Promise<boolean> {
    try {
      return await this.step.run(state, signal);
    } catch (error) {
      await state.emitError({ id: this.planId }, errorMessage(error), error);
      throw error;
    }
  }
}

export function errorMessage(error: unknown): string {
  if (isInterruption(error)) return 'interrupted';
  if (isTimeout(error)) return 'timeout exceeded';
  return error instanceof Error ? error.message : String(error);
}
