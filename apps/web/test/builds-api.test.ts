// The builds read API (lists with Concourse pagination, visibility, plan, resources, comments), aborting
// builds no node runs, restart recovery, shutdown with running builds, and watchers of builds run elsewhere.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  allocateBuildId,
  createStartedOneOffBuild,
  finishBuild,
  insertBuildEvents,
  sql,
  type Database,
  type Kysely,
} from '@jetbridge/db';
import pg from 'pg';
import { ADMIN, PLAIN_USER, loginToken, startTestServer, type TestServer } from './harness.js';
import {
  authHeaders,
  createBuild,
  executePlan,
  logText,
  readBuildEvents,
  statusesOf,
  type EnvelopeEvent,
} from './execute-client.js';

const EXTERNAL_URL = 'https://ci.example.com';
let server: TestServer;
let token: string;

beforeAll(async () => {
  server = await startTestServer({ env: { CONCOURSE_EXTERNAL_URL: EXTERNAL_URL } });
  token = await loginToken(server.url, ADMIN);
});

afterAll(async () => {
  await server?.destroy();
});

function db(): Kysely<Database> {
  return server.server.ctx.db;
}

async function get(
  path: string,
  auth: string | null = token,
): Promise<{ status: number; headers: Headers; body: unknown }> {
  const res = await fetch(`${server.url}${path}`, { headers: auth !== null ? authHeaders(auth) : {} });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: res.headers.get('content-type') === 'application/json' ? JSON.parse(text) : text,
  };
}

async function runBuild(script: string): Promise<number> {
  const res = await createBuild(
    server.url,
    token,
    'main',
    executePlan({ platform: 'linux', run: { path: 'sh', args: ['-c', script] } }, [], []),
  );
  expect(res.status).toBe(201);
  const { id } = (await res.json()) as { id: number };
  return id;
}

async function buildStatus(id: number): Promise<string> {
  const { rows } = await sql<{ status: string }>`select status from builds where id = ${id}`.execute(db());
  return rows[0]?.status ?? 'missing';
}

/** A build row as another web node would have left it: started, with some events, tracked by `node`. */
async function foreignStartedBuild(node: string, events: number): Promise<number> {
  const id = await allocateBuildId(db());
  await createStartedOneOffBuild(db(), {
    id,
    teamName: 'main',
    plan: { id: 'x', artifact_output: { name: 'o' } },
    createdBy: 'admin',
    trackedBy: node,
  });
  const stored = Array.from({ length: events }, (_, eventId) => {
    const envelope =
      eventId === 0
        ? { data: { status: 'started', time: 1 }, event: 'status', version: '1.0', event_id: '0' }
        : {
            data: { time: 1, origin: { id: 'x', source: 'stdout' }, payload: `line ${eventId}\n` },
            event: 'log',
            version: '5.1',
            event_id: String(eventId),
          };
    return {
      buildId: id,
      eventId,
      type: envelope.event,
      version: envelope.version,
      payload: JSON.stringify(envelope),
    };
  });
  await insertBuildEvents(db(), stored);
  return id;
}

