import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parsePipelineConfig, toConfigJson } from '@jetbridge/pipeline-config';
import { ADMIN, PLAIN_USER, loginToken, startTestServer, type TestServer } from './harness.js';
import { bearer, request } from './http-client.js';
import { call, pipelineUrl, putConfig, setPipeline } from './pipeline-client.js';

/**
 * Pipelines as fly manages them (concourse-api.md §1.4, §2.3, §6.4–6.6, §6.16): the set-pipeline exchange with
 * its config version, validation errors, listing, pausing, exposing, archiving, renaming, ordering,
 * destroying, and instance vars. Real server, real PostgreSQL, real HTTP.
 */
let ts: TestServer;
let admin: string;
let alice: string;

const PIPELINE_YAML = `
resources:
- name: repo
  type: git
  source:
    uri: https://example.com/repo.git
    branch: main
jobs:
- name: unit
  public: true
  plan:
  - get: repo
    trigger: true
  - task: test
    config:
      platform: linux
      run: {path: sh, args: [-c, "echo ok"]}
`;

beforeAll(async () => {
  ts = await startTestServer();
  admin = await loginToken(ts.url, ADMIN);
  alice = await loginToken(ts.url, PLAIN_USER);
});

afterAll(async () => {
  await ts?.destroy();
});

function errorLines(): Array<Record<string, unknown>> {
  return ts.logs.filter((line) => typeof line.level === 'number' && line.level >= 50);
}

