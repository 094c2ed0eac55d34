// Where watchers find a build's events: from the live log of a build running on this node (woken on every
// event, no polling), else from `build_events` in pages, polling while the build runs elsewhere (another
// web node) or while its node restarts.
import { findBuild, isFinishedStatus, listBuildEvents, type Database, type Kysely } from '@jetbridge/db';
import type { BuildEventLog, NumberedEvent } from './build-event-log.js';

export interface BuildEventHubOptions {
  /** How often a watcher of a build not running here looks for new events. */
  pollIntervalMs?: number;
  /** Most events handed to a watcher at once (one database page). */
  pageSize?: number;
}

/** What a watcher gets next: some events, or the end of a finished build's stream. */
export type NextEvents = { kind: 'events'; events: NumberedEvent[] } | { kind: 'end' } | { kind: 'closed' };

export class BuildEventHub {
  private readonly logs = new Map<number, BuildEventLog>();
  private readonly openedListeners = new Set<(buildId: number) => void>();
  private openWatchers = 0;
  readonly pollIntervalMs: number;
  readonly pageSize: number;

  constructor(
    private readonly db: Kysely<Database>,
    options: BuildEventHubOptions = {},
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
    this.pageSize = options.pageSize ?? 200;
  }

  /** Make a running build's log the source its watchers read from. */
  register(log: BuildEventLog): void {
    this.logs.set(log.buildId, log);
    for (const listener of [...this.openedListeners]) listener(log.buildId);
  }

  /** The build's events are all stored and its status is final: watchers read the database from now on. */
  unregister(log: BuildEventLog): void {
    if (this.logs.get(log.buildId) === log) this.logs.delete(log.buildId);
  }

  /**
   * Count `watcher` (a client's event stream) until it closes: what shutdown and leak tests look at — a
   * stream left open after its client went keeps polling for its build.
   */
  track(watcher: { once(event: 'close', listener: () => void): unknown }): void {
    this.openWatchers++;
    watcher.once('close', () => this.openWatchers--);
  }

  /** Watchers counted by `track` that have not closed. */
  get watcherCount(): number {
    return this.openWatchers;
  }

  live(buildId: number): BuildEventLog | undefined {
    return this.logs.get(buildId);
  }

  /**
   * The events of `buildId` from `fromId` on, waiting until there are some. Resolves `end` once the build
   * has finished and nothing from `fromId` on is left, `closed` when `signal` fires first.
   */
  async next(buildId: number, fromId: number, signal: AbortSignal): Promise<NextEvents> {
    while (!signal.aborted) {
      const log = this.logs.get(buildId);
      if (log) {
        const fromMemory = log.eventsFrom(fromId, this.pageSize);
        if (fromMemory === undefined) {
          // Behind what memory holds: catch up from the database, a page at a time.
          const page = await listBuildEvents(this.db, buildId, fromId, this.pageSize);
          if (page.length > 0) return { kind: 'events', events: page };
          continue;
        }
        if (fromMemory.length > 0) return { kind: 'events', events: fromMemory };
        if (log.finished) return { kind: 'end' };
        await this.waitFor(signal, (wake) => log.subscribe(wake), this.pollIntervalMs * 10);
        continue;
      }

      // Read the status before the events: a build's status turns final only after all its events are stored.
      const build = await findBuild(this.db, buildId);
      const finished = build === undefined || isFinishedStatus(build.status);
      const page = await listBuildEvents(this.db, buildId, fromId, this.pageSize);
      if (page.length > 0) return { kind: 'events', events: page };
      if (finished) return { kind: 'end' };
      await this.waitFor(
        signal,
        (wake) => {
          const onOpened = (opened: number) => {
            if (opened === buildId) wake();
          };
          this.openedListeners.add(onOpened);
          return () => this.openedListeners.delete(onOpened);
        },
        this.pollIntervalMs,
      );
    }
    return { kind: 'closed' };
  }

  /** Resolve on the first of: a wake-up from `subscribe`, `timeoutMs`, `signal`. */
  private waitFor(
    signal: AbortSignal,
    subscribe: (wake: () => void) => () => void,
    timeoutMs: number,
  ): Promise<void> {
    return new Promise<void>((resolve) => {
      let unsubscribe: () => void = () => undefined;
      const done = () => {
        clearTimeout(timer);
        unsubscribe();
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal.addEventListener('abort', done, { once: true });
      unsubscribe = subscribe(done);
    });
  }
}
