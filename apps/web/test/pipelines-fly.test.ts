import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FlyCli, FLY_SKIP_REASON, flyAvailable, type FlyResult } from './fly-cli.js';
import { ADMIN, startTestServer, type TestServer } from './harness.js';

/**
 * The real fly 8.2.5 managing a pipeline end to end (concourse-api.md §6.4–6.6, §6.10, §6.16): set-pipeline
 * (including its GET config / diff / version header exchange), pipelines, get-pipeline, unpause, pause-job,
 * jobs, resources, destroy-pipeline.
 */
const YAML = `resources:
- name: repo
  type: git
  source:
    uri: https://example.com/repo.git
jobs:
- name: unit
  plan:
  - get: repo
    trigger: true
  - task: test
    config:
      platform: linux
      run:
        path: sh
        args: [-c, echo ok]
`;

if (!flyAvailable) console.warn(`skipping pipelines-fly.test.ts: ${FLY_SKIP_REASON}`);

(flyAvailable ? describe : describe.skip)('fly manages a pipeline', () => {
  let ts: TestServer;
  let fly: FlyCli;
  let file: string;

  beforeAll(async () => {
    ts = await startTestServer();
    fly = await FlyCli.login(ts.url, ADMIN);
    file = path.join(fly.home, 'pipeline.yml');
    await writeFile(file, YAML);
  });

  afterAll(async () => {
    await fly?.dispose();
    await ts?.destroy();
  });

  function ok(result: FlyResult): string {
    if (result.code !== 0)
      throw new Error(`fly exited ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
    return result.stdout;
  }

  it('sets a new pipeline (created paused), and finds nothing to change on a second set', async () => {
    const created = ok(await fly.run(['set-pipeline', '-n', '-p', 'p', '-c', file]));
    expect(created).toContain('pipeline created!');
    expect(created).toContain('the pipeline is currently paused');
    const again = ok(await fly.run(['set-pipeline', '-n', '-p', 'p', '-c', file]));
    expect(again).toContain('no changes to apply');

    // A real change goes through the version header and is an update.
    await writeFile(file, YAML.replace('echo ok', 'echo changed'));
    const updated = ok(await fly.run(['set-pipeline', '-n', '-p', 'p', '-c', file]));
    expect(updated).toContain('configuration updated');
  });

  it('lists the pipeline and prints its config', async () => {
    const list = ok(await fly.run(['pipelines', '--json']));
    const pipelines = JSON.parse(list) as Array<{ name: string; paused: boolean; team_name: string }>;
    expect(pipelines).toEqual([expect.objectContaining({ name: 'p', paused: true, team_name: 'main' })]);
    const table = ok(await fly.run(['pipelines']));
    expect(table).toMatch(/\bp\b/);

    const config = JSON.parse(ok(await fly.run(['get-pipeline', '-p', 'p', '--json']))) as {
      jobs: Array<{ name: string; plan: Array<Record<string, unknown>> }>;
    };
    expect(config.jobs[0]?.name).toBe('unit');
    expect(config.jobs[0]?.plan[1]).toMatchObject({
      task: 'test',
      config: { run: { args: ['-c', 'echo changed'] } },
    });
    expect(ok(await fly.run(['get-pipeline', '-p', 'p']))).toContain('name: unit');
  });

  it('unpauses the pipeline and pauses a job, as jobs and resources then show', async () => {
    ok(await fly.run(['unpause-pipeline', '-p', 'p']));
    const pipelines = JSON.parse(ok(await fly.run(['pipelines', '--json']))) as Array<{ paused: boolean }>;
    expect(pipelines[0]?.paused).toBe(false);

    ok(await fly.run(['pause-job', '-j', 'p/unit']));
    const jobs = JSON.parse(ok(await fly.run(['jobs', '-p', 'p', '--json']))) as Array<{
      name: string;
      paused?: boolean;
    }>;
    expect(jobs).toEqual([expect.objectContaining({ name: 'unit', paused: true })]);
    expect(ok(await fly.run(['jobs', '-p', 'p']))).toMatch(/unit\s+yes/);

    const resources = JSON.parse(ok(await fly.run(['resources', '-p', 'p', '--json']))) as Array<{
      name: string;
      type: string;
    }>;
    expect(resources).toEqual([expect.objectContaining({ name: 'repo', type: 'git' })]);
    expect(ok(await fly.run(['resources', '-p', 'p']))).toMatch(/repo\s+git/);
  });

  it('triggers the job: a pending build named 1', async () => {
    const triggered = ok(await fly.run(['trigger-job', '-j', 'p/unit']));
    expect(triggered).toContain('started p/unit #1');
  });

  it('asks for a check without waiting for it, and lists (no) versions', async () => {
    const check = ok(await fly.run(['check-resource', '-r', 'p/repo', '--async']));
    expect(check).toMatch(/checking p\/repo in build \d+/);
    expect(ok(await fly.run(['resource-versions', '-r', 'p/repo', '--json']))).toBe('[]\n');
  });

  it('handles instance vars, renames, exposes, hides and archives', async () => {
    ok(await fly.run(['set-pipeline', '-n', '-p', 'branches', '-c', file, '-i', 'branch=main']));
    ok(await fly.run(['set-pipeline', '-n', '-p', 'branches', '-c', file, '-i', 'branch=feature']));
    expect(
      ok(await fly.run(['set-pipeline', '-n', '-p', 'branches', '-c', file, '-i', 'branch=main'])),
    ).toContain('no changes to apply');
    const names = async () =>
      (
        JSON.parse(ok(await fly.run(['pipelines', '--json']))) as Array<{
          name: string;
          instance_vars?: { branch: string };
        }>
      ).map((p) => (p.instance_vars ? `${p.name}/branch:${p.instance_vars.branch}` : p.name));
    expect(await names()).toEqual(['p', 'branches/branch:main', 'branches/branch:feature']);
    ok(
      await fly.run([
        'order-instanced-pipelines',
        '-g',
        'branches',
        '-p',
        'branch:feature',
        '-p',
        'branch:main',
      ]),
    );
    ok(await fly.run(['order-pipelines', '-p', 'branches', '-p', 'p']));
    expect(await names()).toEqual(['branches/branch:feature', 'branches/branch:main', 'p']);
    ok(await fly.run(['unpause-pipeline', '-p', 'branches/branch:feature']));

    ok(await fly.run(['expose-pipeline', '-p', 'p']));
    expect(
      (
        JSON.parse(ok(await fly.run(['pipelines', '--json']))) as Array<{ name: string; public: boolean }>
      ).find((x) => x.name === 'p')?.public,
    ).toBe(true);
    ok(await fly.run(['hide-pipeline', '-p', 'p']));

    ok(await fly.run(['rename-pipeline', '-o', 'branches', '-n', 'trees']));
    expect(await names()).toEqual(['trees/branch:feature', 'trees/branch:main', 'p']);

    ok(await fly.run(['archive-pipeline', '-p', 'trees/branch:main', '-n']));
    const archived = await fly.run(['pipelines', '--include-archived', '--json']);
    expect(
      (
        JSON.parse(ok(archived)) as Array<{ name: string; archived: boolean; instance_vars?: unknown }>
      ).filter((x) => x.archived),
    ).toEqual([expect.objectContaining({ name: 'trees', instance_vars: { branch: 'main' } })]);
    const refused = await fly.run(['unpause-pipeline', '-p', 'trees/branch:main']);
    expect(refused.code).not.toBe(0);
    expect(`${refused.stdout}${refused.stderr}`).toContain('action not allowed for an archived pipeline');
    ok(await fly.run(['destroy-pipeline', '-p', 'trees/branch:main', '-n']));
    ok(await fly.run(['destroy-pipeline', '-p', 'trees/branch:feature', '-n']));
  });

  it('destroys the pipeline', async () => {
    const destroyed = ok(await fly.run(['destroy-pipeline', '-p', 'p', '-n']));
    expect(destroyed).toContain('`p` deleted');
    const pipelines = JSON.parse(ok(await fly.run(['pipelines', '--json']))) as unknown[];
    expect(pipelines).toEqual([]);
    const missing = await fly.run(['get-pipeline', '-p', 'p']);
    expect(missing.code).not.toBe(0);
    expect(`${missing.stdout}${missing.stderr}`).toContain('pipeline not found');
  });

  it('logged nothing at error level', () => {
    expect(ts.logs.filter((line) => typeof line.level === 'number' && line.level >= 50)).toEqual([]);
  });
});
