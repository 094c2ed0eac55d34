// Clients that hang up on `GET /api/v1/builds/:id/events` at every point of the stream's life — before the
// access check has answered, while a page of the log is being read, in the middle of replaying a long log,
// after the first event, after `end` — leave nothing behind: no open connection, no event stream still
// watching its build, and the server closes at once. The database is held with table locks (real
// PostgreSQL) so that "while it reads" is a fact of the test, not a race.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  allocateBuildId,
  createStartedOneOffBuild,
  finishBuild,
  insertBuildEvents,
  type StoredBuildEvent,
} from '@jetbridge/db';
import pg from 'pg';
import { ADMIN, loginToken, startTestServer, until, type TestServer } from './harness.js';

let ts: TestServer;
let token: string;
/** A separate session that takes the locks (the server's pool must not be the one holding them). */
let locker: pg.Client;
/** Every connection the server accepted. */
const accepted = new Set<net.Socket>();

beforeAll(async () => {
  ts = await startTestServer();
  ts.server.app.server.on('connection', (socket: net.Socket) => accepted.add(socket));
  token = await loginToken(ts.url, ADMIN);
  locker = new pg.Client(ts.postgres.connection);
  await locker.connect();
}, 120_000);

afterAll(async () => {
  await locker?.end();
  await ts?.destroy();
});

/** A one-off build of main, finished unless told, with `count` log events of about 150 bytes each. Its id. */
async function buildWithLog(count: number, status: 'started' | 'succeeded' = 'succeeded'): Promise<number> {
  const db = ts.server.ctx.db;
  const id = await allocateBuildId(db);
  await createStartedOneOffBuild(db, {
    id,
    teamName: 'main',
    plan: { id: 'x', artifact_output: { name: 'o' } },
    createdBy: 'admin',
    // A started build is another node's (its events are polled for); a finished one's node does not matter.
    trackedBy: 'another-node',
  });
  const events: StoredBuildEvent[] = Array.from({ length: count }, (_, eventId) => ({
    buildId: id,
    eventId,
    type: 'log',
    version: '5.1',
    payload: JSON.stringify({
      data: {
        time: 1,
        origin: { id: 'p', source: 'stdout' },
        payload: `line ${eventId} ${'x'.repeat(40)}\n`,
      },
      event: 'log',
      version: '5.1',
      event_id: String(eventId),
    }),
  }));
  for (let at = 0; at < events.length; at += 1000) await insertBuildEvents(db, events.slice(at, at + 1000));
  if (status !== 'started') await finishBuild(db, id, status);
  return id;
}

/** A raw HTTP/1.1 client on the events route: the test decides exactly when the socket goes. */
function openEvents(buildId: number): { socket: net.Socket; received: () => string } {
  const socket = net.connect(Number(new URL(ts.url).port), '127.0.0.1');
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
  socket.on('error', () => undefined);
  socket.write(
    `GET /api/v1/builds/${buildId}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
      `Authorization: Bearer ${token}\r\nAccept: text/event-stream\r\n\r\n`,
  );
  return { socket, received: () => received };
}

/**
 * Connections still open that have carried a request (idle keep-alive ones, e.g. the login's, are closed
 * first). Not counted: a spare connection fetch opens after an abort and never uses — the server closes
 * those on shutdown (http-shutdown.ts), the last test shows.
 */
function openConnections(): number {
  ts.server.app.server.closeIdleConnections();
  return [...accepted].filter((socket) => !socket.destroyed && socket.bytesRead > 0).length;
}

/** Wait until the events handler has run `times` for `buildId` (it logs each stream it starts). */
async function handlerRan(buildId: number, times: number): Promise<void> {
  await until(
    `the events handler to run ${times} times`,
    () => {
      const started = ts.logs.filter(
        (line) => line.msg === 'streaming build events' && line.buildId === buildId,
      );
      return started.length >= times ? true : undefined;
    },
    10_000,
    20,
  );
}

const watchers = () => ts.server.app.buildTracker.events.watcherCount;

/** Nothing left of any events request: no connection, no stream. */
async function expectAllGone(): Promise<void> {
  await until(
    'connections and event streams to go',
    () => (openConnections() === 0 && watchers() === 0 ? true : undefined),
    5_000,
    20,
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}: ${openConnections()} connections, ${watchers()} watchers`);
  });
}

