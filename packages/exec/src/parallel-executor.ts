// Running several steps at once (Concourse's parallelExecutor, atc/exec/in_parallel.go), shared by
// in_parallel and across: at most `limit` at a time, all started unless `failFast` stops the rest after the
// first that does not succeed. Interruptions caused by that cancellation are not errors, so the result is
// failed, not aborted; an abort of the enclosing signal still aborts.
import { childSignal } from './signals.js';
import { StepInterruptedError, abortReason, combineErrors, isInterruption } from './step-errors.js';

export interface ParallelRun {
  count: number;
  /** Most runs at once; anything below 1 means no limit. */
  limit: number;
  failFast: boolean;
  signal: AbortSignal;
  run(index: number, signal: AbortSignal): Promise<boolean>;
}

/** Resolves true when every run succeeded; rejects with their combined errors, or the abort reason. */
export async function runInParallel({ count, limit, failFast, signal, run }: ParallelRun): Promise<boolean> {
  const scope = childSignal(signal);
  const errors: unknown[] = [];
  let failures = 0;
  let next = 0;

  const runOne = async (index: number): Promise<void> => {
    let succeeded = false;
    try {
      succeeded = await run(index, scope.signal);
    } catch (error) {
      if (!isInterruption(error)) errors.push(error);
    }
    if (!succeeded) {
      failures++;
      if (failFast) scope.abort(new StepInterruptedError());
    }
  };
  const lane = async (): Promise<void> => {
    while (next < count) {
      if (scope.signal.aborted) return;
      await runOne(next++);
    }
  };

  const lanes = limit >= 1 ? Math.min(limit, count) : count;
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
