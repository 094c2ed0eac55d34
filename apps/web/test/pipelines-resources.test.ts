import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  findOrCreateResourceConfig,
  findOrCreateResourceConfigScope,
  findPipeline,
  findResource,
  saveBuildOutput,
  saveResourceVersions,
  setResourceConfigScope,
  type ResourceRecord,
} from '@jetbridge/db';
import { ADMIN, PLAIN_USER, loginToken, startTestServer, type TestServer } from './harness.js';
import { request } from './http-client.js';
import { call, pipelineUrl, setPipeline } from './pipeline-client.js';

/**
 * Resources, resource types and versions (concourse-api.md §1.7, §2.8–2.10, §6.10–6.11, §7.1). Versions are
 * saved through the db queries the checker uses, with Concourse's check order (checking.test.ts runs checks).
 */
let ts: TestServer;
let admin: string;
let alice: string;
let repo: ResourceRecord;
let versionIds: Map<string, number>;

const YAML = `
resource_types:
- name: base-git
  type: registry-image
  source: {repository: concourse/git-resource}
  defaults: {branch: main, depth: 1}
- name: my-git
  type: base-git
  source: {depth: 5}
  privileged: true
  check_every: 10m
resources:
- name: repo
  type: git
  icon: github
  webhook_token: s3cret
  source: {uri: https://example.com/repo.git}
- name: pinned
  type: git
  version: {ref: v1}
  source: {uri: https://example.com/pinned.git}
- name: open
  type: my-git
  public: true
  source: {uri: https://example.com/open.git}
jobs:
- name: build
  plan:
  - get: repo
  - get: pinned
  - get: open
  - put: repo
`;

function url(suffix = ''): string {
  return pipelineUrl(ts.url, 'main', 'res', suffix);
}

/** Versions as `token` sees them; null = anonymous. */
async function versionsOf(resource: string, query = '', token: string | null = admin) {
  return call(url(`/resources/${resource}/versions${query}`), token ?? undefined);
}

beforeAll(async () => {
  ts = await startTestServer();
  admin = await loginToken(ts.url, ADMIN);
  alice = await loginToken(ts.url, PLAIN_USER);
  await setPipeline(ts.url, admin, 'main', 'res', YAML);

  // What the checker will do: find the config and scope, point the resource at it, save what check printed.
  const db = ts.server.ctx.db;
  const team = await db.selectFrom('teams').select('id').where('name', '=', 'main').executeTakeFirstOrThrow();
  const pipeline = await findPipeline(db, team.id, 'res');
  repo = (await findResource(db, pipeline!.id, 'repo'))!;
  const configId = await findOrCreateResourceConfig(db, 'git', { uri: 'https://example.com/repo.git' });
  const scopeId = await findOrCreateResourceConfigScope(db, configId, repo.id);
  await setResourceConfigScope(db, repo.id, configId, scopeId);
  const added = await saveResourceVersions(
    db,
    scopeId,
    ['v1', 'v2', 'v3', 'v4', 'v5'].map((ref) => ({
      version: { ref },
      metadata: [{ name: 'commit', value: `${ref} message` }],
    })),
  );
  expect(added).toBe(5);
  const rows = await db
    .selectFrom('resource_config_versions')
    .select(['id', 'version'])
    .where('resource_config_scope_id', '=', scopeId)
    .execute();
  versionIds = new Map(rows.map((row) => [row.version['ref']!, row.id]));

  const open = (await findResource(db, pipeline!.id, 'open'))!;
  const openConfig = await findOrCreateResourceConfig(db, 'git', {
    uri: 'https://example.com/open.git',
    branch: 'main',
    depth: 5,
  });
  const openScope = await findOrCreateResourceConfigScope(db, openConfig, open.id);
  await setResourceConfigScope(db, open.id, openConfig, openScope);
  await saveResourceVersions(db, openScope, [
    { version: { ref: 'o1' }, metadata: [{ name: 'author', value: 'someone' }] },
  ]);
});

afterAll(async () => {
  await ts?.destroy();
});

