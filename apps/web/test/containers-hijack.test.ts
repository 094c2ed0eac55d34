// Workers, containers, volumes and hijack (`fly workers/containers/volumes/hijack/intercept`) against a
// running one-off build, over real HTTP and a real WebSocket.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import WebSocket from 'ws';
import { ADMIN, PLAIN_USER, loginToken, startTestServer, type TestServer } from './harness.js';
import { authHeaders, createBuild, executePlan, readBuildEvents, statusesOf } from './execute-client.js';

let server: TestServer;
let token: string;
let buildId: number;
let container: Record<string, unknown>;

async function getJson(path: string, auth = token): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${server.url}${path}`, { headers: authHeaders(auth) });
  const text = await res.text();
  const isJson = res.headers.get('content-type') === 'application/json';
  return { status: res.status, body: isJson ? (JSON.parse(text) as unknown) : text };
}

beforeAll(async () => {
  server = await startTestServer();
  token = await loginToken(server.url, ADMIN);
  const res = await createBuild(
    server.url,
    token,
    'main',
    executePlan({ platform: 'linux', run: { path: 'sh', args: ['-c', 'echo started; sleep 600'] } }, [], []),
  );
  buildId = ((await res.json()) as { id: number }).id;
  // Wait for the task's container, as `fly hijack -b` would look for it.
  for (let attempt = 0; attempt < 100; attempt++) {
    const { body } = await getJson(`/api/v1/teams/main/containers?build_id=${buildId}`);
    const found = (body as Array<Record<string, unknown>>).find((c) => c['state'] === 'created');
    if (found) {
      container = found;
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  expect(container).toBeDefined();
});

afterAll(async () => {
  await server?.destroy();
});

interface HijackResult {
  messages: Array<Record<string, unknown>>;
  closeCode: number;
  stdout: string;
  stderr: string;
}

/** Run a process in a container as fly does: spec first, then stdin messages; collect until the socket closes. */
function hijack(
  handle: string,
  spec: unknown,
  inputs: unknown[] = [],
  rawFirstMessage?: string,
): Promise<HijackResult> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(
      `${server.url.replace('http', 'ws')}/api/v1/teams/main/containers/${handle}/hijack`,
      {
        // fly sends the stored token type verbatim: lowercase `bearer`.
        headers: { authorization: `bearer ${token}` },
      },
    );
    const result: HijackResult = { messages: [], closeCode: 0, stdout: '', stderr: '' };
    ws.on('open', () => {
      ws.send(rawFirstMessage ?? JSON.stringify(spec));
      for (const input of inputs) ws.send(JSON.stringify(input));
    });
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString()) as Record<string, unknown>;
      result.messages.push(message);
      if (typeof message['stdout'] === 'string')
        result.stdout += Buffer.from(message['stdout'], 'base64').toString();
      if (typeof message['stderr'] === 'string')
        result.stderr += Buffer.from(message['stderr'], 'base64').toString();
    });
    ws.on('close', (code) => {
      result.closeCode = code;
      resolve(result);
    });
    ws.on('unexpected-response', (req, res) => {
      req.destroy();
      reject(new Error(`unexpected response ${res.statusCode}`));
    });
    ws.on('error', reject);
  });
}

function processSpec(path: string, args: string[]) {
  return {
    path,
    args,
    env: ['TERM=xterm-256color'],
    dir: container['working_directory'],
    privileged: true,
    user: container['user'] ?? '',
    tty: null,
  };
}

describe('workers, containers, volumes', () => {
  it('lists the local worker as a running Concourse worker', async () => {
    const { status, body } = await getJson('/api/v1/workers');
    expect(status).toBe(200);
    const workers = body as Array<Record<string, unknown>>;
    expect(workers).toHaveLength(1);
    expect(workers[0]).toMatchObject({
      addr: '',
      baggageclaim_url: '',
      active_tasks: 0,
      resource_types: [],
      platform: 'linux',
      tags: [],
      team: '',
      version: '2.5',
      ephemeral: false,
      state: 'running',
    });
    expect(workers[0]!['active_containers']).toBeGreaterThanOrEqual(1);
    expect(workers[0]!['start_time']).toEqual(expect.any(Number));
    expect((await getJson('/api/v1/workers', await loginToken(server.url, PLAIN_USER))).status).toBe(403);
  });

  it("lists the build's task container with its metadata", async () => {
    expect(container).toMatchObject({
      id: expect.any(String),
      worker_name: expect.any(String),
      state: 'created',
      type: 'task',
      step_name: 'one-off',
      build_id: buildId,
      build_name: expect.any(String),
      working_directory: expect.any(String),
    });
    const { status, body } = await getJson(`/api/v1/teams/main/containers/${String(container['id'])}`);
    expect(status).toBe(200);
    expect(body).toEqual(container);
    expect((await getJson('/api/v1/teams/main/containers/no-such-handle')).status).toBe(404);
  });

  it("applies fly's container filters", async () => {
    const ids = async (query: string) =>
      ((await getJson(`/api/v1/teams/main/containers?${query}`)).body as Array<{ id: string }>).map(
        (c) => c.id,
      );
    expect(await ids('type=task&step_name=one-off')).toContain(container['id']);
    expect(await ids(`build_id=${buildId}&build_name=${String(container['build_name'])}`)).toEqual([
      container['id'],
    ]);
    expect(await ids('step_name=another-step')).toEqual([]);
    expect(await ids('type=check&resource_name=r&pipeline_name=p')).toEqual([]);
    expect(await ids(`build_id=${buildId + 1000}`)).toEqual([]);
    for (const bad of ['build_id=abc', 'pipeline_id=1.5', 'job_id=x', 'type=bogus', 'vars=%7Bnot-json']) {
      const res = await fetch(`${server.url}/api/v1/teams/main/containers?${bad}`, {
        headers: authHeaders(token),
      });
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      await res.text();
    }
    const res = await fetch(`${server.url}/api/v1/teams/main/containers?build_id=abc`, {
      headers: authHeaders(token),
    });
    expect(await res.text()).toBe(
      `non-numeric 'build_id' param (abc): strconv.Atoi: parsing "abc": invalid syntax`,
    );
  });

  it("lists the team's volumes with every field present", async () => {
    const { status, body } = await getJson('/api/v1/teams/main/volumes');
    expect(status).toBe(200);
    const volumes = body as Array<Record<string, unknown>>;
    for (const volume of volumes) {
      expect(Object.keys(volume).sort()).toEqual(
        [
          'id',
          'worker_name',
          'type',
          'container_handle',
          'path',
          'parent_handle',
          'resource_type',
          'base_resource_type',
          'pipeline_id',
          'pipeline_name',
          'pipeline_instance_vars',
          'job_name',
          'step_name',
        ].sort(),
      );
      expect(volume['resource_type']).toBeNull();
    }
    expect(
      (await getJson('/api/v1/teams/main/volumes', await loginToken(server.url, PLAIN_USER))).status,
    ).toBe(403);
  });
});

describe('hijack', () => {
  it('runs a new process in the running task container: stdout, then exit status', async () => {
    const result = await hijack(
      String(container['id']),
      processSpec('sh', ['-c', 'echo hi; echo err >&2; exit 3']),
    );
    expect(result.stdout).toBe('hi\n');
    expect(result.stderr).toBe('err\n');
    expect(result.messages.at(-1)).toEqual({ exit_status: 3 });
    expect(result.closeCode).toBe(1000);
  });

  it('carries stdin until the client closes it', async () => {
    const result = await hijack(String(container['id']), processSpec('cat', []), [
      { stdin: Buffer.from('typed ').toString('base64') },
      { tty: { window_size: { columns: 80, rows: 24 } } },
      { stdin: Buffer.from('text\n').toString('base64') },
      { closed: true },
    ]);
    expect(result.stdout).toBe('typed text\n');
    expect(result.messages.at(-1)).toEqual({ exit_status: 0 });
  });

  it('runs in the task working directory, where the task runs', async () => {
    const result = await hijack(String(container['id']), processSpec('sh', ['-c', 'pwd']));
    expect(result.stdout.trim().endsWith(String(container['working_directory']).replace(/^\.\//, ''))).toBe(
      true,
    );
  });

  it('reports an executable that does not exist, so fly can retry with sh', async () => {
    const result = await hijack(String(container['id']), processSpec('no-such-executable-anywhere', []));
    expect(result.messages[0]).toEqual({ executable_not_found: true });
    expect(result.messages[1]).toEqual({ error: expect.stringContaining('no-such-executable-anywhere') });
    expect(result.messages.some((m) => 'exit_status' in m)).toBe(false);
  });

  it('closes with 1003 on a malformed process spec', async () => {
    const result = await hijack(String(container['id']), undefined, [], 'this is not json');
    expect(result.closeCode).toBe(1003);
    const wrongTypes = await hijack(
      String(container['id']),
      undefined,
      [],
      JSON.stringify({ path: 3, args: 'x' }),
    );
    expect(wrongTypes.closeCode).toBe(1003);
  });

  it('answers 404 before upgrading for an unknown container, 401 without a token', async () => {
    await expect(hijack('no-such-handle', processSpec('sh', []))).rejects.toThrow('unexpected response 404');
    const anonymous = new Promise<number>((resolve) => {
      const ws = new WebSocket(
        `${server.url.replace('http', 'ws')}/api/v1/teams/main/containers/${String(container['id'])}/hijack`,
      );
      ws.on('unexpected-response', (req, res) => {
        req.destroy();
        resolve(res.statusCode ?? 0);
      });
      ws.on('error', () => undefined);
    });
    expect(await anonymous).toBe(401);
  });

  it('still works right after the build ends (fly intercept), since finished containers are kept', async () => {
    const abort = await fetch(`${server.url}/api/v1/builds/${buildId}/abort`, {
      method: 'PUT',
      headers: authHeaders(token),
    });
    expect(abort.status).toBe(204);
    const stream = await readBuildEvents(server.url, token, buildId);
    expect(statusesOf(stream.events)).toEqual(['started', 'aborted']);
    const { body } = await getJson(`/api/v1/teams/main/containers?build_id=${buildId}`);
    expect((body as Array<{ id: string }>).map((c) => c.id)).toEqual([container['id']]);
    const result = await hijack(String(container['id']), processSpec('sh', ['-c', 'echo after']));
    expect(result.stdout).toBe('after\n');
    expect(result.messages.at(-1)).toEqual({ exit_status: 0 });
  });
});