describe('build lists', () => {
  const ids: number[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 5; i++) ids.push(await runBuild('true'));
    for (const id of ids) await readBuildEvents(server.url, token, id);
  });

  it('pages newest first with Link headers from the external URL', async () => {
    const first = await get('/api/v1/builds?limit=2');
    expect(first.status).toBe(200);
    const page1 = first.body as Array<{ id: number }>;
    const newest = [...ids].reverse();
    expect(page1.map((b) => b.id)).toEqual(newest.slice(0, 2));
    expect(first.headers.get('link')).toBe(
      `<${EXTERNAL_URL}/api/v1/builds?to=${newest[2]}&limit=2>; rel="next"`,
    );

    const second = await get(`/api/v1/builds?to=${newest[2]}&limit=2`);
    expect((second.body as Array<{ id: number }>).map((b) => b.id)).toEqual(newest.slice(2, 4));
    expect(second.headers.get('link')).toBe(
      `<${EXTERNAL_URL}/api/v1/builds?to=${newest[4]}&limit=2>; rel="next", <${EXTERNAL_URL}/api/v1/builds?from=${newest[1]}&limit=2>; rel="previous"`,
    );

    // `from` alone: the builds closest to it, still newest first.
    const fromPage = await get(`/api/v1/builds?from=${ids[1]}&limit=2`);
    expect((fromPage.body as Array<{ id: number }>).map((b) => b.id)).toEqual([ids[2], ids[1]]);

    const timestamps = await get('/api/v1/builds?timestamps=true&from=0&limit=3');
    expect((timestamps.body as unknown[]).length).toBe(3);
    expect(timestamps.headers.get('link')).toBeNull();

    const all = await get('/api/v1/builds');
    expect((all.body as unknown[]).length).toBeGreaterThanOrEqual(5);
    expect(all.headers.get('link')).toBeNull();
  });

  it('lists a team’s builds, and only the builds a caller may see', async () => {
    const team = await get('/api/v1/teams/main/builds?limit=1');
    expect((team.body as Array<{ id: number }>).map((b) => b.id)).toEqual([ids[4]]);
    expect(team.headers.get('link')).toBe(
      `<${EXTERNAL_URL}/api/v1/teams/main/builds?to=${ids[3]}&limit=1>; rel="next"`,
    );
    expect((await get('/api/v1/teams/nope/builds')).status).toBe(404);

    const alice = await loginToken(server.url, PLAIN_USER);
    expect((await get('/api/v1/builds', alice)).body).toEqual([]);
    expect((await get('/api/v1/builds', null)).body).toEqual([]);
    expect((await get('/api/v1/teams/main/builds', alice)).status).toBe(403);
    expect((await get(`/api/v1/builds/${ids[0]}`, alice)).status).toBe(403);
    expect((await get(`/api/v1/builds/${ids[0]}`, null)).status).toBe(401);
  });

  it('presents a build as Concourse does', async () => {
    const { status, body } = await get(`/api/v1/builds/${ids[0]}`);
    expect(status).toBe(200);
    const build = body as Record<string, unknown>;
    expect(Object.keys(build)).toEqual([
      'id',
      'team_name',
      'name',
      'status',
      'api_url',
      'start_time',
      'end_time',
      'created_by',
    ]);
    expect(build).toMatchObject({
      id: ids[0],
      team_name: 'main',
      status: 'succeeded',
      api_url: `/api/v1/builds/${ids[0]}`,
      created_by: 'admin',
    });
    // One-off build names come from their own sequence, in creation order.
    const names = await Promise.all(
      ids.map(async (id) => Number(((await get(`/api/v1/builds/${id}`)).body as { name: string }).name)),
    );
    expect(names).toEqual([...names].sort((a, b) => a - b));
  });
});