describe('resources', () => {
  it('lists resources with their pins, and gets one', async () => {
    const pipelineId = (await call(url(), admin)).json<{ id: number }>().id;
    const list = await call(url('/resources'), admin);
    expect(list.status).toBe(200);
    expect(list.json()).toEqual([
      {
        name: 'repo',
        pipeline_id: pipelineId,
        pipeline_name: 'res',
        team_name: 'main',
        type: 'git',
        icon: 'github',
      },
      {
        name: 'pinned',
        pipeline_id: pipelineId,
        pipeline_name: 'res',
        team_name: 'main',
        type: 'git',
        pinned_version: { ref: 'v1' },
        pinned_in_config: true,
      },
      { name: 'open', pipeline_id: pipelineId, pipeline_name: 'res', team_name: 'main', type: 'my-git' },
    ]);
    const one = await call(url('/resources/repo'), admin);
    expect(one.json()).toEqual(list.json<unknown[]>()[0]);
    expect((await call(url('/resources/nope'), admin)).status).toBe(404);
    const all = await call(`${ts.url}/api/v1/resources`, admin);
    expect(all.json<Array<{ name: string }>>().map((r) => r.name)).toEqual(['repo', 'pinned', 'open']);
    expect((await call(`${ts.url}/api/v1/resources`, alice)).json()).toEqual([]);
  });

  it('lists resource types with the parent type defaults merged under their source', async () => {
    const types = await call(url('/resource-types'), admin);
    expect(types.status).toBe(200);
    expect(types.json()).toEqual([
      {
        name: 'base-git',
        type: 'registry-image',
        source: { repository: 'concourse/git-resource' },
        defaults: { branch: 'main', depth: 1 },
      },
      {
        name: 'my-git',
        type: 'base-git',
        source: { branch: 'main', depth: 5 },
        privileged: true,
        check_every: '10m0s',
      },
    ]);
  });
});

