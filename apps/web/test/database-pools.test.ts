import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  allocateBuildId,
  createStartedOneOffBuild,
  finishBuild,
  insertBuildEvents,
  sql,
} from '@jetbridge/db';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import pino from 'pino';
import { LISTENER_APPLICATION_NAME } from '../src/auth/auth-change-listener.js';
import { BuildTrackingLocks } from '../src/builds/build-tracking-locks.js';
import { LOCK_APPLICATION_NAME } from '../src/builds/session-advisory-locks.js';
import {
  API_POOL_APPLICATION_NAME,
  BACKEND_POOL_APPLICATION_NAME,
  LOCK_CONNECTIONS,
  embeddedPostgresMaxConnections,
} from '../src/database-pools.js';
import { parseWebConfig } from '../src/config/index.js';
import { startJetBridge } from '../src/server.js';
import { createBuild, executePlan, readBuildEvents, statusesOf } from './execute-client.js';
import { shTask } from './execute-flow.js';
import { ADMIN, jsonLogSink, loginToken, startTestServer, until, type TestServer } from './harness.js';

/**
 * The web node's two PostgreSQL pools, as Concourse's (--api-max-conns, --backend-max-conns): work that goes on
 * by itself (builds, checks, scheduling, GC) cannot take the connections the HTTP API needs, and the node never
 * holds more connections than the two sizes allow. Its session advisory locks (build tracking, checking) are
 * held on connections of their own beside both pools, as Concourse's lock connections: no pool's connection
 * goes to them. Real server, real PostgreSQL; what PostgreSQL sees is read from pg_stat_activity on a
 * connection of the test's own.
 */

const MONITOR_APPLICATION_NAME = 'database-pools-test';

/** A connection of the test's own, outside the node, named so it can be left out of the counts. */
async function ownConnection(ts: TestServer): Promise<pg.Client> {
  const { host, port, user, password, database } = ts.postgres.connection;
  const client = new pg.Client({
    host,
    port,
    user,
    password,
    database,
    application_name: MONITOR_APPLICATION_NAME,
  });
  await client.connect();
  return client;
}

/** The node's connections to its database by application_name (the test's own left out). */
async function connectionsByName(client: pg.Client, database: string): Promise<Map<string, number>> {
  const { rows } = await client.query<{ name: string; n: number }>(
    `select application_name as name, count(*)::int as n from pg_stat_activity
      where datname = $1 and backend_type = 'client backend' and application_name <> $2
      group by application_name`,
    [database, MONITOR_APPLICATION_NAME],
  );
  return new Map(rows.map((row) => [row.name, row.n]));
}

async function timed<T>(what: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const began = performance.now();
  const value = await what();
  return { value, ms: performance.now() - began };
}

/** `GET path` with a bearer token: status and body. */
async function get(ts: TestServer, token: string, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${ts.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.text() };
}