describe('the set-pipeline exchange', () => {
  it('creates a pipeline as fly does and round-trips its config byte for byte with the version header', async () => {
    const missing = await call(pipelineUrl(ts.url, 'main', 'exchange', '/config'), admin);
    expect(missing.status).toBe(404);

    const created = await putConfig(ts.url, admin, 'main', 'exchange', PIPELINE_YAML, { version: '' });
    expect(created.status).toBe(201);
    expect(created.headers.get('content-type')).toBe('application/json');
    expect(created.json()).toEqual({});

    const got = await call(pipelineUrl(ts.url, 'main', 'exchange', '/config'), admin);
    expect(got.status).toBe(200);
    expect(got.headers.get('content-type')).toBe('application/json');
    const version = got.headers.get('x-concourse-config-version');
    expect(version).toMatch(/^\d+$/);
    const expected = toConfigJson(parsePipelineConfig(PIPELINE_YAML).config!);
    expect(got.text).toBe(JSON.stringify({ config: expected }));
    // Reading again gives the same bytes and version.
    const again = await call(pipelineUrl(ts.url, 'main', 'exchange', '/config'), admin);
    expect(again.text).toBe(got.text);
    expect(again.headers.get('x-concourse-config-version')).toBe(version);

    const pipeline = await call(pipelineUrl(ts.url, 'main', 'exchange'), admin);
    expect(pipeline.status).toBe(200);
    expect(pipeline.json()).toEqual({
      id: expect.any(Number),
      name: 'exchange',
      paused: true,
      public: false,
      archived: false,
      team_name: 'main',
      last_updated: expect.any(Number),
    });

    const updated = await putConfig(ts.url, admin, 'main', 'exchange', PIPELINE_YAML, { version: version! });
    expect(updated.status).toBe(200);
    expect(updated.headers.get('content-type')).toBe('application/json');
    expect(updated.json()).toEqual({});
    const after = await call(pipelineUrl(ts.url, 'main', 'exchange', '/config'), admin);
    expect(Number(after.headers.get('x-concourse-config-version'))).toBeGreaterThan(Number(version));
    expect(after.text).toBe(got.text);
    // An update keeps the pipeline paused.
    expect((await call(pipelineUrl(ts.url, 'main', 'exchange'), admin)).json()).toMatchObject({
      paused: true,
    });
  });

  it('refuses a stale or missing version for an existing pipeline as the ATC does', async () => {
    await setPipeline(ts.url, admin, 'main', 'stale', PIPELINE_YAML);
    const first = await call(pipelineUrl(ts.url, 'main', 'stale', '/config'), admin);
    const version = first.headers.get('x-concourse-config-version')!;
    await setPipeline(ts.url, admin, 'main', 'stale', PIPELINE_YAML);

    const stale = await putConfig(ts.url, admin, 'main', 'stale', PIPELINE_YAML, { version });
    expect(stale.status).toBe(409); // Concourse: 500; bad input is never a 500 here
    expect(stale.text).toBe('failed to save config: comparison with existing config failed during save');
    const empty = await putConfig(ts.url, admin, 'main', 'stale', PIPELINE_YAML, { version: '' });
    expect(empty.status).toBe(409);

    const malformed = await putConfig(ts.url, admin, 'main', 'stale', PIPELINE_YAML, { version: 'abc' });
    expect(malformed.status).toBe(400);
    expect(malformed.headers.get('content-type')).toBe('application/json');
    expect(malformed.json()).toEqual({ errors: ['config version is malformed: expected integer'] });
  });

  it('answers an invalid config with 400 and exactly the validator errors, as exactly application/json', async () => {
    const invalid = await putConfig(
      ts.url,
      admin,
      'main',
      'invalid',
      `
groups:
- name: some-group
  jobs: [some-job]
  resources: [missing-resource]
resources:
- name: repo
  type: git
jobs:
- name: some-job
  plan: [{get: repo}]
`,
    );
    expect(invalid.status).toBe(400);
    expect(invalid.headers.get('content-type')).toBe('application/json');
    expect(invalid.json()).toEqual({
      errors: ["invalid groups:\n\tgroup 'some-group' has unknown resource 'missing-resource'\n"],
    });

    const malformed = await putConfig(ts.url, admin, 'main', 'invalid', 'jobs: [\n');
    expect(malformed.status).toBe(400);
    expect(malformed.headers.get('content-type')).toBe('application/json');
    const errors = malformed.json<{ errors: string[] }>().errors;
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^malformed config: error converting YAML to JSON: yaml: /);

    const unknownField = await putConfig(
      ts.url,
      admin,
      'main',
      'invalid',
      'jobs: [{name: j, plan: [], bogus: 1}]',
    );
    expect(unknownField.status).toBe(400);
    expect(unknownField.json()).toEqual({
      errors: ['malformed config: error unmarshaling JSON: while decoding JSON: json: unknown field "bogus"'],
    });
    expect((await call(pipelineUrl(ts.url, 'main', 'invalid'), admin)).status).toBe(404);
  });

  it('accepts JSON bodies and refuses other content types with 415', async () => {
    const json = await putConfig(
      ts.url,
      admin,
      'main',
      'as-json',
      JSON.stringify({ jobs: [{ name: 'j', plan: [] }] }),
      {
        contentType: 'application/json',
      },
    );
    expect(json.status).toBe(201);
    for (const contentType of ['text/plain', 'application/json; charset=utf-8', 'application/yaml']) {
      const refused = await putConfig(ts.url, admin, 'main', 'as-json', 'jobs: []', { contentType });
      expect({ contentType, status: refused.status, body: refused.text }).toEqual({
        contentType,
        status: 415,
        body: '',
      });
    }
  });

  it('returns identifier warnings for the pipeline and team names', async () => {
    const team = await call(`${ts.url}/api/v1/teams/_team`, admin, 'PUT', {
      auth: { owner: { users: ['local:admin'], groups: [] } },
    });
    expect(team.status).toBe(201);
    const saved = await putConfig(ts.url, admin, '_team', '_pipeline', 'jobs: [{name: j, plan: []}]');
    expect(saved.status).toBe(201);
    expect(saved.headers.get('content-type')).toBe('application/json');
    expect(saved.json()).toEqual({
      warnings: [
        {
          type: 'invalid_identifier',
          message:
            "pipeline: '_pipeline' is not a valid identifier: must start with a lowercase letter or a number",
        },
        {
          type: 'invalid_identifier',
          message: "team: '_team' is not a valid identifier: must start with a lowercase letter or a number",
        },
      ],
    });
  });

  it('checks credentials only when check_creds is given (key presence), refusing undefined vars', async () => {
    const yaml =
      'resources: [{name: r, type: git, source: {uri: ((repo-uri))}}]\njobs: [{name: j, plan: [{get: r}]}]';
    const refused = await putConfig(ts.url, admin, 'main', 'creds', yaml, { checkCreds: true });
    expect(refused.status).toBe(400);
    expect(refused.json()).toEqual({
      errors: ['credential validation failed\n\n1 error occurred:\n\t* undefined vars: repo-uri\n\n'],
    });
    expect((await putConfig(ts.url, admin, 'main', 'creds', yaml)).status).toBe(201);
  });

  it('needs member on the team to set and viewer to read the config', async () => {
    expect((await putConfig(ts.url, undefined, 'main', 'exchange', PIPELINE_YAML)).status).toBe(401);
    expect((await putConfig(ts.url, alice, 'main', 'exchange', PIPELINE_YAML)).status).toBe(403);
    expect((await call(pipelineUrl(ts.url, 'main', 'exchange', '/config'), alice)).status).toBe(403);
    expect((await call(pipelineUrl(ts.url, 'main', 'exchange', '/config'), undefined)).status).toBe(401);
  });
});

