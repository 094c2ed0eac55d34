import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FlyCli, FLY_SKIP_REASON, flyAvailable, type FlyResult } from './fly-cli.js';
import { ADMIN, loginToken, PLAIN_USER, startTestServer, type TestServer, waitFor } from './harness.js';
import { call, pipelineUrl } from './pipeline-client.js';

/**
 * The real fly 8.2.5 on a pipeline's maintenance commands (concourse-api.md §1.7): `execute -j` (a
 * pipeline one-off build taking the job's inputs), `clear-versions`, `clear-resource-cache` and
 * `clear-task-cache`, and their API answers for bad input.
 */
if (!flyAvailable) console.warn(`skipping pipeline-maintenance-fly.test.ts: ${FLY_SKIP_REASON}`);

const PIPELINE = `
resource_types:
- name: my-mock
  type: mock
  source: {initial_version: type-v1}
- name: broken
  type: no-such-type
resources:
- name: source
  type: mock
  source: {initial_version: from-the-job}
jobs:
- name: build
  plan:
  - get: source
    trigger: true
  - task: show
    config:
      platform: linux
      inputs: [{name: source}]
      run: {path: sh, args: [-ec, 'cat source/version']}
`;

const TASK = `
platform: linux
inputs: [{name: source}]
run: {path: sh, args: [-ec, 'echo "executed with $(cat source/version)"']}
`;