describe('versions', () => {
  it('lists versions newest first, a page at a time with Link headers', async () => {
    const all = await versionsOf('repo');
    expect(all.status).toBe(200);
    expect(all.headers.get('link')).toBeNull();
    expect(all.json<Array<{ version: { ref: string } }>>().map((v) => v.version.ref)).toEqual([
      'v5',
      'v4',
      'v3',
      'v2',
      'v1',
    ]);
    expect(all.json<unknown[]>()[0]).toEqual({
      id: versionIds.get('v5'),
      metadata: [{ name: 'commit', value: 'v5 message' }],
      version: { ref: 'v5' },
      enabled: true,
    });

    const base = `${ts.config.externalUrl}/api/v1/teams/main/pipelines/res/resources/repo/versions`;
    const page1 = await versionsOf('repo', '?limit=2');
    expect(page1.json<Array<{ id: number }>>().map((v) => v.id)).toEqual([
      versionIds.get('v5'),
      versionIds.get('v4'),
    ]);
    expect(page1.headers.get('link')).toBe(`<${base}?to=${versionIds.get('v3')}&limit=2>; rel="next"`);
    const page2 = await versionsOf('repo', `?to=${versionIds.get('v3')}&limit=2`);
    expect(page2.json<Array<{ id: number }>>().map((v) => v.id)).toEqual([
      versionIds.get('v3'),
      versionIds.get('v2'),
    ]);
    expect(page2.headers.get('link')).toBe(
      `<${base}?to=${versionIds.get('v1')}&limit=2>; rel="next", <${base}?from=${versionIds.get('v4')}&limit=2>; rel="previous"`,
    );
    const previous = await versionsOf('repo', `?from=${versionIds.get('v4')}&limit=2`);
    expect(previous.json<Array<{ id: number }>>().map((v) => v.id)).toEqual([
      versionIds.get('v5'),
      versionIds.get('v4'),
    ]);

    const filtered = await versionsOf('repo', '?filter=ref:v3');
    expect(filtered.json<Array<{ id: number }>>().map((v) => v.id)).toEqual([versionIds.get('v3')]);
    expect((await versionsOf('repo', '?filter=ref:none')).json()).toEqual([]);
    // A resource never checked has no versions.
    expect((await versionsOf('pinned')).json()).toEqual([]);
    expect((await versionsOf('nope')).status).toBe(404);

    const one = await call(url(`/resources/repo/versions/${versionIds.get('v2')}`), admin);
    expect(one.json()).toMatchObject({ id: versionIds.get('v2'), version: { ref: 'v2' }, enabled: true });
    expect((await call(url('/resources/repo/versions/abc'), admin)).status).toBe(400);
    expect((await call(url('/resources/repo/versions/999999'), admin)).status).toBe(404);
  });

  it('re-orders versions only when a check reports something new (check order, not time)', async () => {
    const scopeId = (await findResource(ts.server.ctx.db, repo.pipelineId, 'repo'))!.resourceConfigScopeId!;
    // Nothing new: the order stays.
    expect(
      await saveResourceVersions(ts.server.ctx.db, scopeId, [
        { version: { ref: 'v1' } },
        { version: { ref: 'v2' } },
      ]),
    ).toBe(0);
    const refs = async () =>
      (await versionsOf('repo')).json<Array<{ version: { ref: string } }>>().map((v) => v.version.ref);
    expect(await refs()).toEqual(['v5', 'v4', 'v3', 'v2', 'v1']);
    // Something new: the whole list becomes the newest tail, in its order; metadata kept when not given.
    expect(
      await saveResourceVersions(ts.server.ctx.db, scopeId, [
        { version: { ref: 'v2' } },
        { version: { ref: 'v6' } },
      ]),
    ).toBe(1);
    expect(await refs()).toEqual(['v6', 'v2', 'v5', 'v4', 'v3', 'v1']);
    const v2 = (await versionsOf('repo', '?filter=ref:v2')).json<Array<{ metadata: unknown }>>()[0];
    expect(v2?.metadata).toEqual([{ name: 'commit', value: 'v2 message' }]);
    versionIds.set('v6', (await versionsOf('repo', '?filter=ref:v6')).json<Array<{ id: number }>>()[0]!.id);
  });

  it('hides metadata of a private resource from readers of a public pipeline who are not on the team', async () => {
    expect((await versionsOf('repo', '', null)).status).toBe(401);
    expect((await call(url('/expose'), admin, 'PUT')).status).toBe(200);
    const anonymous = await versionsOf('repo', '?limit=1', null);
    expect(anonymous.status).toBe(200);
    expect(anonymous.json()).toEqual([{ id: versionIds.get('v6'), version: { ref: 'v6' }, enabled: true }]);
    // A public resource shows its metadata to everyone.
    const open = await versionsOf('open', '', null);
    expect(open.json()).toEqual([
      {
        id: expect.any(Number),
        metadata: [{ name: 'author', value: 'someone' }],
        version: { ref: 'o1' },
        enabled: true,
      },
    ]);
    expect((await call(url('/hide'), admin, 'PUT')).status).toBe(200);
  });

  it('disables and enables a version for the resource', async () => {
    const v3 = versionIds.get('v3');
    const disableUrl = url(`/resources/repo/versions/${v3}/disable`);
    expect((await call(disableUrl, alice, 'PUT')).status).toBe(403);
    expect((await call(disableUrl, admin, 'PUT')).status).toBe(200);
    expect((await versionsOf('repo', '?filter=ref:v3')).json()).toEqual([
      { id: v3, metadata: [{ name: 'commit', value: 'v3 message' }], version: { ref: 'v3' }, enabled: false },
    ]);
    // Disabling twice fails, as in Concourse (there a 500; a conflict here: bad input is never a 500).
    expect((await call(disableUrl, admin, 'PUT')).status).toBe(409);
    expect((await call(url(`/resources/repo/versions/${v3}/enable`), admin, 'PUT')).status).toBe(200);
    expect((await versionsOf('repo', '?filter=ref:v3')).json<Array<{ enabled: boolean }>>()[0]?.enabled).toBe(
      true,
    );
    expect((await call(url('/resources/repo/versions/999999/disable'), admin, 'PUT')).status).toBe(404);
  });

  it('pins a version, comments the pin, and unpins', async () => {
    const v4 = versionIds.get('v4');
    expect((await call(url(`/resources/repo/versions/${v4}/pin`), admin, 'PUT')).status).toBe(200);
    expect((await call(url('/resources/repo'), admin)).json()).toMatchObject({
      pinned_version: { ref: 'v4' },
    });
    expect((await call(url('/resources/repo'), admin)).json()).not.toHaveProperty('pinned_in_config');
    const comment = await call(url('/resources/repo/pin_comment'), admin, 'PUT', {
      pin_comment: 'hold on v4',
    });
    expect(comment.status).toBe(200);
    expect((await call(url('/resources/repo'), admin)).json()).toMatchObject({
      pinned_version: { ref: 'v4' },
      pin_comment: 'hold on v4',
    });
    expect((await call(url('/resources/repo/pin_comment'), admin, 'PUT', 'nope')).status).toBe(400);

    expect((await call(url('/resources/repo/unpin'), admin, 'PUT')).status).toBe(200);
    const unpinned = (await call(url('/resources/repo'), admin)).json<Record<string, unknown>>();
    expect(unpinned['pinned_version']).toBeUndefined();
    expect(unpinned['pin_comment']).toBeUndefined();
    expect((await call(url('/resources/repo/unpin'), admin, 'PUT')).status).toBe(409);

    expect((await call(url('/resources/repo/versions/999999/pin'), admin, 'PUT')).status).toBe(404);
    // A version of another resource is not this resource's to pin.
    const openVersion = (await versionsOf('open')).json<Array<{ id: number }>>()[0]!.id;
    expect((await call(url(`/resources/repo/versions/${openVersion}/pin`), admin, 'PUT')).status).toBe(404);
    // A pin from the config cannot be overridden through the API.
    expect((await call(url(`/resources/pinned/versions/${v4}/pin`), admin, 'PUT')).status).toBe(409);
  });

  it('lists the builds a version went into and came out of', async () => {
    const build = (await call(url('/jobs/build/builds'), admin, 'POST')).json<{ id: number; name: string }>();
    await saveBuildOutput(ts.server.ctx.db, build.id, {
      name: 'repo',
      resourceId: repo.id,
      version: { ref: 'v6' },
    });
    const outputOf = await call(url(`/resources/repo/versions/${versionIds.get('v6')}/output_of`), admin);
    expect(outputOf.status).toBe(200);
    expect(outputOf.json()).toEqual([
      expect.objectContaining({
        id: build.id,
        name: '1',
        job_name: 'build',
        api_url: `/api/v1/builds/${build.id}`,
      }),
    ]);
    expect(
      (await call(url(`/resources/repo/versions/${versionIds.get('v6')}/input_to`), admin)).json(),
    ).toEqual([]);
  });
});

