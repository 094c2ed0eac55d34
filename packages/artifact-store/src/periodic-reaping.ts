/** What a reaping pass reports at least: what it could not do, retried on the next pass. */
export interface ReapingPassResult {
  failures: Array<{ handle: string; error: unknown }>;
}

export interface PeriodicReapingHooks<R extends ReapingPassResult> {
  /** Called with failures of the background loop (a whole pass that threw, or an item it could not reap). */
  onError?: (error: unknown) => void;
  /** Called after each background pass that completed, with what it did (for logs and metrics). */
  onPass?: (result: R) => void;
}

/**
 * The loop every reaper runs its passes in: one pass at a time (concurrent callers share the pass in progress),
 * and in the background every interval until stopped. The store's reaper and the web's worker-volume reaper
 * reap different things the same way.
 */
export class PeriodicReaping<R extends ReapingPassResult> {
  readonly #pass: () => Promise<R>;
  readonly #hooks: PeriodicReapingHooks<R>;
  #running: Promise<R> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = true;

  constructor(pass: () => Promise<R>, hooks: PeriodicReapingHooks<R> = {}) {
    this.#pass = pass;
    this.#hooks = hooks;
  }

  /** One pass. Concurrent calls share the pass in progress. */
  runOnce(): Promise<R> {
    this.#running ??= this.#pass().finally(() => (this.#running = undefined));
    return this.#running;
  }

  /** A pass every `intervalMs` until {@link stop}; the timer does not keep the process alive. */
  start(intervalMs: number): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    const schedule = (): void => {
      if (this.#stopped) return;
      this.#timer = setTimeout(() => {
        this.runOnce()
          .then(
            (result) => {
              for (const failure of result.failures) this.#hooks.onError?.(failure.error);
              this.#hooks.onPass?.(result);
            },
            (error: unknown) => this.#hooks.onError?.(error),
          )
          .finally(schedule);
      }, intervalMs);
      this.#timer.unref();
    };
    schedule();
  }

  /** Stop the loop and wait for a pass in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
  }
}
