import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { findPipeline, findResource } from '@jetbridge/db';
import { finishedBuild as finishedBuildAt } from './execute-flow.js';
import { ADMIN, loginToken, startTestServer, until as pollUntil, type TestServer } from './harness.js';
import { readBuildEvents } from './execute-client.js';
import { request } from './http-client.js';
import { call, pipelineUrl, setPipeline } from './pipeline-client.js';

/**
 * The checker (lidar) against a real server: periodic checks of unpaused pipelines with the built-in mock
 * resource type, manual checks with `from`, failures, webhooks with credential-manager tokens, `never`, and
 * the version order Concourse's SaveVersions gives (concourse-semantics.md §6, concourse-api.md §1.7).
 */
let ts: TestServer;
let admin: string;

interface ResourceJson {
  name: string;
  last_checked?: number;
  build?: { id: number; name: string; status: string };
}
interface VersionJson {
  id: number;
  version: Record<string, string>;
  enabled: boolean;
}
interface BuildJson {
  id: number;
  name: string;
  status: string;
  resource_name?: string;
}

const url = (pipeline: string, suffix = '') => pipelineUrl(ts.url, 'main', pipeline, suffix);

async function versions(pipeline: string, resource: string): Promise<string[]> {
  const reply = await call(url(pipeline, `/resources/${resource}/versions`), admin);
  return reply.json<VersionJson[]>().map((v) => v.version['version'] ?? JSON.stringify(v.version));
}

async function resourceJson(pipeline: string, resource: string): Promise<ResourceJson> {
  return (await call(url(pipeline, `/resources/${resource}`), admin)).json<ResourceJson>();
}

const finishedBuild = (id: number) => finishedBuildAt(ts.url, admin, id);

/** Polls for at most 30 s. */
const until = <T>(what: string, probe: () => Promise<T | undefined>) => pollUntil(what, probe, 30_000);

async function unpause(pipeline: string): Promise<void> {
  expect((await call(url(pipeline, '/unpause'), admin, 'PUT')).status).toBe(200);
}

beforeAll(async () => {
  const dataFile = path.join(process.env['TMPDIR'] ?? '/tmp', `jetbridge-creds-${process.pid}.yml`);
  await writeFile(dataFile, 'main/hooks/hook-token: from-the-credential-manager\n');
  ts = await startTestServer({
    env: { CONCOURSE_LIDAR_SCANNER_INTERVAL: '200ms', JETBRIDGE_CREDENTIALS_FILE: dataFile },
  });
  admin = await loginToken(ts.url, ADMIN);
});

afterAll(async () => {
  await ts?.destroy();
});

describe('periodic checks', () => {
  it('checks the trigger inputs of unpaused pipelines only, and shows the check on the resource', async () => {
    await setPipeline(
      ts.url,
      admin,
      'main',
      'periodic',
      `
resources:
- name: thing
  type: mock
  check_every: 100ms
  source: {initial_version: v1}
jobs:
- name: j
  plan: [{get: thing, trigger: true}]
`,
    );
    // fly set-pipeline creates pipelines paused: nothing is checked (lidar skips paused pipelines).
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(await versions('periodic', 'thing')).toEqual([]);
    expect(await resourceJson('periodic', 'thing')).not.toHaveProperty('build');

    await unpause('periodic');
    await until('a version of thing', async () =>
      (await versions('periodic', 'thing')).length > 0 ? true : undefined,
    );
    expect(await versions('periodic', 'thing')).toEqual(['v1']);
    const resource = await until('a finished check', async () => {
      const json = await resourceJson('periodic', 'thing');
      return json.build?.status === 'succeeded' ? json : undefined;
    });
    expect(resource.build).toMatchObject({ name: 'check', status: 'succeeded' });
    expect(resource.last_checked).toEqual(expect.any(Number));

    // The check runs again and again (interval 100ms) and re-reports v1: nothing new, no reordering.
    const first = resource.build!.id;
    await until('another check', async () => {
      const json = await resourceJson('periodic', 'thing');
      return json.build !== undefined && json.build.id !== first && json.build.status === 'succeeded'
        ? true
        : undefined;
    });
    expect(await versions('periodic', 'thing')).toEqual(['v1']);
  });

  it('does not check a `check_every: never` resource periodically, but does on request', async () => {
    await setPipeline(
      ts.url,
      admin,
      'main',
      'never',
      `
resources:
- name: quiet
  type: mock
  check_every: never
  source: {initial_version: q1}
jobs:
- name: j
  plan: [{get: quiet, trigger: true}]
`,
    );
    await unpause('never');
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect(await versions('never', 'quiet')).toEqual([]);
    const check = await call(url('never', '/resources/quiet/check'), admin, 'POST', { from: null });
    expect(check.status).toBe(201);
    expect((await finishedBuild(check.json<BuildJson>().id)).status).toBe('succeeded');
    expect(await versions('never', 'quiet')).toEqual(['q1']);
  });
});