describe('build details', () => {
  let id: number;
  beforeAll(async () => {
    id = await runBuild('echo detail');
    await readBuildEvents(server.url, token, id);
  });

  it('gives the public plan', async () => {
    const { status, body } = await get(`/api/v1/builds/${id}/plan`);
    expect(status).toBe(200);
    const plan = body as { schema: string; plan: { id: string; do: Array<Record<string, unknown>> } };
    expect(plan.schema).toBe('exec.v2');
    expect(plan.plan.do[1]).toEqual({
      id: expect.any(String),
      task: { name: 'one-off', privileged: false, hermetic: false },
    });
    expect(plan.plan.do[0]).toEqual({ id: expect.any(String), in_parallel: { steps: [] } });
  });

  it('has no resources', async () => {
    expect((await get(`/api/v1/builds/${id}/resources`)).body).toEqual({ inputs: [], outputs: [] });
    expect((await get(`/api/v1/builds/${id}/artifacts`)).body).toEqual([]);
  });

  it('takes a comment, shown on the build but not in lists', async () => {
    const put = await fetch(`${server.url}/api/v1/builds/${id}/comment`, {
      method: 'PUT',
      headers: { ...authHeaders(token), 'content-type': 'application/json' },
      body: JSON.stringify({ comment: 'looks good' }),
    });
    expect(put.status).toBe(200);
    expect(((await get(`/api/v1/builds/${id}`)).body as { comment?: string }).comment).toBe('looks good');
    const listed = ((await get('/api/v1/builds')).body as Array<{ id: number; comment?: string }>).find(
      (b) => b.id === id,
    );
    expect(listed).toBeDefined();
    expect(listed).not.toHaveProperty('comment');
    const bad = await fetch(`${server.url}/api/v1/builds/${id}/comment`, {
      method: 'PUT',
      headers: { ...authHeaders(token), 'content-type': 'application/json' },
      body: '"not an object"',
    });
    expect(bad.status).toBe(400);
  });

  it('aborting a finished build changes nothing', async () => {
    const res = await fetch(`${server.url}/api/v1/builds/${id}/abort`, {
      method: 'PUT',
      headers: authHeaders(token),
    });
    expect(res.status).toBe(204);
    expect(await buildStatus(id)).toBe('succeeded');
    expect(
      (
        await fetch(`${server.url}/api/v1/builds/999999/abort`, {
          method: 'PUT',
          headers: authHeaders(token),
        })
      ).status,
    ).toBe(404);
  });
});

describe('builds no node runs, and builds run elsewhere', () => {
  it('an orphaned build is aborted directly', async () => {
    const id = await foreignStartedBuild('node-that-died', 3);
    const res = await fetch(`${server.url}/api/v1/builds/${id}/abort`, {
      method: 'PUT',
      headers: authHeaders(token),
    });
    expect(res.status).toBe(204);
    expect(await buildStatus(id)).toBe('aborted');
    const stream = await readBuildEvents(server.url, token, id);
    expect(stream.ended).toBe(true);
    expect(stream.events.map((e) => e.event_id)).toEqual(['0', '1', '2', '3']);
    expect(statusesOf(stream.events)).toEqual(['started', 'aborted']);
  });

  it('a watcher of a build running on another node gets its events by polling, then the end', async () => {
    const id = await foreignStartedBuild('live-node', 2);
    // The other node is alive: it holds the build's tracking lock on its own connection.
    const other = new pg.Client(server.postgres.connection);
    await other.connect();
    try {
      await other.query('select pg_advisory_lock($1, $2)', [0x4a42_0001, id]);
      const received: EnvelopeEvent[] = [];
      const watching = readBuildEvents(server.url, token, id, { onEvent: (e) => void received.push(e) });
      // An abort request made here is left to that node (the build keeps running).
      await fetch(`${server.url}/api/v1/builds/${id}/abort`, { method: 'PUT', headers: authHeaders(token) });
      expect(await buildStatus(id)).toBe('started');
      await new Promise((resolve) => setTimeout(resolve, 300));
      const more = [2, 3].map((eventId) => ({
        buildId: id,
        eventId,
        type: eventId === 3 ? 'status' : 'log',
        version: eventId === 3 ? '1.0' : '5.1',
        payload:
          eventId === 3
            ? JSON.stringify({
                data: { status: 'aborted', time: 2 },
                event: 'status',
                version: '1.0',
                event_id: '3',
              })
            : JSON.stringify({
                data: { time: 2, origin: { id: 'x', source: 'stdout' }, payload: 'from afar\n' },
                event: 'log',
                version: '5.1',
                event_id: '2',
              }),
      }));
      await insertBuildEvents(db(), more);
      await finishBuild(db(), id, 'aborted');
      const stream = await watching;
      expect(stream.ended).toBe(true);
      expect(stream.events.map((e) => e.event_id)).toEqual(['0', '1', '2', '3']);
      expect(logText(stream.events)).toBe('line 1\nfrom afar\n');
    } finally {
      await other.end();
    }
  });
});

