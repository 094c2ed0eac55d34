// The build event log and hub against a real PostgreSQL, with tiny memory limits so that a slow watcher
// falls behind what memory holds and must catch up from `build_events` a page at a time.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  allocateBuildId,
  connectDatabase,
  createStartedOneOffBuild,
  listBuildEvents,
  migrateToLatest,
  sql,
  type DatabaseHandle,
} from '@jetbridge/db';
import { startTestPostgres, type TestPostgres } from '@jetbridge/db/testing';
import { pino } from 'pino';
import { BuildEventHub } from '../src/builds/build-event-hub.js';
import { BuildEventLog, envelopeJson } from '../src/builds/build-event-log.js';

let postgres: TestPostgres;
let database: DatabaseHandle;
const logger = pino({ level: 'silent' });

beforeAll(async () => {
  postgres = await startTestPostgres();
  database = connectDatabase(postgres.connection);
  await migrateToLatest(database.db);
  await sql`insert into teams (name, auth) values ('main', '{}'::jsonb)`.execute(database.db);
});

afterAll(async () => {
  await database?.close();
  await postgres?.destroy();
});

async function newBuild(): Promise<number> {
  const id = await allocateBuildId(database.db);
  await createStartedOneOffBuild(database.db, {
    id,
    teamName: 'main',
    plan: {},
    createdBy: null,
    trackedBy: 'test',
  });
  return id;
}

function logEvent(n: number) {
  return {
    event: 'log',
    version: '5.1',
    data: { time: 1, origin: { id: 'p', source: 'stdout' as const }, payload: `line ${n}\n` },
  };
}

describe('BuildEventLog', () => {
  it('numbers events from the first id and stores the exact envelope', async () => {
    const buildId = await newBuild();
    const log = new BuildEventLog(buildId, 0, database.db, logger);
    await log.append({ event: 'status', version: '1.0', data: { status: 'started', time: 5 } });
    await log.append(logEvent(1));
    await log.seal();
    const stored = await listBuildEvents(database.db, buildId, 0, 10);
    expect(stored).toEqual([
      {
        eventId: 0,
        payload: '{"data":{"status":"started","time":5},"event":"status","version":"1.0","event_id":"0"}',
      },
      { eventId: 1, payload: envelopeJson(logEvent(1), 1) },
    ]);
    // After sealing, stragglers (a force-aborted build's steps winding down) are dropped.
    await log.append(logEvent(2));
    expect(log.nextEventId).toBe(2);
  });

  it('keeps only recent events in memory once they are stored', async () => {
    const buildId = await newBuild();
    const log = new BuildEventLog(buildId, 0, database.db, logger, { recentLimit: 10, pendingHighWater: 20 });
    for (let n = 0; n < 200; n++) await log.append(logEvent(n));
    await log.seal();
    expect(log.eventsFrom(0, 5)).toBeUndefined();
    expect(log.eventsFrom(195, 100)?.map((e) => e.eventId)).toEqual([195, 196, 197, 198, 199]);
    expect(log.eventsFrom(200, 5)).toEqual([]);
  });
});

describe('BuildEventHub', () => {
  it('serves a slow watcher every event in order, from memory and from the database', async () => {
    const buildId = await newBuild();
    const hub = new BuildEventHub(database.db, { pageSize: 7, pollIntervalMs: 50 });
    const log = new BuildEventLog(buildId, 0, database.db, logger, { recentLimit: 10, pendingHighWater: 25 });
    hub.register(log);
    const total = 600;

    const received: number[] = [];
    const stop = new AbortController();
    const watcher = (async () => {
      for (;;) {
        const next = await hub.next(buildId, received.length, stop.signal);
        if (next.kind !== 'events') return next.kind;
        expect(next.events.length).toBeLessThanOrEqual(7);
        for (const event of next.events) received.push(event.eventId);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();

    for (let n = 0; n < total; n++) await log.append(logEvent(n));
    await log.seal();
    log.markFinished();
    expect(await watcher).toBe('end');
    expect(received).toEqual(Array.from({ length: total }, (_, i) => i));
  });

  it('wakes a watcher on the next event without polling, and lets it go when closed', async () => {
    const buildId = await newBuild();
    const hub = new BuildEventHub(database.db, { pollIntervalMs: 60_000 });
    const log = new BuildEventLog(buildId, 0, database.db, logger);
    hub.register(log);
    const stop = new AbortController();
    const waiting = hub.next(buildId, 0, stop.signal);
    const started = Date.now();
    setTimeout(() => void log.append(logEvent(0)), 50);
    const next = await waiting;
    expect(next.kind).toBe('events');
    expect(Date.now() - started).toBeLessThan(1000);

    const idle = hub.next(buildId, 1, stop.signal);
    stop.abort();
    expect((await idle).kind).toBe('closed');
  });

  it('replays a build that is not live here from the database, then ends', async () => {
    const buildId = await newBuild();
    const log = new BuildEventLog(buildId, 0, database.db, logger);
    for (let n = 0; n < 15; n++) await log.append(logEvent(n));
    await log.seal();
    await sql`update builds set status = 'succeeded' where id = ${buildId}`.execute(database.db);
    const hub = new BuildEventHub(database.db, { pageSize: 4 });
    const ids: number[] = [];
    for (;;) {
      const next = await hub.next(buildId, ids.length, new AbortController().signal);
      if (next.kind !== 'events') {
        expect(next.kind).toBe('end');
        break;
      }
      ids.push(...next.events.map((e) => e.eventId));
    }
    expect(ids).toEqual(Array.from({ length: 15 }, (_, i) => i));
  });
});
