import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { findResource, sql, type Database, type Kysely } from '@jetbridge/db';
import { startTestPostgres, type TestPostgres } from '@jetbridge/db/testing';
import { createBuild, executePlan, readBuildEvents, statusesOf } from './execute-client.js';
import {
  ADMIN,
  loginToken,
  spawnWebNode,
  startTestServer,
  webCliMissing,
  webNodeEnv,
  type TestServer,
  waitFor,
} from './harness.js';
import { call, pipelineUrl, setPipeline } from './pipeline-client.js';

/**
 * Several web nodes on one database (issue #4 item 8): checks, scheduling and build tracking coordinate
 * through PostgreSQL, as Concourse's web nodes do.
 */

const CHECK_EVERY_MS = 2000;

describe('two web nodes checking and scheduling one pipeline', () => {
  let a: TestServer;
  let b: TestServer;
  let db: Kysely<Database>;
  const env = { CONCOURSE_LIDAR_SCANNER_INTERVAL: '200ms' };

  beforeAll(async () => {
    a = await startTestServer({ env });
    b = await startTestServer({ env, sharedPostgres: a.postgres });
    db = a.server.ctx.db;
  });
  afterAll(async () => {
    await b?.destroy();
    await a?.destroy();
  });

  it('checks each resource once per interval and creates one build per new version', async () => {
    const token = await loginToken(a.url, ADMIN);
    await setPipeline(
      a.url,
      token,
      'main',
      'clock',
      `
resources:
- name: clock
  type: time
  check_every: 2s
  source: {interval: 2s}
jobs:
- name: tick
  plan:
  - get: clock
    trigger: true
  - task: say
    config:
      platform: linux
      run: {path: sh, args: [-ec, 'echo tick']}
`,
    );
    expect((await call(pipelineUrl(a.url, 'main', 'clock', '/unpause'), token, 'PUT')).status).toBe(200);
    const pipeline = await db
      .selectFrom('pipelines')
      .select('id')
      .where('name', '=', 'clock')
      .executeTakeFirst();
    const resource = await findResource(db, pipeline!.id, 'clock');

    // Both nodes scan every 200 ms for 13 s.
    await new Promise((resolve) => setTimeout(resolve, 13_000));
    await call(pipelineUrl(a.url, 'main', 'clock', '/pause'), token, 'PUT');
    await waitFor(async () => (await unfinished(db, pipeline!.id)) === 0, 'builds to finish', 30_000);

    const checks = await db
      .selectFrom('builds')
      .select(['id', 'start_time', 'end_time', 'status'])
      .where('resource_id', '=', resource!.id)
      .where('start_time', 'is not', null)
      .orderBy('start_time')
      .execute();
    // One check per interval: never two at once, and never sooner than the interval (less its jitter) after the last.
    expect(checks.length).toBeGreaterThanOrEqual(4);
    expect(checks.length).toBeLessThanOrEqual(Math.ceil(13_000 / (CHECK_EVERY_MS * 0.9)) + 1);
    for (let i = 1; i < checks.length; i++) {
      const gap = checks[i]!.start_time!.getTime() - checks[i - 1]!.end_time!.getTime();
      expect(gap).toBeGreaterThanOrEqual(CHECK_EVERY_MS * 0.9 - 100);
    }

    // One build per version, no version built twice, names 1..n.
    const builds = await db
      .selectFrom('builds as b')
      .innerJoin('jobs as j', 'j.id', 'b.job_id')
      .leftJoin('build_resource_config_version_inputs as i', 'i.build_id', 'b.id')
      .select(['b.id', 'b.name', 'b.status', 'i.version_sha256'])
      .where('j.pipeline_id', '=', pipeline!.id)
      .orderBy('b.id')
      .execute();
    expect(builds.length).toBeGreaterThanOrEqual(3);
    expect(builds.map((build) => build.name)).toEqual(builds.map((_, i) => String(i + 1)));
    expect(builds.every((build) => build.status === 'succeeded')).toBe(true);
    const versions = builds.map((build) => build.version_sha256);
    expect(versions.every((v) => v !== null)).toBe(true);
    expect(new Set(versions).size).toBe(versions.length);
    const versionCount = await db
      .selectFrom('resource_config_versions')
      .select(sql<number>`count(*)::int`.as('n'))
      .where('resource_config_scope_id', '=', resource!.resourceConfigScopeId!)
      .executeTakeFirstOrThrow();
    // Every version found was built (the last one may have come as the pipeline was paused).
    expect(builds.length).toBeGreaterThanOrEqual(versionCount.n - 1);
  }, 90_000);
});