describe('a backend pool that is all taken', () => {
  const SLEEP_SECONDS = 6;
  let ts: TestServer;
  let token: string;
  let finishedBuildId: number;

  beforeAll(async () => {
    ts = await startTestServer({ argv: ['--api-max-conns', '2', '--backend-max-conns', '2'] });
    token = await loginToken(ts.url, ADMIN);
    // A finished build with its events stored: its event stream is read from the database, by the API.
    const db = ts.server.ctx.db;
    finishedBuildId = await allocateBuildId(db);
    await createStartedOneOffBuild(db, {
      id: finishedBuildId,
      teamName: 'main',
      plan: { id: 'x', artifact_output: { name: 'o' } },
      createdBy: 'admin',
      trackedBy: ts.server.ctx.nodeName,
    });
    await insertBuildEvents(db, [
      {
        buildId: finishedBuildId,
        eventId: 0,
        type: 'log',
        version: '5.1',
        payload: JSON.stringify({
          data: { origin: { id: 'x', source: 'stdout' }, payload: 'hello\n', time: 1 },
          event: 'log',
          version: '5.1',
          event_id: '0',
        }),
      },
    ]);
    await finishBuild(db, finishedBuildId, 'succeeded');
  }, 120_000);

  afterAll(async () => {
    await ts?.destroy();
  });

  it('leaves the API answering at once: teams, builds, a finished build’s events, a login', async () => {
    const { backendPool, pool: apiPool } = ts.server.ctx;
    // Exactly the flag: the lock connections are not the pool's.
    const backendMax = 2;
    expect(backendPool.options.max).toBe(backendMax);
    expect(apiPool.options.max).toBe(2);

    // More sleepers than the backend has connections: every one is taken, and the rest queue.
    const sleepers = Array.from({ length: backendMax + 2 }, () =>
      sql`select pg_sleep(${SLEEP_SECONDS})`.execute(ts.server.ctx.backendDb),
    );
    try {
      await until('the backend pool to be full with work queueing', () =>
        backendPool.totalCount === backendMax && backendPool.waitingCount > 0 ? true : undefined,
      );

      // The control: backend work now waits for seconds.
      const backendQuery = sql`select 1`.execute(ts.server.ctx.backendDb);
      const backendAnswered = await Promise.race([
        backendQuery.then(
          () => true,
          () => true,
        ),
        new Promise<false>((resolve) => setTimeout(() => resolve(false), 2_000)),
      ]);
      expect(backendAnswered).toBe(false);
      expect(backendPool.waitingCount).toBeGreaterThan(0);

      // The API, meanwhile, answers as usual from its own pool.
      const teams = await timed(() => get(ts, token, '/api/v1/teams'));
      expect(teams.value.status).toBe(200);
      expect(JSON.parse(teams.value.body)).toEqual(
        expect.arrayContaining([expect.objectContaining({ name: 'main' })]),
      );
      expect(teams.ms).toBeLessThan(1_500);

      const builds = await timed(() => get(ts, token, '/api/v1/builds'));
      expect(builds.value.status).toBe(200);
      expect(JSON.parse(builds.value.body)).toEqual(
        expect.arrayContaining([expect.objectContaining({ id: finishedBuildId, status: 'succeeded' })]),
      );
      expect(builds.ms).toBeLessThan(1_500);

      // Event streams are read through the API pool too: the whole stream, to its end frame.
      const events = await timed(async () => {
        const controller = new AbortController();
        const res = await fetch(`${ts.url}/api/v1/builds/${finishedBuildId}/events`, {
          headers: { authorization: `Bearer ${token}` },
          signal: controller.signal,
        });
        expect(res.status).toBe(200);
        let text = '';
        const decoder = new TextDecoder();
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          text += decoder.decode(chunk, { stream: true });
          if (text.includes('event: end')) break;
        }
        controller.abort();
        return text;
      });
      expect(events.value).toContain('hello\\n');
      expect(events.value).toContain('event: end');
      expect(events.ms).toBeLessThan(1_500);

      const login = await timed(() => loginToken(ts.url, ADMIN));
      expect(login.value).not.toBe('');
      expect(login.ms).toBeLessThan(3_000);

      // All of that happened while the backend was still full.
      expect(backendPool.waitingCount + backendPool.totalCount).toBeGreaterThan(backendMax);
      await backendQuery.catch(() => undefined);
    } finally {
      await Promise.allSettled(sleepers);
    }
  }, 60_000);
});