(flyAvailable ? describe : describe.skip)('pipeline maintenance with fly', () => {
  let ts: TestServer;
  let fly: FlyCli;
  let work: string;

  beforeAll(async () => {
    ts = await startTestServer({ env: { CONCOURSE_LIDAR_SCANNER_INTERVAL: '250ms' } });
    fly = await FlyCli.login(ts.url, ADMIN);
    work = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-maint-'));
    await writeFile(path.join(work, 'pipeline.yml'), PIPELINE);
    await writeFile(path.join(work, 'task.yml'), TASK);
    ok(await fly.run(['set-pipeline', '-n', '-p', 'p', '-c', path.join(work, 'pipeline.yml')]));
    ok(await fly.run(['unpause-pipeline', '-p', 'p']));
    // The job ran once, so its inputs are determined.
    await waitFor(async () => {
      const builds = JSON.parse(ok(await fly.run(['builds', '-j', 'p/build', '--json']))) as Array<{
        status: string;
      }>;
      return builds.some((build) => build.status === 'succeeded');
    }, 'the first job build');
  }, 60_000);

  afterAll(async () => {
    await fly?.dispose();
    await ts?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
  });

  function ok(result: FlyResult): string {
    if (result.code !== 0)
      throw new Error(`fly exited ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
    return result.stdout;
  }

  it('execute -j runs a one-off build of the pipeline with the job’s input versions', async () => {
    const output = ok(await fly.run(['execute', '-c', 'task.yml', '-j', 'p/build'], { cwd: work }));
    expect(output).toContain('executed with from-the-job');
    expect(output).toContain('succeeded');
    // The build belongs to the pipeline (listed with its builds), not to the job.
    const token = await loginToken(ts.url, ADMIN);
    const builds = JSON.parse(
      (await call(pipelineUrl(ts.url, 'main', 'p', '/builds'), token)).text,
    ) as Array<{
      name: string;
      job_name?: string;
      pipeline_name?: string;
      status: string;
    }>;
    const oneOff = builds.find((build) => build.job_name === undefined);
    expect(oneOff).toMatchObject({ pipeline_name: 'p', status: 'succeeded' });
  });

  it('execute -j is refused to a user without a role on the team', async () => {
    const token = await loginToken(ts.url, PLAIN_USER);
    const reply = await call(pipelineUrl(ts.url, 'main', 'p', '/builds'), token, 'POST', {
      id: '1',
      task: { name: 'x', config: { platform: 'linux', run: { path: 'true' } } },
    });
    expect(reply.status).toBe(403);
    const admin = await loginToken(ts.url, ADMIN);
    const bad = await call(pipelineUrl(ts.url, 'main', 'p', '/builds'), admin, 'POST', { nonsense: true });
    expect(bad.status).toBe(400);
    const missing = await call(pipelineUrl(ts.url, 'main', 'nope', '/builds'), admin, 'POST', {});
    expect(missing.status).toBe(404);
  });

  it('clear-versions lists who shares the versions and removes them', async () => {
    const versions = async () =>
      JSON.parse(ok(await fly.run(['resource-versions', '-r', 'p/source', '--json']))) as unknown[];
    expect(await versions()).toHaveLength(1);
    const output = ok(await fly.run(['clear-versions', '--resource', 'p/source', '-n']));
    expect(output).toContain('1 versions removed');
    expect(await versions()).toHaveLength(0);

    const token = await loginToken(ts.url, ADMIN);
    const shared = await call(pipelineUrl(ts.url, 'main', 'p', '/resources/source/shared'), token);
    expect(JSON.parse(shared.text)).toEqual({
      resources: [{ name: 'source', pipeline_name: 'p', team_name: 'main' }],
      resource_types: null,
    });
    const plain = await loginToken(ts.url, PLAIN_USER);
    expect(
      (await call(pipelineUrl(ts.url, 'main', 'p', '/resources/source/versions'), plain, 'DELETE')).status,
    ).toBe(403);
    expect(
      (await call(pipelineUrl(ts.url, 'main', 'p', '/resources/nope/versions'), token, 'DELETE')).status,
    ).toBe(404);
  });

  it('check-resource-type checks the type’s own resource, and clear-versions --resource-type empties it', async () => {
    const output = ok(await fly.run(['check-resource-type', '-r', 'p/my-mock']));
    expect(output).toMatch(/checking p\/my-mock in build \d+/);
    expect(output).toContain('succeeded');
    const token = await loginToken(ts.url, ADMIN);
    const shared = await call(pipelineUrl(ts.url, 'main', 'p', '/resource-types/my-mock/shared'), token);
    expect(JSON.parse(shared.text)).toEqual({
      resources: null,
      resource_types: [{ name: 'my-mock', pipeline_name: 'p', team_name: 'main' }],
    });
    expect(ok(await fly.run(['clear-versions', '--resource-type', 'p/my-mock', '-n']))).toContain(
      '1 versions removed',
    );

    // A type whose own type is unknown: the check build errors and fly says so.
    const broken = await fly.run(['check-resource-type', '-r', 'p/broken']);
    expect(broken.code).not.toBe(0);
    expect(broken.stdout + broken.stderr).toContain('no-such-type');
    const missing = await call(
      pipelineUrl(ts.url, 'main', 'p', '/resource-types/nope/check'),
      token,
      'POST',
      {},
    );
    expect(missing.status).toBe(404);
    const badBody = await call(
      pipelineUrl(ts.url, 'main', 'p', '/resource-types/my-mock/check'),
      token,
      'POST',
      {
        from: 'not-a-version',
      },
    );
    expect(badBody.status).toBe(400);
  });

  it('keeps only the latest check build of a resource type', async () => {
    const token = await loginToken(ts.url, ADMIN);
    const check = async () => {
      const reply = await call(
        pipelineUrl(ts.url, 'main', 'p', '/resource-types/my-mock/check'),
        token,
        'POST',
        {},
      );
      expect(reply.status).toBe(201);
      const id = (JSON.parse(reply.text) as { id: number }).id;
      await waitFor(async () => {
        const build = JSON.parse((await call(`${ts.url}/api/v1/builds/${id}`, token)).text) as {
          status: string;
        };
        return build.status === 'succeeded';
      }, `type check ${id}`);
      return id;
    };
    const first = await check();
    const second = await check();
    const { deleteCompletedCheckBuilds } = await import('../src/checking/check-build-collector.js');
    await deleteCompletedCheckBuilds(ts.server.ctx.db, { graceSeconds: 0 });
    expect((await call(`${ts.url}/api/v1/builds/${first}`, token)).status).toBe(404);
    expect((await call(`${ts.url}/api/v1/builds/${second}`, token)).status).toBe(200);
  });

  it('clear-resource-cache and clear-task-cache answer with what they removed (no caches are kept)', async () => {
    // fly asks for confirmation on clear-resource-cache (no -n), so the API is called as it would.
    const token = await loginToken(ts.url, ADMIN);
    const cleared = await call(
      pipelineUrl(ts.url, 'main', 'p', '/resources/source/cache'),
      token,
      'DELETE',
      {},
    );
    expect(cleared.status).toBe(200);
    expect(JSON.parse(cleared.text)).toEqual({ caches_removed: 0 });
    expect(ok(await fly.run(['clear-task-cache', '-j', 'p/build', '-s', 'show', '-n']))).toContain(
      '0 caches removed',
    );
    const reply = await call(pipelineUrl(ts.url, 'main', 'p', '/resources/nope/cache'), token, 'DELETE');
    expect(reply.status).toBe(404);
    expect(reply.headers.get('content-type')).toBe('application/vnd.api+json');
    expect(JSON.parse(reply.text)).toEqual({
      errors: [
        { title: 'Resource Not Found Error', detail: "Resource with name 'nope' not found.", status: '404' },
      ],
    });
  });
});
