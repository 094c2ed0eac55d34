// A build's events as an SSE byte stream, framed as Concourse's event handler writes them
// (atc/api/buildserver/eventhandler.go with vito/go-sse): `id:`, `event: event`, one `data:` line, then a
// blank line; after the last event of a finished build an `end` frame whose `data` line is empty (go-sse
// drops frames without a data line, so fly would never see an `end` without it).
import { Readable } from 'node:stream';
import type { BuildEventHub } from './build-event-hub.js';

/**
 * A task's stored log events carry `output_offset` (raw output bytes before redaction, for step recovery —
 * runtime/logged-output-offsets.ts). It is not shown: Concourse has no such field, and next to a redacted
 * payload it would tell how long the secrets were. Inside a JSON string every `"` is escaped, so this
 * matches only the field itself.
 */
const OUTPUT_OFFSET_FIELD = /,"output_offset":\d+/;

export function eventFrame(eventId: number, payload: string): string {
  const shown = payload.includes('"output_offset"') ? payload.replace(OUTPUT_OFFSET_FIELD, '') : payload;
  return `id: ${eventId}\nevent: event\ndata: ${shown}\n\n`;
}

export function endFrame(eventId: number): string {
  return `id: ${eventId}\nevent: end\ndata\n\n`;
}

/**
 * Pulls events from the hub only as fast as the client reads them: a page is fetched when the stream's
 * buffer has room, so a slow client costs at most one page of memory. After `end` the stream stays open
 * (as the ATC does) until the client hangs up.
 */
export class BuildEventStream extends Readable {
  private nextId: number;
  private pumping = false;
  /** The consumer asked for more (or the last push left room) since the last fetch began. */
  private wanted = false;
  private ended = false;
  private readonly stop = new AbortController();

  constructor(
    private readonly hub: BuildEventHub,
    private readonly buildId: number,
    fromId: number,
  ) {
    super({ highWaterMark: 64 * 1024 });
    this.nextId = fromId;
    hub.track(this);
  }

  override _read(): void {
    this.wanted = true;
    if (!this.pumping) void this.pump();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.stop.abort();
    callback(error);
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.wanted && !this.ended && !this.destroyed) {
        this.wanted = false;
        const next = await this.hub.next(this.buildId, this.nextId, this.stop.signal);
        if (next.kind === 'closed' || this.destroyed) return;
        if (next.kind === 'end') {
          this.ended = true;
          this.push(endFrame(this.nextId));
          return;
        }
        let room = true;
        for (const event of next.events) {
          room = this.push(eventFrame(event.eventId, event.payload));
          this.nextId = event.eventId + 1;
        }
        // A full buffer means the client is behind: the next `_read` resumes.
        if (room) this.wanted = true;
      }
    } catch (err) {
      this.destroy(err instanceof Error ? err : new Error(String(err)));
    } finally {
      this.pumping = false;
    }
  }
}
