// The event log of one build running on this node: numbers events from where the build's stored events
// end, keeps the most recent ones in memory for live watchers, and stores them in `build_events` in
// batches, in order. Concourse keeps the same contract (atc/db/build.go SaveEvent + build_events), with
// a notification per event; here watchers on this node are woken directly and others poll the table.
import { insertBuildEvents, type Database, type Kysely, type StoredBuildEvent } from '@jetbridge/db';
import type { FastifyBaseLogger } from 'fastify';

/** One build event as the engine emits it; the log adds `event_id`. */
export interface BuildEventInput {
  event: string;
  version: string;
  data: Record<string, unknown>;
}

/** An event as streamed: its id and the exact envelope text. */
export interface NumberedEvent {
  eventId: number;
  payload: string;
}

export interface BuildEventLogOptions {
  /** Events kept in memory for watchers; older ones are read from the database. */
  recentLimit?: number;
  /** When this many events await storage, `append` waits for the database (backpressure on the build). */
  pendingHighWater?: number;
  /** Wait between attempts when storing fails (database unreachable). */
  retryDelayMs?: number;
}

/**
 * The wire envelope, key order as Concourse's `event.Envelope` marshals it. `data` is always present:
 * fly dereferences it.
 */
export function envelopeJson(event: BuildEventInput, eventId: number): string {
  return JSON.stringify({
    data: event.data,
    event: event.event,
    version: event.version,
    event_id: String(eventId),
  });
}

export class BuildEventLog {
  private nextId: number;
  /** Appended, not yet stored; always a suffix of `recent`. */
  private pending: StoredBuildEvent[] = [];
  /** The newest events, contiguous, ending at `nextId - 1`. */
  private recent: NumberedEvent[] = [];
  /** Every id below this one is in the database. */
  private storedUpTo: number;
  private flushing: Promise<void> | undefined;
  private giveUpAt = Infinity;
  private gaveUp = false;
  private sealed = false;
  private finishedFlag = false;
  private readonly listeners = new Set<() => void>();
  private readonly recentLimit: number;
  private readonly pendingHighWater: number;
  private readonly retryDelayMs: number;

  constructor(
    readonly buildId: number,
    firstEventId: number,
    private readonly db: Kysely<Database>,
    private readonly logger: FastifyBaseLogger,
    options: BuildEventLogOptions = {},
  ) {
    this.nextId = firstEventId;
    this.storedUpTo = firstEventId;
    this.recentLimit = options.recentLimit ?? 2000;
    this.pendingHighWater = options.pendingHighWater ?? 500;
    this.retryDelayMs = options.retryDelayMs ?? 1000;
  }

  /** The id the next event will get (= how many events the build has). */
  get nextEventId(): number {
    return this.nextId;
  }

  /** The build is over and every event is stored: a watcher that has read them all may end its stream. */
  get finished(): boolean {
    return this.finishedFlag;
  }

  /**
   * Number, keep and queue an event for storage. Resolves at once unless too many events await the
   * database, so a slow database slows the build instead of growing memory. Events after `seal` are dropped
   * (a build force-aborted while its steps still wind down).
   */
  async append(event: BuildEventInput): Promise<void> {
    if (this.sealed) return;
    const eventId = this.nextId++;
    const payload = envelopeJson(event, eventId);
    this.pending.push({ buildId: this.buildId, eventId, type: event.event, version: event.version, payload });
    this.recent.push({ eventId, payload });
    this.trimRecent();
    this.notify();
    const flushed = this.scheduleFlush();
    if (this.pending.length >= this.pendingHighWater) await flushed;
  }

  /**
   * No more events: store what is pending. With `timeoutMs`, gives up storing after that long (shutdown
   * with the database gone) and resolves false.
   */
  async seal(timeoutMs?: number): Promise<boolean> {
    this.sealed = true;
    if (timeoutMs !== undefined) this.giveUpAt = Date.now() + timeoutMs;
    while (this.pending.length > 0 && !this.gaveUp) await this.scheduleFlush();
    return !this.gaveUp;
  }

  /** The build's status is final in the database; wake watchers so they send `end`. */
  markFinished(): void {
    this.finishedFlag = true;
    this.notify();
  }

  /**
   * Up to `max` events from `fromId` served from memory: [] when there are none yet, undefined when
   * `fromId` is older than what memory holds (read those from the database).
   */
  eventsFrom(fromId: number, max: number): NumberedEvent[] | undefined {
    if (fromId >= this.nextId) return [];
    const first = this.recent[0];
    if (first === undefined || fromId < first.eventId) return undefined;
    const start = fromId - first.eventId;
    return this.recent.slice(start, start + max);
  }

  /** Call `listener` on every new event and when the build finishes; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  /** Drop the oldest events from memory, but never one that is not stored yet. */
  private trimRecent(): void {
    let drop = this.recent.length - this.recentLimit;
    if (drop <= 0) return;
    const first = this.recent[0];
    if (first === undefined) return;
    drop = Math.min(drop, this.storedUpTo - first.eventId);
    if (drop > 0) this.recent.splice(0, drop);
  }

  /** Start storing pending events unless that is under way; resolves when the current pass is done. */
  private scheduleFlush(): Promise<void> {
    this.flushing ??= new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.flushLoop())
      .finally(() => {
        this.flushing = undefined;
        // An event appended while the last pass was finishing starts the next pass.
        if (this.pending.length > 0 && !this.gaveUp) void this.scheduleFlush();
      });
    return this.flushing;
  }

  private async flushLoop(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.slice(0, 500);
      try {
        await insertBuildEvents(this.db, batch);
      } catch (err) {
        if (isIntegrityViolation(err)) {
          // Retrying cannot help (the ids are taken): the events are lost rather than the build stalled.
          this.logger.error(
            { err, buildId: this.buildId, events: batch.length },
            'dropping build events that cannot be stored',
          );
        } else {
          if (Date.now() >= this.giveUpAt) {
            this.logger.error(
              { err, buildId: this.buildId, events: this.pending.length },
              'giving up storing build events',
            );
            this.gaveUp = true;
            return;
          }
          // The database may be restarting; the events stay queued (and `append` waits) until it is back.
          this.logger.warn(
            { err, buildId: this.buildId, events: batch.length },
            'failed to store build events; retrying',
          );
          await new Promise((resolve) =>
            setTimeout(resolve, Math.min(this.retryDelayMs, Math.max(0, this.giveUpAt - Date.now()))),
          );
          continue;
        }
      }
      this.pending.splice(0, batch.length);
      const last = batch[batch.length - 1];
      if (last) this.storedUpTo = last.eventId + 1;
      this.trimRecent();
    }
  }
}

/** PostgreSQL class 23 (integrity constraint violation), e.g. a duplicate event id. */
function isIntegrityViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('23');
}
