// Go contexts, as AbortSignals: a child is aborted with its parent's reason, and can also be aborted on its
// own (fail_fast) or by a deadline (timeout).
import { StepTimeoutError } from './step-errors.js';

/** setTimeout's ceiling (~24.8 days); longer deadlines re-arm. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface ChildSignal {
  readonly signal: AbortSignal;
  abort(reason: unknown): void;
  /** Stop following the parent and cancel any deadline timer. */
  dispose(): void;
}

export function childSignal(parent: AbortSignal): ChildSignal {
  const controller = new AbortController();
  const follow = (): void => controller.abort(parent.reason);
  if (parent.aborted) follow();
  else parent.addEventListener('abort', follow, { once: true });
  return {
    signal: controller.signal,
    abort: (reason) => controller.abort(reason),
    dispose: () => parent.removeEventListener('abort', follow),
  };
}

/** Go's context.WithTimeout: aborted with a StepTimeoutError after `ms` (at once when `ms` <= 0). */
export function deadlineSignal(parent: AbortSignal, ms: number): ChildSignal {
  const child = childSignal(parent);
  const deadline = Date.now() + ms;
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      child.abort(new StepTimeoutError());
      return;
    }
    timer = setTimeout(arm, Math.min(remaining, MAX_TIMER_MS));
  };
  arm();
  return {
    signal: child.signal,
    abort: child.abort,
    dispose: () => {
      if (timer !== undefined) clearTimeout(timer);
      child.dispose();
    },
  };
}

/** Resolves when `signal` fires; `dispose` removes the listener when it is no longer needed. */
export function whenAborted(signal: AbortSignal): { fired: Promise<void>; dispose(): void } {
  let onAbort: () => void = () => undefined;
  const fired = new Promise<void>((resolve) => {
    onAbort = resolve;
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  return { fired, dispose: () => signal.removeEventListener('abort', onAbort) };
}
