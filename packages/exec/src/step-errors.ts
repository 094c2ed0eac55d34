// How a step ends other than succeeded/failed. Mirrors Go's context errors in atc/exec: a cancelled context
// (build abort, or a fail_fast sibling) and an exceeded deadline (timeout) are told apart from every other
// error, also when several errors are combined.

/** The step was interrupted: the build was aborted (or a fail_fast sibling cancelled it). Go's context.Canceled. */
export class StepInterruptedError extends Error {
  constructor() {
    super('interrupted');
    this.name = 'StepInterruptedError';
  }
}

/** A `timeout` (step modifier or a task's own) ran out. Go's context.DeadlineExceeded. */
export class StepTimeoutError extends Error {
  constructor() {
    super('timeout exceeded');
    this.name = 'StepTimeoutError';
  }
}

/** Errors of several steps (in_parallel children, a step and its hook), as hashicorp/go-multierror. */
export class StepErrors extends Error {
  constructor(readonly errors: readonly unknown[]) {
    super(errors.map((error) => (error instanceof Error ? error.message : String(error))).join('; '));
    this.name = 'StepErrors';
  }
}

/** A step that failed to run, with the plan step it belongs to (a typed error for the API and logs). */
export class StepError extends Error {
  constructor(
    message: string,
    readonly stepName: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StepError';
  }
}

/** Combine errors like multierror.Append: nothing → undefined, one → itself, more → StepErrors. */
export function combineErrors(errors: readonly unknown[]): unknown {
  const present = errors.filter((error) => error !== undefined);
  if (present.length === 0) return undefined;
  if (present.length === 1) return present[0];
  return new StepErrors(present.flatMap((error) => (error instanceof StepErrors ? error.errors : [error])));
}

/** Go's `errors.Is(err, context.Canceled)`. */
export function isInterruption(error: unknown): boolean {
  return matches(error, (e) => e instanceof StepInterruptedError);
}

/** Go's `errors.Is(err, context.DeadlineExceeded)`. */
export function isTimeout(error: unknown): boolean {
  return matches(error, (e) => e instanceof StepTimeoutError);
}

function matches(error: unknown, test: (error: unknown) => boolean): boolean {
  if (test(error)) return true;
  if (error instanceof StepErrors) return error.errors.some((inner) => matches(inner, test));
  return false;
}

/** The error a step throws when its signal fired: the signal's reason (interrupted or timeout exceeded). */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason instanceof StepInterruptedError || signal.reason instanceof StepTimeoutError
    ? signal.reason
    : new StepInterruptedError();
}

export function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw abortReason(signal);
}
