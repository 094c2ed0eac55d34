import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FlyCli, FLY_SKIP_REASON, flyAvailable, type FlyResult } from './fly-cli.js';
import { ADMIN, startTestServer, type TestServer } from './harness.js';

/**
 * The real fly 8.2.5 driving pipeline builds end to end (concourse-api.md §6.4, §6.6, §6.7, §6.9–6.11):
 * set-pipeline and unpause-pipeline on examples/passed-chain.yml, trigger-job -w streaming a job build to
 * its end, builds, resource-versions, check-resource (streamed, from a version) and pin-resource.
 */
const CHAIN = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../examples/passed-chain.yml',
);

if (!flyAvailable) console.warn(`skipping fly-pipeline-builds.test.ts: ${FLY_SKIP_REASON}`);

(flyAvailable ? describe : describe.skip)('fly runs pipeline builds', () => {
  let ts: TestServer;
  let fly: FlyCli;

  beforeAll(async () => {
    ts = await startTestServer({
      env: { CONCOURSE_LIDAR_SCANNER_INTERVAL: '250ms', CONCOURSE_RESOURCE_CHECKING_INTERVAL: '1s' },
    });
    fly = await FlyCli.login(ts.url, ADMIN);
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

  it('sets and unpauses the pipeline', async () => {
    expect(ok(await fly.run(['set-pipeline', '-n', '-p', 'chain', '-c', CHAIN]))).toContain(
      'pipeline created!',
    );
    ok(await fly.run(['unpause-pipeline', '-p', 'chain']));
  });

  it('triggers a job and watches its build to success', async () => {
    const result = await fly.run(['trigger-job', '-j', 'chain/build', '-w']);
    const output = ok(result);
    expect(output).toMatch(/started chain\/build #\d+/);
    expect(output).toContain('succeeded');
  });

  it('lists the job’s builds', async () => {
    const builds = JSON.parse(ok(await fly.run(['builds', '-j', 'chain/build', '--json']))) as Array<{
      name: string;
      status: string;
      job_name?: string;
      pipeline_name?: string;
    }>;
    expect(builds.length).toBeGreaterThanOrEqual(1);
    for (const build of builds) expect(build).toMatchObject({ job_name: 'build', pipeline_name: 'chain' });
    expect(builds.some((build) => build.status === 'succeeded')).toBe(true);
    expect(ok(await fly.run(['builds', '-p', 'chain']))).toMatch(/chain\/build\/\d+\s+succeeded/);
  });

  it('lists resource versions, checks from a version, and pins one', async () => {
    const versions = async () =>
      (
        JSON.parse(ok(await fly.run(['resource-versions', '-r', 'chain/source', '--json']))) as Array<{
          version: { version: string };
        }>
      ).map((v) => v.version.version);
    expect(await versions()).toEqual(['v1']);

    const check = ok(await fly.run(['check-resource', '-r', 'chain/source', '-f', 'version:v0']));
    expect(check).toMatch(/checking chain\/source in build \d+/);
    expect(check).toContain('succeeded');
    expect(await versions()).toEqual(['v0', 'v1']);

    ok(await fly.run(['pin-resource', '-r', 'chain/source', '-v', 'version:v1', '-c', 'hold it here']));
    const resources = JSON.parse(ok(await fly.run(['resources', '-p', 'chain', '--json']))) as Array<{
      name: string;
      pinned_version?: Record<string, string>;
      pin_comment?: string;
    }>;
    expect(resources.find((resource) => resource.name === 'source')).toMatchObject({
      pinned_version: { version: 'v1' },
      pin_comment: 'hold it here',
    });
  });

  it('logged nothing at error level', () => {
    expect(ts.logs.filter((line) => typeof line['level'] === 'number' && line['level'] >= 50)).toEqual([]);
  });
});
