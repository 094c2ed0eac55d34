import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  findJob,
  findOrCreateResourceConfig,
  findOrCreateResourceConfigScope,
  findPipeline,
  findResource,
  finishBuild,
  saveBuildInputs,
  saveNextBuildInputs,
  saveResourceVersions,
  setResourceConfigScope,
  versionSha256,
} from '@jetbridge/db';
import { ADMIN, PLAIN_USER, loginToken, startTestServer, type TestServer } from './harness.js';
import { call, pipelineUrl, setPipeline } from './pipeline-client.js';

/**
 * Jobs (concourse-api.md §1.5, §2.5, §2.7, §6.7–6.10, §6.15): summaries and details, manual triggers and
 * reruns creating pending builds with Concourse's names, a job's builds a page at a time, pausing, next
 * inputs, badges, and public pipelines read anonymously. The scheduler is not there yet: where a test needs
 * what it would record (inputs, finished builds), it writes that through the db queries the scheduler uses.
 */
let ts: TestServer;
let admin: string;
let alice: string;
let teamId: number;

const YAML = `
groups:
- name: all
  jobs: ["*"]
- name: testing
  jobs: [unit, integration]
resources:
- name: repo
  type: git
  source: {uri: https://example.com/repo.git}
- name: image
  type: registry-image
  source: {repository: busybox}
jobs:
- name: unit
  serial: true
  plan:
  - get: repo
    trigger: true
  - put: image
    params: {build: .}
- name: integration
  public: true
  plan:
  - in_parallel:
    - get: repo
      passed: [unit]
      trigger: true
    - get: image
      passed: [unit]
      params: {format: oci}
      tags: [big]
- name: manual-only
  disable_manual_trigger: true
  disable_reruns: true
  plan:
  - get: repo
`;

function url(suffix = '', pipeline = 'ci'): string {
  return pipelineUrl(ts.url, 'main', pipeline, suffix);
}

beforeAll(async () => {
  ts = await startTestServer();
  admin = await loginToken(ts.url, ADMIN);
  alice = await loginToken(ts.url, PLAIN_USER);
  await setPipeline(ts.url, admin, 'main', 'ci', YAML);
  const main = await ts.server.ctx.db
    .selectFrom('teams')
    .select('id')
    .where('name', '=', 'main')
    .executeTakeFirstOrThrow();
  teamId = main.id;
});

afterAll(async () => {
  await ts?.destroy();
});

async function pipelineId(name = 'ci'): Promise<number> {
  const pipeline = await findPipeline(ts.server.ctx.db, teamId, name);
  if (!pipeline) throw new Error(`no pipeline ${name}`);
  return pipeline.id;
}