/** Hold `table` locked (every read waits) while `during` runs; a server query must be waiting on it. */
async function whileLocked(table: string, during: () => Promise<void>): Promise<void> {
  await locker.query('begin');
  try {
    await locker.query(`lock table ${table} in access exclusive mode`);
    await during();
  } finally {
    await locker.query('commit');
  }
}

/** Queries waiting for the lock on `table` (pg_locks is live; pg_stat_activity is a snapshot in a transaction). */
async function lockWaiters(table: string): Promise<number> {
  const { rows } = await locker.query<{ waiting: number }>(
    'select count(*)::int as waiting from pg_locks where not granted and relation = $1::regclass',
    [table],
  );
  return rows[0]?.waiting ?? 0;
}

/** Open the events of `buildId` while `table` is locked, and wait until one more query waits on it (ours). */
async function openEventsBlockedOn(table: string, buildId: number): Promise<net.Socket> {
  const before = await lockWaiters(table);
  const { socket } = openEvents(buildId);
  await until(
    `the request to wait on ${table}`,
    async () => ((await lockWaiters(table)) > before ? true : undefined),
    10_000,
    20,
  );
  return socket;
}

describe('a client hanging up on a build event stream', () => {
  it('at once, right after sending its request', async () => {
    const buildId = await buildWithLog(3);
    for (let n = 0; n < 20; n++) {
      const { socket } = openEvents(buildId);
      // After the request is written (the write queued before connecting goes first).
      socket.once('connect', () => socket.destroy());
    }
    await handlerRan(buildId, 20);
    await expectAllGone();
  });

  it('before the access check has found the build', async () => {
    const buildId = await buildWithLog(3);
    await whileLocked('builds', async () => {
      const socket = await openEventsBlockedOn('builds', buildId);
      socket.destroy();
      await until(
        'the server to see the client go',
        () => (openConnections() === 0 ? true : undefined),
        5_000,
        20,
      );
    });
    // The access check answers once the lock goes; the handler then starts a stream for a client long gone.
    await handlerRan(buildId, 1);
    await expectAllGone();
  });

  it('while the first page of its log is being read', async () => {
    const buildId = await buildWithLog(3);
    await whileLocked('build_events', async () => {
      const socket = await openEventsBlockedOn('build_events', buildId);
      expect(watchers()).toBe(1);
      socket.destroy();
    });
    await expectAllGone();
  });

  it('in the middle of replaying a long log it stopped reading', async () => {
    const buildId = await buildWithLog(20_000);
    const { socket, received } = openEvents(buildId);
    await until('the first events', () => (received().includes('id: 0\n') ? true : undefined), 10_000, 20);
    socket.pause();
    // Give the server time to fill the socket and stop reading pages (its stream is then waiting to be read).
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(received()).not.toContain('event: end');
    socket.destroy();
    await expectAllGone();
  });

  it('after the first event of a build still running elsewhere', async () => {
    const buildId = await buildWithLog(1, 'started');
    const { socket, received } = openEvents(buildId);
    await until('the first event', () => (received().includes('id: 0\n') ? true : undefined), 10_000, 20);
    socket.destroy();
    await expectAllGone();
  });

  it('after the end of a finished build (the stream stays open until the client goes)', async () => {
    const buildId = await buildWithLog(3);
    const { socket, received } = openEvents(buildId);
    await until('the end frame', () => (received().includes('event: end') ? true : undefined), 10_000, 20);
    expect(watchers()).toBe(1);
    socket.destroy();
    await expectAllGone();
  });

  it('by aborting fetch, as the API fuzz does, at once and after the first bytes', async () => {
    const buildId = await buildWithLog(3);
    for (const readFirst of [false, true]) {
      const controller = new AbortController();
      const answer = fetch(`${ts.url}/api/v1/builds/${buildId}/events`, {
        headers: { authorization: `Bearer ${token}` },
        signal: controller.signal,
      });
      if (readFirst) await (await answer).body?.getReader().read();
      controller.abort();
      await answer.catch(() => undefined);
    }
    await expectAllGone();
  });

  it('leaves a server that closes at once', async () => {
    // One more stream left open by its client: shutdown cuts it rather than waiting for it.
    const buildId = await buildWithLog(3);
    const { received } = openEvents(buildId);
    await until('the end frame', () => (received().includes('event: end') ? true : undefined), 10_000, 20);
    const began = Date.now();
    await ts.stop();
    expect(Date.now() - began).toBeLessThan(5_000);
    expect(ts.logs.filter((line) => line.msg === 'slow shutdown step')).toEqual([]);
  });
});