describe('managing pipelines', () => {
  it('lists, pauses and unpauses a pipeline, recording who paused it', async () => {
    await setPipeline(ts.url, admin, 'main', 'lifecycle', PIPELINE_YAML);
    const list = await call(`${ts.url}/api/v1/teams/main/pipelines`, admin);
    expect(list.status).toBe(200);
    expect(list.json<Array<{ name: string }>>().map((p) => p.name)).toContain('lifecycle');

    expect((await call(pipelineUrl(ts.url, 'main', 'lifecycle', '/unpause'), admin, 'PUT')).status).toBe(200);
    expect((await call(pipelineUrl(ts.url, 'main', 'lifecycle'), admin)).json()).toMatchObject({
      paused: false,
    });
    expect((await call(pipelineUrl(ts.url, 'main', 'lifecycle', '/pause'), admin, 'PUT')).status).toBe(200);
    const paused = (await call(pipelineUrl(ts.url, 'main', 'lifecycle'), admin)).json<
      Record<string, unknown>
    >();
    expect(paused).toMatchObject({ paused: true, paused_by: 'admin', paused_at: expect.any(Number) });
    expect((await call(pipelineUrl(ts.url, 'main', 'nope', '/pause'), admin, 'PUT')).status).toBe(404);
  });

  it('exposes a pipeline to anonymous readers and hides it again', async () => {
    await setPipeline(ts.url, admin, 'main', 'shown', PIPELINE_YAML);
    const url = pipelineUrl(ts.url, 'main', 'shown');
    expect((await call(url, undefined)).status).toBe(401);
    expect((await call(url, alice)).status).toBe(403);
    expect((await call(`${url}/jobs`, undefined)).status).toBe(401);
    const anonymousList = await call(`${ts.url}/api/v1/pipelines`, undefined);
    expect(anonymousList.json<Array<{ name: string }>>().map((p) => p.name)).not.toContain('shown');

    expect((await call(`${url}/expose`, admin, 'PUT')).status).toBe(200);
    const seen = await call(url, undefined);
    expect(seen.status).toBe(200);
    expect(seen.json()).toMatchObject({ name: 'shown', public: true });
    expect((await call(url, alice)).status).toBe(200);
    expect((await call(`${url}/jobs`, undefined)).status).toBe(200);
    expect((await call(`${url}/resources`, undefined)).status).toBe(200);
    // The config stays private (TEAM viewer), public pipeline or not.
    expect((await call(`${url}/config`, undefined)).status).toBe(401);
    const all = await call(`${ts.url}/api/v1/pipelines`, undefined);
    expect(all.json<Array<{ name: string }>>().map((p) => p.name)).toEqual(['shown']);
    const teamList = await call(`${ts.url}/api/v1/teams/main/pipelines`, undefined);
    expect(teamList.json<Array<{ name: string }>>().map((p) => p.name)).toEqual(['shown']);
    // A bad token is still a 401 on open routes.
    expect((await call(`${ts.url}/api/v1/pipelines`, 'not-a-token')).status).toBe(401);

    expect((await call(`${url}/hide`, admin, 'PUT')).status).toBe(200);
    expect((await call(url, undefined)).status).toBe(401);
    expect((await call(`${ts.url}/api/v1/teams/nope/pipelines`, admin)).status).toBe(404);
  });

  it('archives a pipeline and refuses actions on it with 409 until it is set again', async () => {
    await setPipeline(ts.url, admin, 'main', 'old', PIPELINE_YAML);
    const url = pipelineUrl(ts.url, 'main', 'old');
    expect((await call(`${url}/archive`, admin, 'PUT')).status).toBe(200);
    expect((await call(url, admin)).json()).toMatchObject({
      archived: true,
      paused: true,
      paused_by: 'automatic-pipeline-archiver',
    });
    expect((await call(`${url}/config`, admin)).status).toBe(404);

    const pause = await call(`${url}/pause`, admin, 'PUT');
    expect(pause.status).toBe(409);
    expect(pause.text).toBe('action not allowed for an archived pipeline\n');
    // The archived check runs before auth, as in Concourse.
    expect((await call(`${url}/unpause`, undefined, 'PUT')).status).toBe(409);
    expect((await call(`${url}/jobs/unit/builds`, admin, 'POST')).status).toBe(409);
    // Its jobs are gone from the API with the config.
    expect((await call(`${url}/jobs`, admin)).json()).toEqual([]);

    // fly sees no config (404) and sends an empty version: the pipeline comes back, still paused.
    const revived = await putConfig(ts.url, admin, 'main', 'old', PIPELINE_YAML, { version: '' });
    expect(revived.status).toBe(200);
    expect((await call(url, admin)).json()).toMatchObject({ archived: false, paused: true });
    expect((await call(`${url}/jobs`, admin)).json<unknown[]>()).toHaveLength(1);
  });

  it('renames a pipeline, validating the new name', async () => {
    await setPipeline(ts.url, admin, 'main', 'before', PIPELINE_YAML);
    const renamed = await call(pipelineUrl(ts.url, 'main', 'before', '/rename'), admin, 'PUT', {
      name: 'after',
    });
    expect(renamed.status).toBe(200);
    expect(renamed.json()).toEqual({});
    expect((await call(pipelineUrl(ts.url, 'main', 'before'), admin)).status).toBe(404);
    expect((await call(pipelineUrl(ts.url, 'main', 'after'), admin)).json()).toMatchObject({ name: 'after' });

    const empty = await call(pipelineUrl(ts.url, 'main', 'after', '/rename'), admin, 'PUT', { name: '' });
    expect(empty.status).toBe(400);
    expect(empty.json()).toEqual({ errors: ['pipeline: identifier cannot be an empty string'] });
    const warned = await call(pipelineUrl(ts.url, 'main', 'after', '/rename'), admin, 'PUT', {
      name: 'After',
    });
    expect(warned.status).toBe(200);
    expect(warned.json()).toEqual({
      warnings: [
        {
          type: 'invalid_identifier',
          message:
            "pipeline: 'After' is not a valid identifier: must start with a lowercase letter or a number",
        },
      ],
    });
    expect(
      (await call(pipelineUrl(ts.url, 'main', 'nope', '/rename'), admin, 'PUT', { name: 'x' })).status,
    ).toBe(404);
    await setPipeline(ts.url, admin, 'main', 'taken', PIPELINE_YAML);
    const clash = await call(pipelineUrl(ts.url, 'main', 'After', '/rename'), admin, 'PUT', {
      name: 'taken',
    });
    expect(clash.status).toBe(409);
  });

  it('orders the team pipelines and reports an unknown name', async () => {
    const team = await call(`${ts.url}/api/v1/teams/ordering`, admin, 'PUT', {
      auth: { owner: { users: ['local:admin'], groups: [] } },
    });
    expect(team.status).toBe(201);
    for (const name of ['p1', 'p2', 'p3']) await setPipeline(ts.url, admin, 'ordering', name, PIPELINE_YAML);
    const names = async () =>
      (await call(`${ts.url}/api/v1/teams/ordering/pipelines`, admin))
        .json<Array<{ name: string }>>()
        .map((p) => p.name);
    expect(await names()).toEqual(['p1', 'p2', 'p3']);
    const ordered = await call(`${ts.url}/api/v1/teams/ordering/pipelines/ordering`, admin, 'PUT', [
      'p3',
      'p1',
      'p2',
    ]);
    expect(ordered.status).toBe(200);
    expect(await names()).toEqual(['p3', 'p1', 'p2']);
    const unknown = await call(`${ts.url}/api/v1/teams/ordering/pipelines/ordering`, admin, 'PUT', [
      'p1',
      'nope',
    ]);
    expect(unknown.status).toBe(400);
    expect(unknown.text).toBe("pipeline 'nope' not found\n");
    expect(
      (await call(`${ts.url}/api/v1/teams/ordering/pipelines/ordering`, admin, 'PUT', { not: 'a list' }))
        .status,
    ).toBe(400);
  });

  it('destroys a pipeline with its builds (204), after which it is gone', async () => {
    await setPipeline(ts.url, admin, 'main', 'doomed', PIPELINE_YAML);
    const url = pipelineUrl(ts.url, 'main', 'doomed');
    const build = await call(`${url}/jobs/unit/builds`, admin, 'POST');
    expect(build.status).toBe(200);
    const buildId = build.json<{ id: number }>().id;
    expect((await call(url, alice, 'DELETE')).status).toBe(403);
    const destroyed = await call(url, admin, 'DELETE');
    expect(destroyed.status).toBe(204);
    expect(destroyed.text).toBe('');
    expect((await call(url, admin)).status).toBe(404);
    expect((await call(`${ts.url}/api/v1/builds/${buildId}`, admin)).status).toBe(404);
    expect((await call(url, admin, 'DELETE')).status).toBe(404);
  });
});

