// A step of a running build: Concourse's exec.Step. `run` resolves true (succeeded) or false (failed), and
// rejects when the step errored (StepInterruptedError for an abort, StepTimeoutError for a deadline).
import type { RunState } from './run-state.js';

export interface Step {
  /**
   * Run the step. `signal` fires with a StepInterruptedError (abort, fail_fast) or a StepTimeoutError
   * (timeout) as its reason; a step stops as soon as it can and rejects with that reason.
   */
  run(state: RunState, signal: AbortSignal): Promise<boolean>;
}

/** A signal that never fires: hooks that run after an abort get one (Go's context.Background()). */
export function freshSignal(): AbortSignal {
  return new AbortController().signal;
}