describe('a web node that dies mid-build', () => {
  let postgres: TestPostgres;
  let dataDir: string;
  let doomed: ChildProcess | undefined;
  let survivor: TestServer | undefined;

  beforeAll(async () => {
    postgres = await startTestPostgres({ user: 'ci_operator', database: 'ci_jetbridge' });
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-doomed-'));
  });
  afterAll(async () => {
    doomed?.kill('SIGKILL');
    await survivor?.destroy();
    await postgres?.destroy();
    await rm(dataDir, { recursive: true, force: true });
  });

  // The doomed node is the built CLI, a separate process that can die without any cleanup (SIGKILL).
  const itWithCli = webCliMissing === undefined ? it : it.skip;
  itWithCli(
    'another node ends its builds errored within the tracking interval, and the job can run again',
    async () => {
      const node = await spawnWebNode(
        { ...webNodeEnv(postgres), JETBRIDGE_DATA_DIR: dataDir },
        'the doomed node',
      );
      doomed = node.child;
      const { url } = node;
      const token = await loginToken(url, ADMIN);
      await setPipeline(
        url,
        token,
        'main',
        'slow',
        `
jobs:
- name: slow
  plan:
  - task: sleep
    config:
      platform: linux
      run: {path: sh, args: [-ec, 'echo sleeping; sleep 20']}
`,
      );
      expect((await call(pipelineUrl(url, 'main', 'slow', '/unpause'), token, 'PUT')).status).toBe(200);
      // A job build and a one-off build, both running on the doomed node (the one the requests went to).
      const triggered = await call(pipelineUrl(url, 'main', 'slow', '/jobs/slow/builds'), token, 'POST');
      expect(triggered.status).toBe(200);
      const jobBuildId = (JSON.parse(triggered.text) as { id: number }).id;
      const created = await createBuild(
        url,
        token,
        'main',
        executePlan(
          { platform: 'linux', run: { path: 'sh', args: ['-ec', 'echo sleeping; sleep 20'] } },
          [],
          [],
        ),
      );
      const oneOffId = ((await created.json()) as { id: number }).id;
      for (const id of [jobBuildId, oneOffId]) {
        await readBuildEvents(url, token, id, {
          onEvent: (event) => {
            if (event.event === 'log' && String(event.data['payload']).includes('sleeping')) throw new Stop();
          },
        }).catch((err: unknown) => {
          if (!(err instanceof Stop)) throw err;
        });
      }

      // The survivor starts while the doomed node is alive: its builds are left alone.
      survivor = await startTestServer({ sharedPostgres: postgres });
      const db = survivor.server.ctx.db;
      expect(await statusOf(db, jobBuildId)).toBe('started');
      expect(survivor.server.app.buildTracker.isRunningHere(jobBuildId)).toBe(false);

      doomed.kill('SIGKILL');
      const killedAt = Date.now();
      await waitFor(
        async () =>
          (await statusOf(db, jobBuildId)) === 'errored' && (await statusOf(db, oneOffId)) === 'errored',
        'the survivor to end the orphaned builds',
        30_000,
      );
      // Within the build tracker interval (10 s), give or take a sweep.
      expect(Date.now() - killedAt).toBeLessThan(22_000);

      const survivorToken = await loginToken(survivor.url, ADMIN);
      for (const id of [jobBuildId, oneOffId]) {
        const { events } = await readBuildEvents(survivor.url, survivorToken, id);
        expect(statusesOf(events)).toEqual(['started', 'errored']);
        const errors = events.filter((e) => e.event === 'error').map((e) => String(e.data['message']));
        expect(errors.at(-1)).toMatch(/^build interrupted: the web node running it/);
      }

      // The job is not stuck: a new build runs on the survivor.
      const again = await call(
        pipelineUrl(survivor.url, 'main', 'slow', '/jobs/slow/builds'),
        survivorToken,
        'POST',
      );
      expect(again.status).toBe(200);
      const againId = (JSON.parse(again.text) as { id: number }).id;
      await waitFor(
        async () => (await statusOf(db, againId)) === 'started',
        'the new build to start',
        30_000,
      );
      expect(survivor.server.app.buildTracker.isRunningHere(againId)).toBe(true);
      await call(`${survivor.url}/api/v1/builds/${againId}/abort`, survivorToken, 'PUT');
    },
    120_000,
  );
});

class Stop extends Error {}

async function statusOf(db: Kysely<Database>, id: number): Promise<string | undefined> {
  const row = await db.selectFrom('builds').select('status').where('id', '=', id).executeTakeFirst();
  return row?.status;
}

async function unfinished(db: Kysely<Database>, pipelineId: number): Promise<number> {
  const row = await db
    .selectFrom('builds')
    .select(sql<number>`count(*)::int`.as('n'))
    .where('pipeline_id', '=', pipelineId)
    .where('status', 'in', ['pending', 'started'])
    .executeTakeFirstOrThrow();
  return row.n;
}
