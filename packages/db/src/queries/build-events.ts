// Build events as streamed: `payload` is the envelope's JSON text, numbered from 0 per build and replayed
// byte for byte (Concourse's build_events table and `build.Events(from)`).
import type { Kysely } from 'kysely';
import type { Database } from '../schema.js';

export interface StoredBuildEvent {
  buildId: number;
  /** Contiguous from 0 within the build; also the SSE `id:`. */
  eventId: number;
  type: string;
  version: string;
  /** `{"data":…,"event":…,"version":…,"event_id":"n"}`, exactly as sent. */
  payload: string;
}

/** Store events in one statement. Ids must be new for the build (the primary key refuses duplicates). */
export async function insertBuildEvents(
  db: Kysely<Database>,
  events: readonly StoredBuildEvent[],
): Promise<void> {
  if (events.length === 0) return;
  await db
    .insertInto('build_events')
    .values(
      events.map((event) => ({
        build_id: event.buildId,
        event_id: event.eventId,
        type: event.type,
        version: event.version,
        payload: event.payload,
      })),
    )
    .execute();
}

/** Up to `limit` events of a build with id ≥ `fromId`, in order: one page of a replay. */
export async function listBuildEvents(
  db: Kysely<Database>,
  buildId: number,
  fromId: number,
  limit: number,
): Promise<Array<{ eventId: number; payload: string }>> {
  const rows = await db
    .selectFrom('build_events')
    .select(['event_id', 'payload'])
    .where('build_id', '=', buildId)
    .where('event_id', '>=', fromId)
    .orderBy('event_id')
    .limit(limit)
    .execute();
  return rows.map((row) => ({ eventId: row.event_id, payload: row.payload }));
}

/** The id the build's next event gets: one past the highest stored, 0 for none. */
export async function nextBuildEventId(db: Kysely<Database>, buildId: number): Promise<number> {
  const row = await db
    .selectFrom('build_events')
    .select((eb) => eb.fn.max('event_id').as('last'))
    .where('build_id', '=', buildId)
    .executeTakeFirst();
  const last = row?.last;
  return last === null || last === undefined ? 0 : Number(last) + 1;
}
