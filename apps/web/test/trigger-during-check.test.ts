import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { sql, type Database, type Kysely } from '@jetbridge/db';
import { ADMIN, loginToken, startTestServer, type TestServer } from './harness.js';
import { call, pipelineUrl, setPipeline } from './pipeline-client.js';

/**
 * `fly trigger-job` while a check saves a new version (issue #4's suspected race): the manually triggered
 * build is the job's next build and takes the new version; the scheduler must not create a second build
 * for a version the triggered build is about to use (concourse-semantics.md §5).
 */
let ts: TestServer;
let token: string;
let db: Kysely<Database>;

beforeAll(async () => {
  ts = await startTestServer({ env: { CONCOURSE_LIDAR_SCANNER_INTERVAL: '100ms' } });
  token = await loginToken(ts.url, ADMIN);
  db = ts.server.ctx.db;
});
afterAll(async () => {
  await ts?.destroy();
});

const url = (suffix: string) => pipelineUrl(ts.url, 'main', 'race', suffix);

interface JobBuildRow {
  id: number;
  name: string;
  status: string;
  manually_triggered: boolean;
  version_sha256: string | null;
}

async function jobBuilds(): Promise<JobBuildRow[]> {
  const { rows } = await sql<JobBuildRow>`
    select b.id, b.name, b.status, b.manually_triggered, i.version_sha256
    from builds b join jobs j on j.id = b.job_id join pipelines p on p.id = j.pipeline_id
    left join build_resource_config_version_inputs i on i.build_id = b.id
    where p.name = 'race' order by b.id`.execute(db);
  return rows;
}

async function versionCount(): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    select count(*)::int as n from resource_config_versions v
    join resources r on r.resource_config_scope_id = v.resource_config_scope_id
    join pipelines p on p.id = r.pipeline_id where p.name = 'race'`.execute(db);
  return rows[0]?.n ?? 0;
}

async function settle(): Promise<JobBuildRow[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const builds = await jobBuilds();
    if (builds.every((b) => b.status !== 'pending' && b.status !== 'started')) return builds;
    if (Date.now() > deadline) throw new Error(`builds did not finish: ${JSON.stringify(builds)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

it('a trigger racing a check that finds a new version gives one build for that version', async () => {
  // A new `time` version whenever a check runs a second or more after the last one; the scanner checks
  // only hourly, so the checks here are the ones the trigger and the API ask for.
  await setPipeline(
    ts.url,
    token,
    'main',
    'race',
    `
resources:
- name: clock
  type: time
  check_every: 1h
  source: {interval: 1s}
jobs:
- name: job
  plan:
  - get: clock
    trigger: true
  - task: say
    config:
      platform: linux
      run: {path: sh, args: [-ec, 'echo ran']}
`,
  );
  expect((await call(url('/unpause'), token, 'PUT')).status).toBe(200);
  // The first scan finds the first version, and the scheduler builds it.
  let builds = await settleAfter(() => Promise.resolve(), 1);
  expect(builds).toHaveLength(1);

  for (let round = 0; round < 4; round++) {
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const before = await versionCount();
    builds = await settleAfter(async () => {
      // The trigger, and a check asked for at the same moment (as a webhook or `fly check-resource` would).
      const [triggered, checked] = await Promise.all([
        call(url('/jobs/job/builds'), token, 'POST'),
        call(url('/resources/clock/check'), token, 'POST', {}),
      ]);
      expect(triggered.status).toBe(200);
      expect(checked.status).toBe(201);
    }, builds.length + 1);
    const newVersions = (await versionCount()) - before;
    expect(newVersions).toBe(1);
    // Exactly one more build: the triggered one, with the new version.
    expect(builds).toHaveLength(round + 2);
    expect(builds.at(-1)?.manually_triggered).toBe(true);
    expect(new Set(builds.map((b) => b.version_sha256)).size).toBe(builds.length);
  }
}, 120_000);

/** Do `action`, wait for `count` job builds to exist and finish, then a little longer for stray ones. */
async function settleAfter(action: () => Promise<void>, count: number): Promise<JobBuildRow[]> {
  await action();
  const deadline = Date.now() + 30_000;
  while ((await jobBuilds()).length < count) {
    if (Date.now() > deadline) throw new Error(`expected ${count} builds`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await settle();
  // Long enough for the scheduler's follow-up passes (kicks after checks and finished builds).
  await new Promise((resolve) => setTimeout(resolve, 1500));
  return settle();
}

it('a trigger right after unpausing a new pipeline, racing its first check, gives one build', async () => {
  for (let round = 0; round < 3; round++) {
    const name = `fresh-${round}`;
    await setPipeline(
      ts.url,
      token,
      'main',
      name,
      `
resources:
- name: clock
  type: time
  check_every: 1h
  source: {interval: 1h}
jobs:
- name: job
  plan:
  - get: clock
    trigger: true
  - task: say
    config:
      platform: linux
      run: {path: sh, args: [-ec, 'echo ran']}
`,
    );
    const [unpaused, triggered] = await Promise.all([
      call(pipelineUrl(ts.url, 'main', name, '/unpause'), token, 'PUT'),
      call(pipelineUrl(ts.url, 'main', name, '/jobs/job/builds'), token, 'POST'),
    ]);
    expect(unpaused.status).toBe(200);
    expect(triggered.status).toBe(200);
    const deadline = Date.now() + 30_000;
    const finished = async () => {
      const { rows } = await sql<{ id: number; status: string; manually_triggered: boolean }>`
        select b.id, b.status, b.manually_triggered from builds b join jobs j on j.id = b.job_id
        join pipelines p on p.id = j.pipeline_id where p.name = ${name} order by b.id`.execute(db);
      return rows;
    };
    while ((await finished()).some((b) => b.status === 'pending' || b.status === 'started')) {
      if (Date.now() > deadline) throw new Error('builds did not finish');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const builds = await finished();
    expect(builds.map((b) => [b.status, b.manually_triggered])).toEqual([['succeeded', true]]);
  }
}, 120_000);