describe('manual checks', () => {
  beforeAll(async () => {
    await setPipeline(
      ts.url,
      admin,
      'main',
      'manual',
      `
resources:
- name: thing
  type: mock
  check_every: never
  source: {initial_version: v1}
- name: broken
  type: mock
  check_every: never
  source: {check_failure: the registry is down}
- name: unknown
  type: no-such-type
  check_every: never
  source: {}
jobs:
- name: j
  plan: [{get: thing}, {get: broken}, {get: unknown}]
`,
    );
  });

  it('checks from a given version and saves what check reports, newest on top', async () => {
    const first = await call(url('manual', '/resources/thing/check'), admin, 'POST', {
      from: null,
      shallow: false,
    });
    expect(first.status).toBe(201);
    expect(first.json()).toMatchObject({ name: 'check', status: 'pending', resource_name: 'thing' });
    expect((await finishedBuild(first.json<BuildJson>().id)).status).toBe('succeeded');
    expect(await versions('manual', 'thing')).toEqual(['v1']);

    // mock's check echoes the version it is given: a new version, so it goes on top (check order).
    const backfill = await call(url('manual', '/resources/thing/check'), admin, 'POST', {
      from: { version: 'v0' },
    });
    expect((await finishedBuild(backfill.json<BuildJson>().id)).status).toBe('succeeded');
    expect(await versions('manual', 'thing')).toEqual(['v0', 'v1']);

    // Without `from`, the check starts from the latest version (v0): re-reported, nothing new, no change.
    const again = await call(url('manual', '/resources/thing/check'), admin, 'POST', { from: null });
    expect((await finishedBuild(again.json<BuildJson>().id)).status).toBe('succeeded');
    expect(await versions('manual', 'thing')).toEqual(['v0', 'v1']);

    // The check build's plan and events are those of a check step.
    const plan = (await call(`${ts.url}/api/v1/builds/${again.json<BuildJson>().id}/plan`, admin)).json<{
      plan: { check?: { name: string; type: string } };
    }>();
    expect(plan.plan.check).toMatchObject({ name: 'thing', type: 'mock' });
  });

  it('fails the check build when check fails, and errors it for an unknown type', async () => {
    const failed = await call(url('manual', '/resources/broken/check'), admin, 'POST', { from: null });
    expect((await finishedBuild(failed.json<BuildJson>().id)).status).toBe('failed');
    expect((await resourceJson('manual', 'broken')).build).toMatchObject({ status: 'failed' });
    expect(await versions('manual', 'broken')).toEqual([]);

    const errored = await call(url('manual', '/resources/unknown/check'), admin, 'POST', { from: null });
    expect((await finishedBuild(errored.json<BuildJson>().id)).status).toBe('errored');
    const db = ts.server.ctx.db;
    const team = await db
      .selectFrom('teams')
      .select('id')
      .where('name', '=', 'main')
      .executeTakeFirstOrThrow();
    const pipeline = await findPipeline(db, team.id, 'manual');
    expect((await findResource(db, pipeline!.id, 'unknown'))?.checkError).toBe(
      "unknown resource type 'no-such-type'",
    );
    expect((await findResource(db, pipeline!.id, 'broken'))?.checkError).toBe('check failed');
    expect((await findResource(db, pipeline!.id, 'thing'))?.checkError).toBeNull();
  });
});