describe('instanced pipelines', () => {
  it('keeps instances apart by their instance vars, orders them within the group, and rejects malformed vars', async () => {
    await setPipeline(ts.url, admin, 'main', 'branches', PIPELINE_YAML, { branch: 'main' });
    await setPipeline(ts.url, admin, 'main', 'branches', PIPELINE_YAML, { branch: 'feature' });
    expect((await call(pipelineUrl(ts.url, 'main', 'branches'), admin)).status).toBe(404);
    const instance = await call(pipelineUrl(ts.url, 'main', 'branches', '', { branch: 'main' }), admin);
    expect(instance.status).toBe(200);
    expect(instance.json()).toMatchObject({ name: 'branches', instance_vars: { branch: 'main' } });
    // The whole-object form is accepted too.
    const whole = await call(
      `${pipelineUrl(ts.url, 'main', 'branches')}?vars=${encodeURIComponent('{"branch":"feature"}')}`,
      admin,
    );
    expect(whole.json()).toMatchObject({ instance_vars: { branch: 'feature' } });

    const listed = async () =>
      (await call(`${ts.url}/api/v1/teams/main/pipelines`, admin))
        .json<Array<{ name: string; instance_vars?: { branch: string } }>>()
        .filter((p) => p.name === 'branches')
        .map((p) => p.instance_vars?.branch);
    expect(await listed()).toEqual(['main', 'feature']);
    const ordered = await call(pipelineUrl(ts.url, 'main', 'branches', '/ordering'), admin, 'PUT', [
      { branch: 'feature' },
      { branch: 'main' },
    ]);
    expect(ordered.status).toBe(200);
    expect(await listed()).toEqual(['feature', 'main']);
    const unknown = await call(pipelineUrl(ts.url, 'main', 'branches', '/ordering'), admin, 'PUT', [
      { branch: 'nope' },
    ]);
    expect(unknown.status).toBe(400);
    expect(unknown.text).toBe("pipeline 'branches/branch:nope' not found\n");

    const badVars = `${pipelineUrl(ts.url, 'main', 'branches')}?vars.branch=not-json`;
    const bad = await call(badVars, admin);
    expect(bad.status).toBe(400);
    expect(bad.text).toBe('');
    const badConfig = await request(
      `${pipelineUrl(ts.url, 'main', 'branches', '/config')}?vars.branch=not-json`,
      {
        headers: bearer(admin),
      },
    );
    expect(badConfig.status).toBe(400);
    expect(badConfig.json<{ errors: string[] }>().errors[0]).toMatch(/^instance vars are malformed: /);

    // The instance's config round-trips like any other.
    const config = await call(pipelineUrl(ts.url, 'main', 'branches', '/config', { branch: 'main' }), admin);
    expect(config.status).toBe(200);
    expect(config.json()).toEqual({ config: toConfigJson(parsePipelineConfig(PIPELINE_YAML).config!) });
  });

  it('logged nothing at error level', () => {
    expect(errorLines()).toEqual([]);
  });
});