describe('jobs', () => {
  it('lists job summaries with inputs, outputs and groups, and no builds yet', async () => {
    const id = await pipelineId();
    const jobs = await call(url('/jobs'), admin);
    expect(jobs.status).toBe(200);
    expect(jobs.json()).toEqual([
      {
        id: expect.any(Number),
        name: 'unit',
        team_name: 'main',
        pipeline_id: id,
        pipeline_name: 'ci',
        groups: ['all', 'testing'],
        inputs: [{ name: 'repo', resource: 'repo', trigger: true }],
        outputs: [{ name: 'image', resource: 'image' }],
      },
      {
        id: expect.any(Number),
        name: 'integration',
        team_name: 'main',
        pipeline_id: id,
        pipeline_name: 'ci',
        groups: ['all', 'testing'],
        inputs: [
          { name: 'image', resource: 'image', passed: ['unit'] },
          { name: 'repo', resource: 'repo', passed: ['unit'], trigger: true },
        ],
      },
      {
        id: expect.any(Number),
        name: 'manual-only',
        team_name: 'main',
        pipeline_id: id,
        pipeline_name: 'ci',
        groups: ['all'],
        inputs: [{ name: 'repo', resource: 'repo' }],
      },
    ]);
  });

  it('gets a job with next_build and finished_build null (not absent)', async () => {
    const job = await call(url('/jobs/integration'), admin);
    expect(job.status).toBe(200);
    expect(job.json()).toEqual({
      id: expect.any(Number),
      name: 'integration',
      team_name: 'main',
      pipeline_id: await pipelineId(),
      pipeline_name: 'ci',
      groups: ['all', 'testing'],
      next_build: null,
      finished_build: null,
      inputs: [
        { name: 'image', resource: 'image', trigger: false, passed: ['unit'] },
        { name: 'repo', resource: 'repo', trigger: true, passed: ['unit'] },
      ],
    });
    expect(job.text).toContain('"next_build":null');
    expect((await call(url('/jobs/nope'), admin)).status).toBe(404);
    const manual = await call(url('/jobs/manual-only'), admin);
    expect(manual.json()).toMatchObject({ disable_manual_trigger: true, disable_reruns: true });
  });

  it('triggers builds named 1, 2 (pending, created by the caller) and shows the oldest as next_build', async () => {
    const first = await call(url('/jobs/unit/builds'), admin, 'POST');
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('application/json');
    const build1 = first.json<{ id: number }>();
    expect(build1).toEqual({
      id: expect.any(Number),
      team_name: 'main',
      name: '1',
      status: 'pending',
      api_url: `/api/v1/builds/${build1.id}`,
      job_name: 'unit',
      pipeline_id: await pipelineId(),
      pipeline_name: 'ci',
      created_by: 'admin',
    });
    const second = await call(url('/jobs/unit/builds'), admin, 'POST');
    expect(second.json()).toMatchObject({ name: '2', status: 'pending' });

    const job = await call(url('/jobs/unit'), admin);
    expect(job.json()).toMatchObject({
      next_build: { id: build1.id, name: '1', status: 'pending' },
      finished_build: null,
    });
    const summary = (await call(url('/jobs'), admin)).json<Array<Record<string, unknown>>>()[0];
    expect(summary?.['next_build']).toEqual({
      id: build1.id,
      name: '1',
      status: 'pending',
      team_name: 'main',
      pipeline_id: await pipelineId(),
      pipeline_name: 'ci',
      job_name: 'unit',
    });

    expect((await call(url('/jobs/manual-only/builds'), admin, 'POST')).status).toBe(409);
    expect((await call(url('/jobs/nope/builds'), admin, 'POST')).status).toBe(404);
    expect((await call(url('/jobs/unit/builds'), alice, 'POST')).status).toBe(403);
    expect((await call(url('/jobs/unit/builds'), undefined, 'POST')).status).toBe(401);
  });

  it('gets a job build by name or as latest', async () => {
    const one = await call(url('/jobs/unit/builds/1'), admin);
    expect(one.status).toBe(200);
    expect(one.json()).toMatchObject({ name: '1', job_name: 'unit' });
    const latest = await call(url('/jobs/unit/builds/latest'), admin);
    expect(latest.json()).toMatchObject({ name: '2' });
    expect((await call(url('/jobs/unit/builds/99'), admin)).status).toBe(404);
  });

  it("lists a job's builds newest first, a page at a time with Link headers", async () => {
    const all = await call(url('/jobs/unit/builds'), admin);
    expect(all.status).toBe(200);
    expect(all.headers.get('link')).toBeNull();
    const builds = all.json<Array<{ name: string; id: number }>>();
    expect(builds.map((b) => b.name)).toEqual(['2', '1']);
    const third = (await call(url('/jobs/unit/builds'), admin, 'POST')).json<{ id: number; name: string }>();
    expect(third.name).toBe('3');
    const [two, one] = builds;

    const base = `${ts.config.externalUrl}/api/v1/teams/main/pipelines/ci/jobs/unit/builds`;
    const page1 = await call(url('/jobs/unit/builds?limit=2'), admin);
    expect(page1.json<Array<{ name: string }>>().map((b) => b.name)).toEqual(['3', '2']);
    expect(page1.headers.get('link')).toBe(`<${base}?to=${one!.id}&limit=2>; rel="next"`);
    const page2 = await call(url(`/jobs/unit/builds?to=${one!.id}&limit=2`), admin);
    expect(page2.json<Array<{ name: string }>>().map((b) => b.name)).toEqual(['1']);
    expect(page2.headers.get('link')).toBe(`<${base}?from=${two!.id}&limit=2>; rel="previous"`);
    const back = await call(url(`/jobs/unit/builds?from=${two!.id}&limit=2`), admin);
    expect(back.json<Array<{ name: string }>>().map((b) => b.name)).toEqual(['3', '2']);

    // The pipeline's own build list sees them too.
    const pipelineBuilds = await call(url('/builds?limit=1'), admin);
    expect(pipelineBuilds.json<Array<{ name: string }>>().map((b) => b.name)).toEqual(['3']);
    expect(pipelineBuilds.headers.get('link')).toBe(
      `<${ts.config.externalUrl}/api/v1/teams/main/pipelines/ci/builds?to=${two!.id}&limit=1>; rel="next"`,
    );
  });

  it('reruns only builds whose inputs were recorded, naming reruns after the original (1.1, 1.2)', async () => {
    const db = ts.server.ctx.db;
    const build1 = (await call(url('/jobs/unit/builds/1'), admin)).json<{ id: number }>();
    const refused = await call(url('/jobs/unit/builds/1'), admin, 'POST');
    expect(refused.status).toBe(409); // Concourse: 500; bad input is never a 500 here

    const pipeline = await pipelineId();
    const repo = await findResource(db, pipeline, 'repo');
    const configId = await findOrCreateResourceConfig(db, 'git', { uri: 'https://example.com/repo.git' });
    const scopeId = await findOrCreateResourceConfigScope(db, configId, repo!.id);
    await setResourceConfigScope(db, repo!.id, configId, scopeId);
    await saveResourceVersions(db, scopeId, [{ version: { ref: 'abc' } }]);
    await saveBuildInputs(db, build1.id, [
      { name: 'repo', resourceId: repo!.id, version: { ref: 'abc' }, firstOccurrence: true },
    ]);

    const rerun = await call(url('/jobs/unit/builds/1'), admin, 'POST');
    expect(rerun.status).toBe(200);
    const rerunBuild = rerun.json<{ id: number }>();
    expect(rerunBuild).toEqual({
      id: expect.any(Number),
      team_name: 'main',
      name: '1.1',
      status: 'pending',
      api_url: `/api/v1/builds/${rerunBuild.id}`,
      job_name: 'unit',
      pipeline_id: pipeline,
      pipeline_name: 'ci',
      rerun_number: 1,
      rerun_of: { id: build1.id, name: '1' },
      created_by: 'admin',
    });
    // A rerun of the rerun counts against the original.
    await saveBuildInputs(db, rerunBuild.id, [
      { name: 'repo', resourceId: repo!.id, version: { ref: 'abc' }, firstOccurrence: false },
    ]);
    const again = await call(url('/jobs/unit/builds/1.1'), admin, 'POST');
    expect(again.json()).toMatchObject({
      name: '1.2',
      rerun_number: 2,
      rerun_of: { id: build1.id, name: '1' },
    });
    expect((await call(url('/jobs/manual-only/builds/1'), admin, 'POST')).status).toBe(409);

    // Reruns sort next to their original.
    const names = (await call(url('/jobs/unit/builds'), admin))
      .json<Array<{ name: string }>>()
      .map((b) => b.name);
    expect(names).toEqual(['3', '2', '1.2', '1.1', '1']);

    // input_to lists the build that used the version.
    const versions = (await call(url('/resources/repo/versions'), admin)).json<Array<{ id: number }>>();
    const inputTo = await call(url(`/resources/repo/versions/${versions[0]!.id}/input_to`), admin);
    expect(inputTo.json<Array<{ name: string }>>().map((b) => b.name)).toEqual(['1', '1.1']);
  });

  it('pauses and unpauses a job', async () => {
    expect((await call(url('/jobs/unit/pause'), admin, 'PUT')).status).toBe(200);
    expect((await call(url('/jobs/unit'), admin)).json()).toMatchObject({
      paused: true,
      paused_by: 'admin',
      paused_at: expect.any(Number),
    });
    expect((await call(url('/jobs'), admin)).json<Array<Record<string, unknown>>>()[0]).toMatchObject({
      paused: true,
    });
    expect((await call(url('/jobs/unit/unpause'), admin, 'PUT')).status).toBe(200);
    const job = (await call(url('/jobs/unit'), admin)).json<Record<string, unknown>>();
    expect(job['paused']).toBeUndefined();
    expect((await call(url('/jobs/nope/pause'), admin, 'PUT')).status).toBe(404);
  });

  it('answers 404 for next inputs until the scheduler determined them, then lists them', async () => {
    const db = ts.server.ctx.db;
    expect((await call(url('/jobs/integration/inputs'), admin)).status).toBe(404);
    const pipeline = await pipelineId();
    const job = await findJob(db, pipeline, 'integration');
    const repo = await findResource(db, pipeline, 'repo');
    await saveNextBuildInputs(
      db,
      job!.id,
      [
        {
          inputName: 'repo',
          resourceId: repo!.id,
          versionSha256: versionSha256({ ref: 'abc' }),
          firstOccurrence: true,
          resolveError: null,
        },
        {
          inputName: 'image',
          resourceId: null,
          versionSha256: null,
          firstOccurrence: false,
          resolveError: 'no satisfiable builds',
        },
      ],
      true,
    );
    const inputs = await call(url('/jobs/integration/inputs'), admin);
    expect(inputs.status).toBe(200);
    expect(inputs.json()).toEqual([
      {
        name: 'image',
        resource: 'image',
        type: 'registry-image',
        source: { repository: 'busybox' },
        params: { format: 'oci' },
        version: null,
        tags: ['big'],
      },
      {
        name: 'repo',
        resource: 'repo',
        type: 'git',
        source: { uri: 'https://example.com/repo.git' },
        version: { ref: 'abc' },
      },
    ]);
  });

  it('draws badges from the latest finished build', async () => {
    const unknown = await call(url('/jobs/unit/badge'), admin);
    expect(unknown.status).toBe(200);
    expect(unknown.headers.get('content-type')).toBe('image/svg+xml');
    expect(unknown.text).toContain('>unknown</text>');
    const build1 = (await call(url('/jobs/unit/builds/1'), admin)).json<{ id: number }>();
    await finishBuild(ts.server.ctx.db, build1.id, 'succeeded');
    expect((await call(url('/jobs/unit/badge'), admin)).text).toContain('>passing</text>');
    expect((await call(url('/jobs/unit'), admin)).json()).toMatchObject({
      finished_build: { id: build1.id, status: 'succeeded' },
    });
    const titled = await call(url('/jobs/unit/badge?title=unit%20tests'), admin);
    expect(titled.text).toContain('>unit tests</text>');
    // A custom title: 6 per character plus padding (10 chars → 66), plus the status part (88 - 37).
    expect(titled.text).toContain('width="117"');
    expect((await call(url('/badge'), admin)).text).toContain('>passing</text>');
    const redirect = await call(`${ts.url}/api/v1/pipelines/ci/jobs/unit/badge`, undefined);
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe('/api/v1/teams/main/pipelines/ci/jobs/unit/badge');
  });

  it('answers clear-task-cache with a JSON:API 404 for an unknown job', async () => {
    const missing = await call(url('/jobs/nope/tasks/test/cache'), admin, 'DELETE');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toBe('application/vnd.api+json');
    expect(missing.json()).toEqual({
      errors: [{ title: 'Job Not Found Error', detail: "Job with name 'nope' not found.", status: '404' }],
    });
    const cleared = await call(url('/jobs/unit/tasks/test/cache'), admin, 'DELETE');
    expect(cleared.status).toBe(200);
    expect(cleared.json()).toEqual({ caches_removed: 0 });
  });

  it('lets anyone read the jobs of a public pipeline, and lists only visible jobs', async () => {
    expect((await call(url('/jobs'), undefined)).status).toBe(401);
    expect((await call(`${ts.url}/api/v1/jobs`, undefined)).json()).toEqual([]);
    expect((await call(url('/expose'), admin, 'PUT')).status).toBe(200);
    expect((await call(url('/jobs'), undefined)).status).toBe(200);
    expect((await call(url('/jobs/unit/builds'), undefined)).status).toBe(200);
    const all = (await call(`${ts.url}/api/v1/jobs`, alice)).json<Array<{ name: string }>>();
    expect(all.map((job) => job.name)).toEqual(['unit', 'integration', 'manual-only']);
    // Build reads: a public pipeline's job build is readable when the job is public (BUILD-R); the private
    // job's build only through the build routes that allow private jobs.
    const unitBuild = (await call(url('/jobs/unit/builds/1'), admin)).json<{ id: number }>();
    const planOfPrivateJob = await call(`${ts.url}/api/v1/builds/${unitBuild.id}/plan`, undefined);
    expect(planOfPrivateJob.status).toBe(401);
    const integration = await call(url('/jobs/integration/builds'), admin, 'POST');
    const integrationId = integration.json<{ id: number }>().id;
    // 404 (no plan yet), not 401: the build is readable.
    expect((await call(`${ts.url}/api/v1/builds/${integrationId}/plan`, undefined)).status).toBe(404);
    expect((await call(url('/hide'), admin, 'PUT')).status).toBe(200);
    expect((await call(`${ts.url}/api/v1/builds/${integrationId}/plan`, undefined)).status).toBe(401);
  });
});