describe('webhooks', () => {
  it('checks when the token matches, the token evaluated with the credential manager', async () => {
    await setPipeline(
      ts.url,
      admin,
      'main',
      'hooks',
      `
resources:
- name: hooked
  type: mock
  check_every: never
  webhook_token: ((hook-token))
  source: {initial_version: h1}
jobs:
- name: j
  plan: [{get: hooked}]
`,
    );
    const webhook = (token: string) =>
      request(
        `${url('hooks', '/resources/hooked/check/webhook')}?webhook_token=${encodeURIComponent(token)}`,
        {
          method: 'POST',
        },
      );
    expect((await webhook('((hook-token))')).status).toBe(401);
    const ok = await webhook('from-the-credential-manager');
    expect(ok.status).toBe(201);
    expect((await finishedBuild(ok.json<BuildJson>().id)).status).toBe('succeeded');
    expect(await versions('hooks', 'hooked')).toEqual(['h1']);
  });
});

describe('check build collection', () => {
  it('keeps only the latest check build of each resource', async () => {
    const first = await call(url('manual', '/resources/thing/check'), admin, 'POST', { from: null });
    await finishedBuild(first.json<BuildJson>().id);
    const second = await call(url('manual', '/resources/thing/check'), admin, 'POST', { from: null });
    await finishedBuild(second.json<BuildJson>().id);
    const { deleteCompletedCheckBuilds } = await import('../src/checking/check-build-collector.js');
    await deleteCompletedCheckBuilds(ts.server.ctx.db, { graceSeconds: 0 });
    expect((await call(`${ts.url}/api/v1/builds/${first.json<BuildJson>().id}`, admin)).status).toBe(404);
    expect((await call(`${ts.url}/api/v1/builds/${second.json<BuildJson>().id}`, admin)).status).toBe(200);
  });
});

describe('global resources (--enable-global-resources)', () => {
  let shared: TestServer;
  let token: string;

  beforeAll(async () => {
    shared = await startTestServer({
      env: { CONCOURSE_LIDAR_SCANNER_INTERVAL: '200ms', CONCOURSE_ENABLE_GLOBAL_RESOURCES: 'true' },
    });
    token = await loginToken(shared.url, ADMIN);
  });

  afterAll(async () => {
    await shared?.destroy();
  });

  it('gives resources with the same type and source one version history, except `time`', async () => {
    const yaml = `
resources:
- name: thing
  type: mock
  check_every: never
  source: {initial_version: shared-1}
- name: clock
  type: time
  check_every: never
  source: {interval: 1h}
jobs:
- name: j
  plan: [{get: thing}, {get: clock}]
`;
    const scopes = new Map<string, number | null>();
    for (const pipeline of ['one', 'two']) {
      await setPipeline(shared.url, token, 'main', pipeline, yaml);
      for (const resource of ['thing', 'clock']) {
        const check = await call(
          pipelineUrl(shared.url, 'main', pipeline, `/resources/${resource}/check`),
          token,
          'POST',
          { from: null },
        );
        const id = check.json<BuildJson>().id;
        const finished = await finishedBuildAt(shared.url, token, id);
        if (finished.status !== 'succeeded') {
          const events = await readBuildEvents(shared.url, token, id);
          throw new Error(
            `check of ${pipeline}/${resource} ${finished.status}: ${JSON.stringify(events.events)}`,
          );
        }
      }
      const db = shared.server.ctx.db;
      const team = await db
        .selectFrom('teams')
        .select('id')
        .where('name', '=', 'main')
        .executeTakeFirstOrThrow();
      const found = await findPipeline(db, team.id, pipeline);
      for (const resource of ['thing', 'clock']) {
        scopes.set(
          `${pipeline}/${resource}`,
          (await findResource(db, found!.id, resource))!.resourceConfigScopeId,
        );
      }
    }
    expect(scopes.get('one/thing')).toEqual(expect.any(Number));
    expect(scopes.get('two/thing')).toBe(scopes.get('one/thing'));
    expect(scopes.get('two/clock')).not.toBe(scopes.get('one/clock'));
    const versionsTwo = await call(
      pipelineUrl(shared.url, 'main', 'two', '/resources/thing/versions'),
      token,
    );
    expect(versionsTwo.json<VersionJson[]>().map((v) => v.version)).toEqual([{ version: 'shared-1' }]);
  });
});

it('logged nothing at error level', () => {
  expect(ts.logs.filter((line) => typeof line['level'] === 'number' && line['level'] >= 50)).toEqual([]);
});