describe('under a burst of API requests', () => {
  let ts: TestServer;
  let token: string;
  let monitor: pg.Client;

  beforeAll(async () => {
    // The deprecated single-pool setting still works: it sizes the backend pool.
    ts = await startTestServer({ env: { CONCOURSE_API_MAX_CONNS: '3', CONCOURSE_POSTGRES_MAX_CONNS: '4' } });
    token = await loginToken(ts.url, ADMIN);
    monitor = await ownConnection(ts);
  }, 120_000);

  afterAll(async () => {
    await monitor?.end();
    await ts?.destroy();
  });

  it('holds at most --api-max-conns + the backend’s connections, each pool’s named in pg_stat_activity', async () => {
    const database = ts.postgres.connection.database;
    const peaks = new Map<string, number>();
    let bursting = true;
    const sampling = (async () => {
      while (bursting) {
        for (const [name, n] of await connectionsByName(monitor, database))
          peaks.set(name, Math.max(peaks.get(name) ?? 0, n));
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();

    const paths = [
      '/api/v1/teams',
      '/api/v1/builds',
      '/api/v1/pipelines',
      '/api/v1/teams/main',
      '/api/v1/users',
    ];
    const statuses = await Promise.all(
      Array.from({ length: 150 }, (_, i) =>
        get(ts, token, paths[i % paths.length] as string).then((r) => r.status),
      ),
    );
    bursting = false;
    await sampling;
    for (const [name, n] of await connectionsByName(monitor, database))
      peaks.set(name, Math.max(peaks.get(name) ?? 0, n));

    expect(new Set(statuses)).toEqual(new Set([200]));
    // The burst filled the API pool, and never went past it.
    expect(peaks.get(API_POOL_APPLICATION_NAME)).toBe(3);
    expect(peaks.get(BACKEND_POOL_APPLICATION_NAME) ?? 0).toBeLessThanOrEqual(4);
    // Every connection the node has is one of its pools', a lock connection or the auth listener's: none
    // escapes the sizes.
    expect([...peaks.keys()].sort()).toEqual(
      [
        API_POOL_APPLICATION_NAME,
        BACKEND_POOL_APPLICATION_NAME,
        LOCK_APPLICATION_NAME,
        LISTENER_APPLICATION_NAME,
      ]
        .filter((name) => peaks.has(name))
        .sort(),
    );
    expect(peaks.get(LISTENER_APPLICATION_NAME) ?? 0).toBeLessThanOrEqual(1);
    expect(peaks.get(LOCK_APPLICATION_NAME) ?? 0).toBeLessThanOrEqual(LOCK_CONNECTIONS);
    expect(ts.server.ctx.pool.totalCount).toBeLessThanOrEqual(3);
  }, 60_000);

  it('sizes the backend pool from the deprecated --postgres-max-conns, and says so once at start', () => {
    expect(ts.server.ctx.pool.options.max).toBe(3);
    expect(ts.server.ctx.backendPool.options.max).toBe(4);
    const warnings = ts.logs.filter(
      (line) => line.level === 40 && String(line.msg).includes('--postgres-max-conns'),
    );
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]?.msg)).toContain('--backend-max-conns');
    expect(String(warnings[0]?.msg)).toContain('--api-max-conns');
  });

  it('reports each pool on /metrics as jetbridge_db_connections{dbname="api"|"backend"}', async () => {
    const res = await fetch(`${ts.url}/metrics`);
    const text = await res.text();
    const total = (dbname: string) =>
      Number(
        new RegExp(`^jetbridge_db_connections\\{dbname="${dbname}",state="total"\\} (\\d+)$`, 'm').exec(
          text,
        )?.[1],
      );
    expect(total('api')).toBeGreaterThanOrEqual(1);
    expect(total('api')).toBeLessThanOrEqual(3);
    expect(total('backend')).toBeGreaterThanOrEqual(1);
    expect(total('backend')).toBeLessThanOrEqual(4);
    expect(text).toMatch(/^jetbridge_db_connections\{dbname="backend",state="waiting"\} \d+$/m);
  });
});

describe('a backend pool of one connection', () => {
  const TRACKING_LOCK_CLASS = 0x4a42_0001;
  let ts: TestServer;
  let token: string;
  let monitor: pg.Client;

  beforeAll(async () => {
    ts = await startTestServer({ argv: ['--backend-max-conns', '1'] });
    token = await loginToken(ts.url, ADMIN);
    monitor = await ownConnection(ts);
  }, 120_000);

  afterAll(async () => {
    await monitor?.end();
    await ts?.destroy();
  });

  /** The application_name of the session holding build `id`'s tracking lock; undefined when none holds it. */
  async function trackingLockHolder(id: number): Promise<string | undefined> {
    const { rows } = await monitor.query<{ name: string }>(
      `select a.application_name as name from pg_locks l join pg_stat_activity a on a.pid = l.pid
        where l.locktype = 'advisory' and l.classid = $1::oid and l.objid = $2::oid and l.objsubid = 2
          and l.granted`,
      [TRACKING_LOCK_CLASS, id],
    );
    return rows[0]?.name;
  }

  it('is the flag’s size, and a build runs to its end: its tracking lock is on a lock connection', async () => {
    expect(ts.server.ctx.backendPool.options.max).toBe(1);
    const res = await createBuild(
      ts.url,
      token,
      'main',
      executePlan(shTask('sleep 1; echo tracked'), [], []),
    );
    expect(res.status).toBe(201);
    const build = (await res.json()) as { id: number };
    // Held while the build runs, by a session of the locks' own.
    expect(await until('the tracking lock to be seen', () => trackingLockHolder(build.id), 10_000)).toBe(
      LOCK_APPLICATION_NAME,
    );
    const stream = await readBuildEvents(ts.url, token, build.id, { untilTerminalStatus: true });
    expect(statusesOf(stream.events).at(-1)).toBe('succeeded');
    await until('the tracking lock to be released', async () =>
      (await trackingLockHolder(build.id)) === undefined ? true : undefined,
    );

    // The lock connection stays open beside the pool, which never went past its one connection.
    const byName = await connectionsByName(monitor, ts.postgres.connection.database);
    expect(byName.get(LOCK_APPLICATION_NAME)).toBeGreaterThanOrEqual(1);
    expect(byName.get(LOCK_APPLICATION_NAME)).toBeLessThanOrEqual(LOCK_CONNECTIONS);
    expect(byName.get(BACKEND_POOL_APPLICATION_NAME) ?? 0).toBeLessThanOrEqual(1);
    expect(ts.server.ctx.backendPool.totalCount).toBeLessThanOrEqual(1);
  }, 60_000);

  it('lets tracking locks be taken while its one connection is busy', async () => {
    const { backendPool, backendDb } = ts.server.ctx;
    const sleeper = sql`select pg_sleep(5)`.execute(backendDb);
    const locks = new BuildTrackingLocks(backendPool, pino({ level: 'silent' }));
    try {
      await until('the backend pool’s one connection to be busy', () =>
        backendPool.totalCount === 1 && backendPool.idleCount === 0 ? true : undefined,
      );
      const key = 2_000_000_001;
      const taken = await timed(() => locks.tryAcquire(key));
      expect(taken.value).toBe(true);
      expect(taken.ms).toBeLessThan(2_000);
      expect(await trackingLockHolder(key)).toBe(LOCK_APPLICATION_NAME);
      // Still busy, still one: the lock took nothing from the pool.
      expect([backendPool.totalCount, backendPool.idleCount]).toEqual([1, 0]);
      await locks.release(key);
      expect(await trackingLockHolder(key)).toBeUndefined();
    } finally {
      await locks.close();
      await sleeper.catch(() => undefined);
    }
  }, 60_000);
});

