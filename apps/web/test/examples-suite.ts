// The pipelines in examples/ end to end, for any runtime: set through the API as fly does (GET config, PUT
// with the version header), unpaused, then checked by the checker, scheduled by the scheduler, planned and run
// by the job build starter. Each waits for the builds it should produce and looks at the inputs they were
// given (`GET /builds/:id/resources`). examples.test.ts runs it on the local runtime,
// examples-kubernetes.test.ts on the Kubernetes runtime (steps as pods on the kube-test-server).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { logText, readBuildEvents } from './execute-client.js';
import { ADMIN, loginToken, until as pollUntil, type TestServer } from './harness.js';
import { call, pipelineUrl, setPipeline } from './pipeline-client.js';
import { ensureJobScheduler } from './scheduler-wiring.js';

const EXAMPLES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../examples');

/** The env the examples need on top of a runtime's own: checks every second, looked for every 250 ms. */
export const EXAMPLES_ENV: NodeJS.ProcessEnv = {
  CONCOURSE_LIDAR_SCANNER_INTERVAL: '250ms',
  CONCOURSE_RESOURCE_CHECKING_INTERVAL: '1s',
};

/**
 * Every example as its own describe block, on the server `startServer` starts (with {@link EXAMPLES_ENV}
 * in its environment); `stopServer` is called after them.
 */
