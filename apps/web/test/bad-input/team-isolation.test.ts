import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import WebSocket from 'ws';
import { createBuild, executePlan, readBuildEvents } from '../execute-client.js';
import { call, pipelineUrl, setPipeline } from '../pipeline-client.js';
import { describeLogLine, fillPath, startBadInputServer, type BadInputServer } from './bad-input-server.js';
import { rawTar } from './raw-tar.js';

/**
 * Team A (`main`, owned by admin) has a private pipeline, a job build, a one-off build with a kept container,
 * resource versions and an uploaded artifact. Alice owns team B only. Every registered route is called as
 * alice with A's names and ids — under A's team and under her own — and the hijack WebSocket is tried for
 * real. Nothing of A may come back (markers only A's data carries), no write on A's things may succeed, no
 * 5xx; afterwards A's things are as they were.
 */
let s: BadInputServer;
const A = {
  pipeline: 'a-private-pipeline',
  job: 'a-job',
  resource: 'a-resource',
  logMarker: 'A-SECRET-LOG-LINE-93b1',
  versionMarker: 'a-secret-version-77c4',
  configMarker: 'A-CONFIG-MARKER-51e0',
};
const ids: Record<string, string> = {};

const PIPELINE = `
resources:
- name: ${A.resource}
  type: mock
  check_every: never
  source: {initial_version: ${A.versionMarker}}
jobs:
- name: ${A.job}
  plan:
  - get: ${A.resource}
  - task: show
    config:
      platform: linux
      inputs: [{name: ${A.resource}}]
      run: {path: echo, args: [${A.configMarker}]}
`;

/** Markers of A's data: none may appear in an answer to alice. */
const MARKERS = [A.logMarker, A.versionMarker, A.configMarker];

beforeAll(async () => {
  s = await startBadInputServer();
  const { url } = s.ts;
  await setPipeline(url, s.admin, 'main', A.pipeline, PIPELINE);
  const pipeline = (suffix: string) => pipelineUrl(url, 'main', A.pipeline, suffix);
  expect((await call(pipeline('/unpause'), s.admin, 'PUT')).status).toBe(200);
  const check = await call(pipeline(`/resources/${A.resource}/check`), s.admin, 'POST', { from: null });
  await readBuildEvents(url, s.admin, check.json<{ id: number }>().id);
  const job = await call(pipeline(`/jobs/${A.job}/builds`), s.admin, 'POST');
  const jobBuild = job.json<{ id: number; name: string }>();
  await readBuildEvents(url, s.admin, jobBuild.id);
  ids.job_build_name = jobBuild.name;

  const plan = executePlan({ platform: 'linux', run: { path: 'echo', args: [A.logMarker] } }, [], []);
  const oneOff = (await (await createBuild(url, s.admin, 'main', plan)).json()) as { id: number };
  await readBuildEvents(url, s.admin, oneOff.id);
  ids.build_id = String(oneOff.id);

  const artifact = await s.send('POST', '/api/v1/teams/main/artifacts', {
    token: s.admin,
    headers: { 'content-type': 'application/octet-stream' },
    body: gzipSync(rawTar([{ name: 'a.txt', type: '0', content: Buffer.from(A.logMarker) }])),
  });
  expect(artifact.status).toBe(201);
  ids.artifact_id = String((JSON.parse(artifact.body) as { id: number }).id);

  const containers = (await call(`${url}/api/v1/teams/main/containers`, s.admin)).json<
    Array<{ id: string }>
  >();
  expect(containers.length).toBeGreaterThan(0);
  ids.container_id = (containers[0] as { id: string }).id;
  const versions = (await call(pipeline(`/resources/${A.resource}/versions`), s.admin)).json<
    Array<{ id: number }>
  >();
  ids.version_id = String((versions[0] as { id: number }).id);
}, 180_000);

afterAll(async () => {
  await s?.destroy();
});

/** A's value for a path parameter; `team` decides whose team the path names. */
function valueOf(param: string, team: string): string {
  switch (param) {
    case 'team_name':
      return team;
    case 'pipeline_name':
      return A.pipeline;
    case 'job_name':
      return A.job;
    case 'resource_name':
      return A.resource;
    case 'build_id':
      return ids.build_id as string;
    case 'build_name':
      return ids.job_build_name as string;
    case 'artifact_id':
      return ids.artifact_id as string;
    case 'resource_config_version_id':
    case 'version_id':
      return ids.version_id as string;
    case 'id':
    case 'container_id':
      return ids.container_id as string;
    default:
      return '1';
  }
}

/** Whether a route acts on something of a team's (so alice must not change it through A's names). */
function namesTeamThings(url: string): boolean {
  return /:(team_name|build_id|artifact_id|id|container_id)\b/.test(url);
}