describe('restarts and shutdown', () => {
  it('a build running when the node shuts down ends errored, and its watcher sees it', async () => {
    const id = await runBuild('echo "pid $$"; sleep 600');
    let pid = 0;
    let restarting: Promise<void> | undefined;
    const stream = await readBuildEvents(server.url, token, id, {
      untilTerminalStatus: true,
      onEvent: (event) => {
        const match = event.event === 'log' ? /pid (\d+)/.exec(event.data['payload'] as string) : null;
        if (match) {
          pid = Number(match[1]);
          restarting = server.restart();
        }
      },
    });
    await restarting;
    token = await loginToken(server.url, ADMIN);
    expect(statusesOf(stream.events)).toEqual(['started', 'errored']);
    // The step reports its interruption, the build why it was interrupted.
    const errors = stream.events.filter((e) => e.event === 'error').map((e) => e.data['message']);
    expect(errors.at(-1)).toBe('build interrupted: the web node running it is shutting down');
    expect(await buildStatus(id)).toBe('errored');
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    // After the restart the same events replay.
    const replay = await readBuildEvents(server.url, token, id);
    expect(replay.events).toEqual(stream.events);
  });

  it('on start, builds left started with no live node end errored; one with a live node is left alone', async () => {
    const mine = await foreignStartedBuild(server.server.ctx.nodeName, 2);
    const dead = await foreignStartedBuild('another-node', 1);
    const alive = await foreignStartedBuild('alive-node', 1);
    const other = new pg.Client(server.postgres.connection);
    await other.connect();
    try {
      await other.query('select pg_advisory_lock($1, $2)', [0x4a42_0001, alive]);
      await server.restart();
      token = await loginToken(server.url, ADMIN);
      expect(await buildStatus(mine)).toBe('errored');
      expect(await buildStatus(dead)).toBe('errored');
      expect(await buildStatus(alive)).toBe('started');

      const mineEvents = (await readBuildEvents(server.url, token, mine)).events;
      expect(mineEvents.map((e) => e.event)).toEqual(['status', 'log', 'error', 'status']);
      expect(mineEvents[2]?.data['message']).toBe('build interrupted: the web node running it restarted');
      expect(mineEvents[3]?.data['status']).toBe('errored');
      const deadEvents = (await readBuildEvents(server.url, token, dead)).events;
      expect(deadEvents[1]?.data['message']).toBe(
        'build interrupted: the web node running it (another-node) stopped',
      );
    } finally {
      await other.end();
    }
  });
});

describe('a busy build', () => {
  it('streams every line of a chatty task in order, to a watcher that falls behind', async () => {
    const lines = 30_000;
    const id = await runBuild(`i=0; while [ $i -lt ${lines} ]; do echo "line $i"; i=$((i+1)); done`);
    const started = Date.now();
    // A slow watcher: it pauses long enough to fall behind what the server keeps in memory.
    let paused = false;
    const stream = await readBuildEvents(server.url, token, id, {
      onEvent: async (event) => {
        if (!paused && event.event === 'log') {
          paused = true;
          await new Promise((resolve) => setTimeout(resolve, 1500));
        }
      },
    });
    const elapsed = Date.now() - started;
    expect(stream.ended).toBe(true);
    stream.events.forEach((event, index) => expect(event.event_id).toBe(String(index)));
    const text = logText(stream.events);
    expect(text.split('\n').filter(Boolean)).toEqual(Array.from({ length: lines }, (_, i) => `line ${i}`));
    expect(statusesOf(stream.events)).toEqual(['started', 'succeeded']);
    const { rows } = await sql<{
      n: number;
    }>`select count(*)::int as n from build_events where build_id = ${id}`.execute(db());
    expect(rows[0]?.n).toBe(stream.events.length);
    process.stdout.write(
      `chatty build: ${lines} lines in ${stream.events.length} events, streamed in ${elapsed} ms\n`,
    );
  });
});