export function describeExamples(options: {
  startServer: () => Promise<TestServer>;
  stopServer?: () => Promise<void>;
  /** Time limit of waiting for a build. Default 60 s. */
  buildTimeoutMs?: number;
}): void {
  let ts: TestServer;
  let admin: string;
  let scheduler: { stop(): Promise<void> };

  interface BuildJson {
    id: number;
    name: string;
    status: string;
    job_name?: string;
  }
  interface BuildResources {
    inputs: Array<{ name: string; version: Record<string, string>; first_occurrence: boolean }>;
    outputs: Array<{ name: string; version: Record<string, string> }>;
  }

  const FINISHED = ['succeeded', 'failed', 'errored', 'aborted'];

  const until = <T>(what: string, probe: () => Promise<T | undefined>) =>
    pollUntil(what, probe, options.buildTimeoutMs ?? 60_000);

  async function setExample(pipeline: string, file: string): Promise<void> {
    const yaml = await readFile(path.join(EXAMPLES, file), 'utf8');
    const saved = await setPipeline(ts.url, admin, 'main', pipeline, yaml);
    expect(saved.json()).toEqual({});
    expect((await call(pipelineUrl(ts.url, 'main', pipeline, '/unpause'), admin, 'PUT')).status).toBe(200);
  }

  async function jobBuilds(pipeline: string, job: string): Promise<BuildJson[]> {
    return (await call(pipelineUrl(ts.url, 'main', pipeline, `/jobs/${job}/builds`), admin)).json<
      BuildJson[]
    >();
  }

  /** The first `count` finished builds of a job, oldest first, once there are that many. */
  async function finishedBuilds(pipeline: string, job: string, count = 1): Promise<BuildJson[]> {
    return until(`${count} finished build(s) of ${pipeline}/${job}`, async () => {
      const done = (await jobBuilds(pipeline, job))
        .filter((build) => FINISHED.includes(build.status))
        .reverse();
      return done.length >= count ? done.slice(0, count) : undefined;
    });
  }

  async function resourcesOf(buildId: number): Promise<BuildResources> {
    return (await call(`${ts.url}/api/v1/builds/${buildId}/resources`, admin)).json<BuildResources>();
  }

  async function trigger(pipeline: string, job: string): Promise<BuildJson> {
    const reply = await call(pipelineUrl(ts.url, 'main', pipeline, `/jobs/${job}/builds`), admin, 'POST');
    expect(reply.status).toBe(200);
    return reply.json<BuildJson>();
  }

  async function buildLog(buildId: number): Promise<string> {
    return logText((await readBuildEvents(ts.url, admin, buildId)).events);
  }

  beforeAll(async () => {
    ts = await options.startServer();
    admin = await loginToken(ts.url, ADMIN);
    scheduler = await ensureJobScheduler(ts.server);
  });

  afterAll(async () => {
    await scheduler?.stop();
    await (options.stopServer ? options.stopServer() : ts?.destroy());
  });

  describe('examples/passed-chain.yml', () => {
    it('runs build → test → ship, each on what its upstream job used and produced', async () => {
      await setExample('chain', 'passed-chain.yml');
      const [ship] = await finishedBuilds('chain', 'ship');
      const [build] = await finishedBuilds('chain', 'build');
      const [test] = await finishedBuilds('chain', 'test');
      expect([build!.status, test!.status, ship!.status]).toEqual(['succeeded', 'succeeded', 'succeeded']);

      expect(await resourcesOf(build!.id)).toEqual({
        inputs: [
          {
            name: 'source',
            version: { version: 'v1' },
            pipeline_id: expect.any(Number),
            first_occurrence: true,
          },
        ],
        outputs: [{ name: 'artifact', version: { version: 'v1-built' } }],
      });
      expect((await resourcesOf(test!.id)).inputs).toEqual([
        {
          name: 'artifact',
          version: { version: 'v1-built' },
          pipeline_id: expect.any(Number),
          first_occurrence: true,
        },
        {
          name: 'source',
          version: { version: 'v1' },
          pipeline_id: expect.any(Number),
          first_occurrence: true,
        },
      ]);
      expect((await resourcesOf(ship!.id)).inputs).toEqual([
        {
          name: 'artifact',
          version: { version: 'v1-built' },
          pipeline_id: expect.any(Number),
          first_occurrence: true,
        },
      ]);
      expect(await buildLog(ship!.id)).toContain('shipping v1-built');
    });
  });

  describe('examples/time-trigger.yml', () => {
    it('builds once per new time version', async () => {
      await setExample('clock', 'time-trigger.yml');
      const builds = await finishedBuilds('clock', 'tick', 2);
      expect(builds.map((build) => build.status)).toEqual(['succeeded', 'succeeded']);
      const times = await Promise.all(
        builds.map(async (build) => (await resourcesOf(build.id)).inputs[0]?.version['time']),
      );
      expect(times[0]).not.toEqual(times[1]);
      expect(new Date(times[1]!).getTime()).toBeGreaterThan(new Date(times[0]!).getTime());
    });
  });

  describe('examples/across.yml', () => {
    it('runs the task once per combination', async () => {
      await setExample('across', 'across.yml');
      const triggered = await trigger('across', 'fan-out');
      const [build] = await finishedBuilds('across', 'fan-out');
      expect(build).toMatchObject({ id: triggered.id, status: 'succeeded' });
      const log = await buildLog(build!.id);
      for (const line of [
        'one small vanilla',
        'one large vanilla',
        'one small chocolate',
        'one large chocolate',
      ]) {
        expect(log).toContain(line);
      }
    });
  });

  describe('examples/set-pipeline.yml', () => {
    it('sets the greeter pipeline, which then runs', async () => {
      await setExample('configure', 'set-pipeline.yml');
      const [configure] = await finishedBuilds('configure', 'configure');
      expect(configure!.status).toBe('succeeded');
      expect(await buildLog(configure!.id)).toContain('setting pipeline: greeter');
      const greeter = (await call(pipelineUrl(ts.url, 'main', 'greeter'), admin)).json<{ paused: boolean }>();
      expect(greeter.paused).toBe(false);

      await trigger('greeter', 'greet');
      const [greet] = await finishedBuilds('greeter', 'greet');
      expect(greet!.status).toBe('succeeded');
      expect(await buildLog(greet!.id)).toContain('hello from set_pipeline');
    });
  });

  describe('examples/load-var.yml', () => {
    it('uses a value loaded from a fetched file', async () => {
      await setExample('release', 'load-var.yml');
      const [publish] = await finishedBuilds('release', 'publish');
      expect(publish!.status).toBe('succeeded');
      expect(await buildLog(publish!.id)).toContain('publishing bumblebee');
      expect((await resourcesOf(publish!.id)).inputs).toEqual([
        {
          name: 'release',
          version: { version: 'r1' },
          pipeline_id: expect.any(Number),
          first_occurrence: true,
        },
      ]);
    });
  });

  describe('examples/on-failure.yml', () => {
    it('fails, running the step and job on_failure hooks and ensure', async () => {
      await setExample('flaky', 'on-failure.yml');
      await trigger('flaky', 'flaky');
      const [flaky] = await finishedBuilds('flaky', 'flaky');
      expect(flaky!.status).toBe('failed');
      const log = await buildLog(flaky!.id);
      expect(log).toContain('something went wrong');
      expect(log).toContain('the fail task failed');
      expect(log).toContain('cleaning up');
      const alerts = (
        await call(pipelineUrl(ts.url, 'main', 'flaky', '/resources/alerts/versions'), admin)
      ).json<Array<{ version: Record<string, string> }>>();
      expect(alerts.map((v) => v.version)).toEqual([{ version: 'flaky-failed' }]);
      expect((await resourcesOf(flaky!.id)).outputs).toEqual([
        { name: 'alerts', version: { version: 'flaky-failed' } },
      ]);
    });
  });

  it('logged nothing at error level', () => {
    expect(ts.logs.filter((line) => typeof line['level'] === 'number' && line['level'] >= 50)).toEqual([]);
  });
}