describe('team B (alice) and team A (main)', () => {
  it('the fixtures hold A’s markers (the checks below are not vacuous)', async () => {
    const events = await readBuildEvents(s.ts.url, s.admin, Number(ids.build_id));
    expect(JSON.stringify(events.events)).toContain(A.logMarker);
    const versions = await call(
      pipelineUrl(s.ts.url, 'main', A.pipeline, `/resources/${A.resource}/versions`),
      s.admin,
    );
    expect(versions.text).toContain(A.versionMarker);
    expect((await call(pipelineUrl(s.ts.url, 'main', A.pipeline, '/config'), s.admin)).text).toContain(
      A.configMarker,
    );
    // The same sweep as A's owner finds A's data on several routes: the sweep reaches the data-bearing ones.
    const carrying: string[] = [];
    for (const route of s.routes.filter((r) => r.method === 'GET')) {
      const answer = await s.send(
        'GET',
        fillPath(route.url, (param) => valueOf(param, 'main')),
        { token: s.admin },
      );
      if (MARKERS.some((marker) => answer.body.includes(marker))) carrying.push(route.url);
    }
    expect(carrying.length).toBeGreaterThanOrEqual(4);
  });

  it.each([['main'], ['team-b']])(
    'every route as alice, with A’s names and ids under team %s: no 5xx, none of A’s data, no write on A’s things',
    async (team) => {
      const failures: string[] = [];
      for (const route of s.routes) {
        if (route.method === 'HEAD' || route.method === 'OPTIONS') continue;
        const path = fillPath(route.url, (param) => valueOf(param, team));
        const answer = await s.send(route.method, path, {
          token: s.alice,
          ...(route.method === 'GET' ? {} : { headers: { 'content-type': 'application/json' }, body: '{}' }),
        });
        const where = `${route.method} ${path} → ${answer.status}`;
        if (answer.status >= 500) failures.push(`${where}: ${answer.body.slice(0, 200)}`);
        const leaked = MARKERS.filter((marker) => answer.body.includes(marker));
        if (leaked.length > 0) failures.push(`${where} leaks ${leaked.join(', ')}`);
        if (route.url.includes(':artifact_id') && answer.status === 200)
          failures.push(`${where}: A's artifact`);
        const writesOnA = team === 'main' && route.method !== 'GET' && namesTeamThings(route.url);
        if (writesOnA && answer.status >= 200 && answer.status < 300)
          failures.push(`${where}: a write on A's things`);
      }
      expect(failures).toEqual([]);
    },
    300_000,
  );

  it('lists that span teams show alice nothing of A', async () => {
    for (const path of [
      '/api/v1/pipelines',
      '/api/v1/builds',
      '/api/v1/jobs',
      '/api/v1/resources',
      '/api/v1/teams',
      '/api/v1/containers',
    ]) {
      const answer = await s.send('GET', path, { token: s.alice });
      expect(answer.status).toBeLessThan(500);
      for (const marker of [...MARKERS, A.pipeline]) expect(`${path}: ${answer.body}`).not.toContain(marker);
    }
  });

  it.each([['main'], ['team-b']])(
    'hijacking A’s container under team %s is refused before any upgrade',
    async (team) => {
      const url = `${s.ts.url.replace(/^http/, 'ws')}/api/v1/teams/${team}/containers/${ids.container_id}/hijack`;
      const outcome = await new Promise<string>((resolve) => {
        const socket = new WebSocket(url, { headers: { authorization: `Bearer ${s.alice}` } });
        socket.on('open', () => {
          socket.close();
          resolve('opened');
        });
        socket.on('unexpected-response', (_request, response) => {
          resolve(String(response.statusCode));
          response.resume();
          socket.terminate();
        });
        socket.on('error', (err) => resolve(`error ${err.message}`));
      });
      expect(['403', '404']).toContain(outcome);
    },
  );

  it('A’s things are as they were: pipeline, config, build, artifact, container', async () => {
    const { url } = s.ts;
    const pipeline = await call(pipelineUrl(url, 'main', A.pipeline), s.admin);
    expect(pipeline.status).toBe(200);
    expect(pipeline.json<{ paused: boolean; archived: boolean }>()).toMatchObject({
      paused: false,
      archived: false,
    });
    expect((await call(pipelineUrl(url, 'main', A.pipeline, '/config'), s.admin)).text).toContain(
      A.configMarker,
    );
    expect((await call(`${url}/api/v1/builds/${ids.build_id}`, s.admin)).json()).toMatchObject({
      status: 'succeeded',
    });
    expect(
      (await s.send('GET', `/api/v1/teams/main/artifacts/${ids.artifact_id}`, { token: s.admin })).status,
    ).toBe(200);
    const containers = (await call(`${url}/api/v1/teams/main/containers`, s.admin)).json<
      Array<{ id: string }>
    >();
    expect(containers.map((c) => c.id)).toContain(ids.container_id);
    const versions = (
      await call(pipelineUrl(url, 'main', A.pipeline, `/resources/${A.resource}/versions`), s.admin)
    ).json<Array<{ enabled: boolean }>>();
    expect(versions.every((v) => v.enabled)).toBe(true);
  });

  it('wrote no error-level log line', () => {
    expect(s.errorLogs().map(describeLogLine)).toEqual([]);
  });
});
