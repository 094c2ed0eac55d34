// One-off builds end to end, driven over real HTTP exactly as `fly execute -c task.yml -i in=./dir -o
// out=./outdir` drives the ATC (concourse-api.md §6.3): chunked tar.gz upload, the §4.2 plan, the SSE event
// stream read as go-sse reads it, the build's artifacts, the output download. Real server, PostgreSQL,
// processes and tar.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, mkdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ADMIN, loginToken, startTestServer, type TestServer } from './harness.js';
import {
  authHeaders,
  createBuild,
  executePlan,
  extractTarGz,
  logText,
  readBuildEvents,
  statusesOf,
  tarGzOf,
  uploadArtifact,
} from './execute-client.js';
import { eventTypes, makeInputDir, shTask, snapshot } from './execute-flow.js';

let server: TestServer;
let token: string;
let scratch: string;

beforeAll(async () => {
  server = await startTestServer();
  token = await loginToken(server.url, ADMIN);
  scratch = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-execute-'));
});

afterAll(async () => {
  await server?.destroy();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

async function upload(dir: string): Promise<number> {
  const res = await uploadArtifact(server.url, token, 'main', tarGzOf(dir));
  expect(res.status).toBe(201);
  const body = (await res.json()) as { id: number; name: string; build_id: number; created_at: number };
  expect(body).toEqual({ id: expect.any(Number), name: '', build_id: 0, created_at: expect.any(Number) });
  return body.id;
}

async function startBuild(plan: unknown): Promise<{ id: number; name: string; status: string }> {
  const res = await createBuild(server.url, token, 'main', plan);
  expect(res.status).toBe(201);
  expect(res.headers.get('content-type')).toBe('application/json');
  return (await res.json()) as { id: number; name: string; status: string };
}

/** Gone, or a zombie (killed, waiting for an init that may never reap it). */
function isDead(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') === true;
  } catch {
    return true;
  }
}

describe('fly execute, over HTTP', () => {
  it('uploads an input, runs the task, and the output downloads byte for byte', async () => {
    const inputDir = await makeInputDir(path.join(scratch, 'input-ok'));
    const artifactId = await upload(inputDir);

    const config = shTask(
      'cp -R in/. out/ && echo made-by-task > out/generated.txt && echo working; echo oops >&2',
      {
        inputs: [{ name: 'in' }],
        outputs: [{ name: 'out' }],
      },
    );
    const build = await startBuild(executePlan(config, [{ name: 'in', artifactId }], ['out']));
    expect(build).toMatchObject({
      status: 'started',
      team_name: 'main',
      api_url: `/api/v1/builds/${build.id}`,
    });
    expect(build).toHaveProperty('start_time');
    expect(Number.isInteger((build as unknown as { start_time: number }).start_time)).toBe(true);

    const stream = await readBuildEvents(server.url, token, build.id);
    expect(stream.ended).toBe(true);
    const types = eventTypes(stream.events);
    expect(types[0]).toBe('status started');
    expect(types.at(-1)).toBe('status succeeded');
    const task = types.filter((t) =>
      ['initialize-task', 'selected-worker', 'start-task', 'finish-task'].includes(t),
    );
    expect(task).toEqual(['initialize-task', 'selected-worker', 'start-task', 'finish-task']);
    expect(types.indexOf('start-task')).toBeLessThan(types.indexOf('log'));
    expect(types.lastIndexOf('log')).toBeLessThan(types.indexOf('finish-task'));
    expect(statusesOf(stream.events)).toEqual(['started', 'succeeded']);
    const finish = stream.events.find((e) => e.event === 'finish-task');
    expect(finish?.data['exit_status']).toBe(0);
    expect(logText(stream.events, 'stdout')).toBe('working\n');
    expect(logText(stream.events, 'stderr')).toBe('oops\n');
    // Ids are contiguous from 0, the SSE id matches the envelope, and `end` follows the last event.
    stream.events.forEach((event, index) => expect(event.event_id).toBe(String(index)));
    stream.frames.slice(0, -1).forEach((frame, index) => expect(frame.id).toBe(String(index)));
    expect(stream.frames.at(-1)).toEqual({ id: String(stream.events.length), name: 'end', data: '' });
    expect(stream.raw.endsWith(`id: ${stream.events.length}\nevent: end\ndata\n\n`)).toBe(true);

    const artifactsRes = await fetch(`${server.url}/api/v1/builds/${build.id}/artifacts`, {
      headers: authHeaders(token),
    });
    expect(artifactsRes.status).toBe(200);
    const artifacts = (await artifactsRes.json()) as Array<{
      id: number;
      name: string;
      build_id: number;
      created_at: number;
    }>;
    expect(artifacts).toEqual([
      { id: expect.any(Number), name: 'out', build_id: build.id, created_at: expect.any(Number) },
    ]);

    const download = await fetch(`${server.url}/api/v1/teams/main/artifacts/${artifacts[0]!.id}`, {
      headers: authHeaders(token),
    });
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('application/octet-stream');
    const outDir = path.join(scratch, 'output-ok');
    await mkdir(outDir);
    await extractTarGz(download, outDir);
    const expected = await snapshot(inputDir);
    expected.set('generated.txt', Buffer.from('made-by-task\n'));
    expect(await snapshot(outDir)).toEqual(expected);
    expect((await stat(path.join(outDir, 'nested', 'deeper', 'run.sh'))).mode & 0o777).toBe(0o755);

    const finished = (await (
      await fetch(`${server.url}/api/v1/builds/${build.id}`, { headers: authHeaders(token) })
    ).json()) as Record<string, unknown>;
    expect(finished).toMatchObject({ id: build.id, status: 'succeeded', name: build.name });
    expect(finished['end_time']).toEqual(expect.any(Number));
  });
});

describe('build outcomes', () => {
  it('a task exiting 1 fails the build, with finish-task exit status 1', async () => {
    const build = await startBuild(executePlan(shTask('echo about to fail; exit 1'), [], []));
    const stream = await readBuildEvents(server.url, token, build.id);
    expect(statusesOf(stream.events)).toEqual(['started', 'failed']);
    expect(stream.events.find((e) => e.event === 'finish-task')?.data['exit_status']).toBe(1);
    expect(logText(stream.events)).toBe('about to fail\n');
    const got = (await (
      await fetch(`${server.url}/api/v1/builds/${build.id}`, { headers: authHeaders(token) })
    ).json()) as { status: string };
    expect(got.status).toBe('failed');
  });

  it('a task config error errors the build with an error event', async () => {
    // The config asks for an input the plan does not provide.
    const build = await startBuild(executePlan(shTask('true', { inputs: [{ name: 'missing' }] }), [], []));
    const stream = await readBuildEvents(server.url, token, build.id);
    expect(statusesOf(stream.events)).toEqual(['started', 'errored']);
    const error = stream.events.find((e) => e.event === 'error');
    expect(error?.version).toBe('4.1');
    expect(error?.data['message']).toEqual(expect.stringContaining('missing'));
    expect(stream.events.some((e) => e.event === 'start-task')).toBe(false);
  });

  it('an artifact of another team is unknown to the build (errored)', async () => {
    // Create another team owned by admin, upload there, use the id from main.
    const put = await fetch(`${server.url}/api/v1/teams/other`, {
      method: 'PUT',
      headers: { ...authHeaders(token), 'content-type': 'application/json' },
      body: JSON.stringify({ auth: { owner: { users: ['local:admin'], groups: [] } } }),
    });
    expect([200, 201]).toContain(put.status);
    const dir = await makeInputDir(path.join(scratch, 'other-team-input'));
    const res = await uploadArtifact(server.url, token, 'other', tarGzOf(dir));
    expect(res.status).toBe(201);
    const { id } = (await res.json()) as { id: number };
    const build = await startBuild(
      executePlan(shTask('ls in', { inputs: [{ name: 'in' }] }), [{ name: 'in', artifactId: id }], []),
    );
    const stream = await readBuildEvents(server.url, token, build.id);
    expect(statusesOf(stream.events)).toEqual(['started', 'errored']);
    expect(stream.events.some((e) => e.event === 'error')).toBe(true);
  });

  it('abort mid-run kills the process and ends the build aborted', async () => {
    const build = await startBuild(
      executePlan(shTask('echo "pid $$"; sleep 120 & echo "child $!"; wait'), [], []),
    );
    const pids: number[] = [];
    let aborted = false;
    const stream = await readBuildEvents(server.url, token, build.id, {
      onEvent: async (event) => {
        if (event.event !== 'log') return;
        for (const match of (event.data['payload'] as string).matchAll(/(?:pid|child) (\d+)/g))
          pids.push(Number(match[1]));
        if (pids.length === 2 && !aborted) {
          aborted = true;
          for (const pid of pids) expect(() => process.kill(pid, 0)).not.toThrow();
          const res = await fetch(`${server.url}/api/v1/builds/${build.id}/abort`, {
            method: 'PUT',
            headers: authHeaders(token),
          });
          expect(res.status).toBe(204);
        }
      },
    });
    expect(aborted).toBe(true);
    expect(statusesOf(stream.events)).toEqual(['started', 'aborted']);
    // The task's process was reaped by the server; its background child was killed with the process group
    // (reaped by init, or a zombie where init does not reap: dead either way).
    const [taskPid, childPid] = pids as [number, number];
    expect(() => process.kill(taskPid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    expect(isDead(childPid)).toBe(true);
    const got = (await (
      await fetch(`${server.url}/api/v1/builds/${build.id}`, { headers: authHeaders(token) })
    ).json()) as { status: string };
    expect(got.status).toBe('aborted');
  });

  it('abort with ?force= finishes the build at once', async () => {
    const build = await startBuild(executePlan(shTask('trap "" TERM; echo ready; sleep 120'), [], []));
    const stream = await readBuildEvents(server.url, token, build.id, {
      onEvent: async (event) => {
        if (event.event !== 'log') return;
        const res = await fetch(`${server.url}/api/v1/builds/${build.id}/abort?force=`, {
          method: 'PUT',
          headers: authHeaders(token),
        });
        expect(res.status).toBe(204);
        // Final as soon as the request is answered, without waiting for the process to stop.
        const got = (await (
          await fetch(`${server.url}/api/v1/builds/${build.id}`, { headers: authHeaders(token) })
        ).json()) as { status: string };
        expect(got.status).toBe('aborted');
      },
    });
    expect(statusesOf(stream.events)).toEqual(['started', 'aborted']);
    expect(stream.events.at(-1)?.data['status']).toBe('aborted');
  });

  it('an undecodable plan is a 400 with an empty body', async () => {
    for (const body of ['{"id":"1"}', 'not json', '{"id":1,"task":{}}']) {
      const res = await fetch(`${server.url}/api/v1/teams/main/builds`, {
        method: 'POST',
        headers: { ...authHeaders(token), 'content-type': 'application/json' },
        body,
      });
      expect(res.status).toBe(400);
      expect(await res.text()).toBe('');
    }
  });
});

describe('the event stream', () => {
  let finishedBuild: number;
  let live: Awaited<ReturnType<typeof readBuildEvents>>;

  beforeAll(async () => {
    const build = await startBuild(executePlan(shTask('for i in 1 2 3 4 5; do echo line $i; done'), [], []));
    finishedBuild = build.id;
    live = await readBuildEvents(server.url, token, build.id);
  });

  it('replays a finished build with identical frames', async () => {
    const replay = await readBuildEvents(server.url, token, finishedBuild);
    expect(replay.raw).toBe(live.raw);
    expect(replay.frames).toEqual(live.frames);
  });

  it('resumes after Last-Event-ID', async () => {
    const resumed = await readBuildEvents(server.url, token, finishedBuild, { lastEventId: '2' });
    expect(resumed.frames[0]?.id).toBe('3');
    expect(resumed.frames).toEqual(live.frames.slice(3));
    const beyond = await readBuildEvents(server.url, token, finishedBuild, { lastEventId: '1000' });
    expect(beyond.frames).toEqual([{ id: '1001', name: 'end', data: '' }]);
  });

  it('answers a non-integer Last-Event-ID with 400, and sends the SSE headers', async () => {
    for (const bad of ['abc', '-1', '1.5', '2x', '99999999999999999999999']) {
      const res = await fetch(`${server.url}/api/v1/builds/${finishedBuild}/events`, {
        headers: { ...authHeaders(token), 'last-event-id': bad },
      });
      expect(res.status).toBe(400);
      await res.text();
    }
    const controller = new AbortController();
    const res = await fetch(`${server.url}/api/v1/builds/${finishedBuild}/events`, {
      headers: authHeaders(token),
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache, no-store, must-revalidate');
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    expect(res.headers.get('x-atc-stream-version')).toBe('2.0');
    expect(res.headers.get('x-concourse-version')).toBe('8.2.5');
    controller.abort();
  });

  it('streams events of a running build as they happen, and the stream stays open after end', async () => {
    const build = await startBuild(executePlan(shTask('echo first; sleep 1; echo second'), [], []));
    const arrivals: Array<{ payload: string; at: number }> = [];
    const stream = await readBuildEvents(server.url, token, build.id, {
      onEvent: (event) => {
        if (event.event === 'log')
          arrivals.push({ payload: event.data['payload'] as string, at: Date.now() });
      },
    });
    expect(arrivals.map((a) => a.payload)).toEqual(['first\n', 'second\n']);
    // "first" reached the watcher while the task was still sleeping.
    expect(arrivals[1]!.at - arrivals[0]!.at).toBeGreaterThanOrEqual(700);
    expect(stream.ended).toBe(true);
  });

  it('needs access to the build: 401 anonymous, 404 unknown, 400 bad id', async () => {
    expect((await fetch(`${server.url}/api/v1/builds/${finishedBuild}/events`)).status).toBe(401);
    expect(
      (await fetch(`${server.url}/api/v1/builds/999999/events`, { headers: authHeaders(token) })).status,
    ).toBe(404);
    expect(
      (await fetch(`${server.url}/api/v1/builds/nope/events`, { headers: authHeaders(token) })).status,
    ).toBe(400);
  });
});