describe('re-setting a pipeline', () => {
  const BASE = `
resources:
- name: repo
  type: git
  source: {uri: https://example.com/one.git}
jobs:
- name: first
  plan: [{get: repo}]
`;

  it('keeps builds across an old_name rename, hides removed jobs, and revives them with their builds', async () => {
    await setPipeline(ts.url, admin, 'main', 'evolving', BASE);
    const u = (suffix: string) => url(suffix, 'evolving');
    const build = (await call(u('/jobs/first/builds'), admin, 'POST')).json<{ id: number }>();

    await setPipeline(
      ts.url,
      admin,
      'main',
      'evolving',
      BASE.replace('- name: first', '- name: renamed\n  old_name: first'),
    );
    expect((await call(u('/jobs/first'), admin)).status).toBe(404);
    const kept = await call(u('/jobs/renamed/builds'), admin);
    expect(kept.json()).toEqual([expect.objectContaining({ id: build.id, name: '1', job_name: 'renamed' })]);
    // The build number sequence carries over too.
    expect((await call(u('/jobs/renamed/builds'), admin, 'POST')).json()).toMatchObject({ name: '2' });

    // Removed from the config: gone from the API, its row kept inactive.
    await setPipeline(ts.url, admin, 'main', 'evolving', 'jobs: [{name: other, plan: []}]');
    expect((await call(u('/jobs'), admin)).json<Array<{ name: string }>>().map((job) => job.name)).toEqual([
      'other',
    ]);
    expect((await call(u('/jobs/renamed'), admin)).status).toBe(404);
    expect((await call(u('/resources'), admin)).json()).toEqual([]);
    await setPipeline(ts.url, admin, 'main', 'evolving', BASE.replace('- name: first', '- name: renamed'));
    expect((await call(u('/jobs/renamed/builds'), admin)).json<unknown[]>()).toHaveLength(2);
  });

  it('starts a new version history when a resource source changes, and keeps it otherwise', async () => {
    const db = ts.server.ctx.db;
    await setPipeline(ts.url, admin, 'main', 'history', BASE);
    const pipeline = await pipelineId('history');
    const repo = await findResource(db, pipeline, 'repo');
    const configId = await findOrCreateResourceConfig(db, 'git', { uri: 'https://example.com/one.git' });
    const scopeId = await findOrCreateResourceConfigScope(db, configId, repo!.id);
    await setResourceConfigScope(db, repo!.id, configId, scopeId);
    await saveResourceVersions(db, scopeId, [{ version: { ref: 'a' } }]);
    const versions = () => call(url('/resources/repo/versions', 'history'), admin);
    expect((await versions()).json<unknown[]>()).toHaveLength(1);

    // Same source (another field changed): same history.
    await setPipeline(
      ts.url,
      admin,
      'main',
      'history',
      BASE.replace('type: git', 'type: git\n  icon: github'),
    );
    expect((await versions()).json<unknown[]>()).toHaveLength(1);
    // New source: the checker must find a new config; no versions until it does.
    await setPipeline(ts.url, admin, 'main', 'history', BASE.replace('one.git', 'two.git'));
    expect((await versions()).json()).toEqual([]);
    expect((await findResource(db, pipeline, 'repo'))?.resourceConfigScopeId).toBeNull();
  });

  it('pins from the config, and un-pins when the config no longer pins', async () => {
    const pinned = BASE.replace(
      '  source: {uri: https://example.com/one.git}',
      '  version: {ref: abc}\n  source: {uri: https://example.com/one.git}',
    );
    await setPipeline(ts.url, admin, 'main', 'pins', pinned);
    expect((await call(url('/resources/repo', 'pins'), admin)).json()).toMatchObject({
      pinned_version: { ref: 'abc' },
      pinned_in_config: true,
    });
    await setPipeline(ts.url, admin, 'main', 'pins', BASE);
    expect((await call(url('/resources/repo', 'pins'), admin)).json()).not.toHaveProperty('pinned_version');
  });
});

