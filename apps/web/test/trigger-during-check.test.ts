import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import pg from 'pg';
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
let typesDir: string;

/** A resource type whose check takes two seconds (a host executable, as the local runtime runs types). */
async function slowCheckType(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-types-'));
  const type = path.join(dir, 'slow-check');
  await mkdir(type);
  const scripts = {
    check: `cat > /dev/null; sleep 2; echo '[{"v":"1"}]'`,
    in: `cat > /dev/null; echo '{"version":{"v":"1"}}'`,
    out: `cat > /dev/null; echo '{"version":{"v":"1"}}'`,
  };
  for (const [name, body] of Object.entries(scripts)) {
    await writeFile(path.join(type, name), `#!/bin/sh\n${body}\n`);
    await chmod(path.join(type, name), 0o755);
  }
  return dir;
}

beforeAll(async () => {
  typesDir = await slowCheckType();
  ts = await startTestServer({
    env: { CONCOURSE_LIDAR_SCANNER_INTERVAL: '100ms', JETBRIDGE_RESOURCE_TYPES_DIR: typesDir },
  });
  token = await loginToken(ts.url, ADMIN);
  db = ts.server.ctx.db;
});
afterAll(async () => {
  await ts?.destroy();
  await rm(typesDir, { recursive: true, force: true });
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

it('a trigger while a periodic check of its input runs starts once that check ends, not a scheduler tick later', async () => {
  await setPipeline(
    ts.url,
    token,
    'main',
    'slow',
    `
resources:
- name: slow
  type: slow-check
  check_every: 3s
jobs:
- name: job
  plan:
  - get: slow
    trigger: true
  - task: say
    config:
      platform: linux
      run: {path: sh, args: [-ec, 'echo ran']}
`,
  );
  expect((await call(pipelineUrl(ts.url, 'main', 'slow', '/unpause'), token, 'PUT')).status).toBe(200);
  const runningCheck = async (): Promise<number | undefined> => {
    const { rows } = await sql<{ id: number }>`
      select b.id from builds b join resources r on r.id = b.resource_id
      join pipelines p on p.id = r.pipeline_id where p.name = 'slow' and b.status = 'started'`.execute(db);
    return rows[0]?.id;
  };
  const jobBuildsFinished = async () => {
    const { rows } = await sql<{ n: number; done: number }>`
      select count(*)::int as n, count(*) filter (where b.status not in ('pending', 'started'))::int as done
      from builds b join jobs j on j.id = b.job_id join pipelines p on p.id = j.pipeline_id
      where p.name = 'slow'`.execute(db);
    return rows[0] !== undefined && rows[0].n > 0 && rows[0].n === rows[0].done;
  };
  const times = async (id: number) =>
    db
      .selectFrom('builds')
      .select(['status', 'start_time', 'end_time'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();

  for (let round = 0; round < 3; round++) {
    // With the job's builds done, wait for a periodic check to be under way, and trigger then.
    const deadline = Date.now() + 30_000;
    let check: number | undefined;
    while (!(await jobBuildsFinished()) || (check = await runningCheck()) === undefined) {
      if (Date.now() > deadline) throw new Error('no periodic check seen');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const triggered = await call(pipelineUrl(ts.url, 'main', 'slow', '/jobs/job/builds'), token, 'POST');
    expect(triggered.status).toBe(200);
    const id = (JSON.parse(triggered.text) as { id: number }).id;
    while ((await times(id)).status === 'pending') {
      if (Date.now() > deadline) throw new Error('the triggered build never started');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // It started right after that check ended (the scheduler's own interval is 10 s).
    const checkEnd = (await times(check!)).end_time;
    const buildStart = (await times(id)).start_time;
    expect(checkEnd).not.toBeNull();
    expect(buildStart!.getTime() - checkEnd!.getTime()).toBeLessThan(1500);
  }
}, 60_000);

it('a trigger while an unpause of its pipeline is under way does not deadlock', async () => {
  await setPipeline(
    ts.url,
    token,
    'main',
    'locks',
    `
jobs:
- name: job
  plan:
  - task: say
    config:
      platform: linux
      run: {path: sh, args: [-ec, 'echo ran']}
`,
  );
  const { rows } = await sql<{ id: number }>`select id from pipelines where name = 'locks'`.execute(db);
  const pipelineId = rows[0]!.id;
  // An unpause as unpausePipeline makes it: the pipeline row first, then its jobs; the trigger comes between.
  const unpause = new pg.Client(ts.postgres.connection);
  await unpause.connect();
  try {
    await unpause.query('begin');
    await unpause.query('update pipelines set paused = false where id = $1', [pipelineId]);
    const triggered = call(pipelineUrl(ts.url, 'main', 'locks', '/jobs/job/builds'), token, 'POST');
    await new Promise((resolve) => setTimeout(resolve, 500));
    await unpause.query('update jobs set schedule_requested = now() where pipeline_id = $1', [pipelineId]);
    await unpause.query('commit');
    expect((await triggered).status).toBe(200);
  } finally {
    await unpause.end();
  }
});

it('after a triggered build, a check from an older version makes that version the newest, and the scheduler builds it', async () => {
  // What `fly trigger-job` then `fly check-resource -f version:v0` do: as in Concourse, the versions a check
  // returns move to the top of the history (SaveVersions bumps their check order), so v0 is a new version for
  // a `trigger: true` input and gets a build of its own — one, not more.
  await setPipeline(
    ts.url,
    token,
    'main',
    'older',
    `
resources:
- name: source
  type: mock
  check_every: 1h
  source: {initial_version: v1}
jobs:
- name: job
  plan:
  - get: source
    trigger: true
`,
  );
  const url = (suffix: string) => pipelineUrl(ts.url, 'main', 'older', suffix);
  const builds = async () => {
    const { rows } = await sql<{
      name: string;
      status: string;
      manually_triggered: boolean;
      version: unknown;
    }>`
      select b.name, b.status, b.manually_triggered, v.version
      from builds b join jobs j on j.id = b.job_id join pipelines p on p.id = j.pipeline_id
      left join build_resource_config_version_inputs i on i.build_id = b.id
      left join resources r on r.id = i.resource_id
      left join resource_config_versions v
        on v.resource_config_scope_id = r.resource_config_scope_id and v.version_sha256 = i.version_sha256
      where p.name = 'older' order by b.id`.execute(db);
    return rows;
  };
  const settled = async (count: number) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const rows = await builds();
      if (rows.length >= count && rows.every((b) => b.status === 'succeeded')) return rows;
      if (Date.now() > deadline) throw new Error(`builds: ${JSON.stringify(rows)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  // Unpausing and triggering at once: the manual build takes v1, the scheduler adds none for it.
  await call(url('/unpause'), token, 'PUT');
  expect((await call(url('/jobs/job/builds'), token, 'POST')).status).toBe(200);
  await settled(1);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  expect((await builds()).map((b) => [b.manually_triggered, b.version])).toEqual([[true, { version: 'v1' }]]);

  const checked = await call(url('/resources/source/check'), token, 'POST', { from: { version: 'v0' } });
  expect(checked.status).toBe(201);
  await settled(2);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  expect((await builds()).map((b) => [b.manually_triggered, b.version])).toEqual([
    [true, { version: 'v1' }],
    [false, { version: 'v0' }],
  ]);
});

it('logged nothing at error level', () => {
  expect(ts.logs.filter((line) => typeof line['level'] === 'number' && line['level'] >= 50)).toEqual([]);
});