describe('checks', () => {
  it('creates a check build for fly check-resource (201) and shows it as the resource check status', async () => {
    const check = await call(url('/resources/repo/check'), admin, 'POST', {
      from: { ref: 'v2' },
      shallow: false,
    });
    expect(check.status).toBe(201);
    expect(check.headers.get('content-type')).toBe('application/json');
    const build = check.json<{ id: number }>();
    expect(build).toEqual({
      id: expect.any(Number),
      team_name: 'main',
      name: 'check',
      status: 'pending',
      api_url: `/api/v1/builds/${build.id}`,
      resource_name: 'repo',
      pipeline_id: repo.pipelineId,
      pipeline_name: 'res',
      created_by: 'admin',
    });
    // The checker runs it at once; `git` is not a resource type of the local runtime, so it errors.
    let resource: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) {
      resource = (await call(url('/resources/repo'), admin)).json<Record<string, unknown>>();
      if ((resource['build'] as { status?: string } | undefined)?.status === 'errored') break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(resource['build']).toEqual({
      id: build.id,
      name: 'check',
      status: 'errored',
      start_time: expect.any(Number),
      end_time: expect.any(Number),
      team_name: 'main',
      pipeline_id: repo.pipelineId,
      pipeline_name: 'res',
    });
    expect((await call(url('/resources/repo/check'), admin, 'POST')).status).toBe(400);
    expect((await call(url('/resources/repo/check'), admin, 'POST', { from: { ref: 1 } })).status).toBe(400);
    expect((await call(url('/resources/nope/check'), admin, 'POST', { from: null })).status).toBe(404);
    expect((await call(url('/resources/repo/check'), alice, 'POST', { from: null })).status).toBe(403);
  });

  it('checks through the webhook with the right token only', async () => {
    const webhook = (query: string) =>
      request(`${url('/resources/repo/check/webhook')}${query}`, { method: 'POST', body: 'ignored' });
    expect((await webhook('')).status).toBe(400);
    expect((await webhook('?webhook_token=wrong')).status).toBe(401);
    const ok = await webhook('?webhook_token=s3cret');
    expect(ok.status).toBe(201);
    expect(ok.json()).toMatchObject({ name: 'check', resource_name: 'repo', status: 'pending' });
    expect(
      (
        await request(
          `${pipelineUrl(ts.url, 'main', 'res', '/resources/nope/check/webhook')}?webhook_token=x`,
          { method: 'POST' },
        )
      ).status,
    ).toBe(404);
  });

  it('refuses checks and pins on an archived pipeline with 409', async () => {
    expect((await call(url('/archive'), admin, 'PUT')).status).toBe(200);
    const refused = await call(url('/resources/repo/check'), admin, 'POST', { from: null });
    expect(refused.status).toBe(409);
    expect(refused.text).toBe('action not allowed for an archived pipeline\n');
    expect(
      (await call(url(`/resources/repo/versions/${versionIds.get('v1')}/pin`), admin, 'PUT')).status,
    ).toBe(409);
    expect((await call(url('/resources'), admin)).json()).toEqual([]);
  });

  it('logged nothing at error level', () => {
    expect(ts.logs.filter((line) => typeof line.level === 'number' && line.level >= 50)).toEqual([]);
  });
});