describe('the scheduling doorbells', () => {
  it('tells a wired-in scheduler about triggered builds, schedule requests and checks', async () => {
    const rung: Array<[string, unknown]> = [];
    ts.server.ctx.pipelineScheduling = {
      scheduleRequested: (reason) => rung.push(['scheduleRequested', reason]),
      jobBuildCreated: (build) => rung.push(['jobBuildCreated', build]),
      checkRequested: (check) => rung.push(['checkRequested', check]),
      resourceScanRequested: (reason) => rung.push(['resourceScanRequested', reason]),
    };
    try {
      const build = (await call(url('/jobs/unit/builds'), admin, 'POST')).json<{ id: number }>();
      const job = await findJob(ts.server.ctx.db, await pipelineId(), 'unit');
      expect(rung).toEqual([
        ['jobBuildCreated', { id: build.id, jobId: job!.id, pipelineId: await pipelineId(), rerunOf: null }],
      ]);
      rung.length = 0;
      expect((await call(url('/unpause'), admin, 'PUT')).status).toBe(200);
      expect(rung.map(([name]) => name)).toEqual(['scheduleRequested', 'resourceScanRequested']);
      rung.length = 0;
      const check = (
        await call(url('/resources/repo/check'), admin, 'POST', { from: null, shallow: true })
      ).json<{ id: number }>();
      expect(rung).toEqual([
        ['checkRequested', { buildId: check.id, resourceId: expect.any(Number), from: null, shallow: true }],
      ]);
    } finally {
      delete ts.server.ctx.pipelineScheduling;
    }
  });
});

it('logged nothing at error level', () => {
  expect(ts.logs.filter((line) => typeof line.level === 'number' && line.level >= 50)).toEqual([]);
});