/** A node on the embedded default (its own PostgreSQL) with `flags`, logging into `logs`, for `work`; then stopped. */
async function withEmbeddedNode(
  flags: string[],
  logs: Array<Record<string, unknown>>,
  work: (server: Awaited<ReturnType<typeof startJetBridge>>) => Promise<void>,
): Promise<void> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-embedded-pools-'));
  const config = parseWebConfig(
    ['--bind-ip', '127.0.0.1', '--bind-port', '0', '--data-dir', dataDir, ...flags],
    {},
  );
  const server = await startJetBridge(config, { logDestination: jsonLogSink(logs) });
  try {
    await work(server);
  } finally {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

describe('the embedded PostgreSQL', () => {
  it('is started with max_connections for both pools, full, and what is beside them', async () => {
    await withEmbeddedNode(['--backend-max-conns', '150'], [], async (server) => {
      const { rows } = await sql<{
        max: string;
      }>`select current_setting('max_connections') as max`.execute(server.ctx.db);
      const expected = embeddedPostgresMaxConnections({ apiMaxConnections: 10, backendMaxConnections: 150 });
      expect(Number(rows[0]?.max)).toBe(expected);
      // Both pools full, the lock connections and the auth listener beside them.
      expect(expected).toBeGreaterThanOrEqual(10 + 150 + LOCK_CONNECTIONS + 1);
    });
  }, 120_000);

  it('says a lost idle connection in one line: the error, not the pg client pg-pool hangs on it', async () => {
    const logs: Array<Record<string, unknown>> = [];
    const lost = () => logs.filter((line) => line['msg'] === 'idle database connection lost');
    await withEmbeddedNode([], logs, async (server) => {
      // An idle connection in the backend pool, cut by the server (as a failover or an admin would).
      await sql`select 1`.execute(server.ctx.backendDb);
      await sql`select pg_terminate_backend(pid) from pg_stat_activity
        where application_name = ${BACKEND_POOL_APPLICATION_NAME} and state = 'idle'`.execute(server.ctx.db);
      await until('the lost connection to be logged', async () => (lost().length > 0 ? true : undefined));
      expect(lost()[0]).toMatchObject({
        pool: 'backend',
        error: 'terminating connection due to administrator command',
        code: '57P01',
      });
      expect(JSON.stringify(lost())).not.toMatch(/secretKey|connectionParameters/);
    });
  }, 120_000);

  it('logs no lost connection when it stops (its embedded PostgreSQL stops right after the pools close)', async () => {
    const logs: Array<Record<string, unknown>> = [];
    await withEmbeddedNode([], logs, async (server) => {
      // Idle connections in both pools when the stop comes.
      await Promise.all([1, 2, 3].map(() => sql`select pg_sleep(0.05)`.execute(server.ctx.backendDb)));
      await Promise.all([1, 2, 3].map(() => sql`select pg_sleep(0.05)`.execute(server.ctx.db)));
    });
    expect(logs.filter((line) => line['msg'] === 'idle database connection lost')).toEqual([]);
  }, 120_000);
});
