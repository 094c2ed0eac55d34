// `--destroy-archived-pipelines-after` (Concourse 8.3): the GC destroys pipelines archived longer than the
// duration — with their jobs and builds — and keeps recently archived and unarchived ones. A real server
// collects every 200 ms; pipelines are aged by moving their `paused_at` (set when archived) into the past.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sql } from '@jetbridge/db';
import {
  ADMIN,
  loginToken,
  startPausedJobBuild,
  startTestServer,
  until,
  type TestServer,
} from './harness.js';
import { call, pipelineUrl, setPipeline } from './pipeline-client.js';

const YAML = `
jobs:
- name: hello
  plan:
  - task: say
    config:
      platform: linux
      run: {path: sh, args: [-c, 'echo hi']}
`;

let ts: TestServer;
let admin: string;

async function pipelineId(name: string): Promise<number | undefined> {
  const row = await ts.server.ctx.db
    .selectFrom('pipelines')
    .select('id')
    .where('name', '=', name)
    .executeTakeFirst();
  return row?.id;
}

async function archive(name: string): Promise<void> {
  const res = await call(pipelineUrl(ts.url, 'main', name, '/archive'), admin, 'PUT');
  expect(res.status).toBe(200);
}

/** Pretend the pipeline was paused (or archived) `hours` ago. */
async function age(name: string, hours: number): Promise<void> {
  await ts.server.ctx.db
    .updateTable('pipelines')
    .set({ paused_at: sql<Date>`now() - make_interval(hours => ${hours})` })
    .where('name', '=', name)
    .execute();
}

describe('--destroy-archived-pipelines-after', () => {
  beforeAll(async () => {
    ts = await startTestServer({
      env: { CONCOURSE_GC_INTERVAL: '200ms', CONCOURSE_DESTROY_ARCHIVED_PIPELINES_AFTER: '1h' },
    });
    admin = await loginToken(ts.url, ADMIN);
  });

  afterAll(async () => {
    await ts?.destroy();
  });

  it('destroys a pipeline archived longer ago, with its builds; keeps a recent archive and a paused pipeline', async () => {
    for (const name of ['old-archive', 'new-archive', 'old-pause'])
      await setPipeline(ts.url, admin, 'main', name, YAML);
    const buildId = await startPausedJobBuild(ts, 'old-archive', 'hello');
    await until('the job build to finish', async () => {
      const build = await ts.server.ctx.db
        .selectFrom('builds')
        .select('status')
        .where('id', '=', buildId)
        .executeTakeFirst();
      return build?.status === 'succeeded' ? true : undefined;
    });
    const oldId = await pipelineId('old-archive');
    await archive('old-archive');
    await archive('new-archive');
    await age('old-archive', 2);
    // Paused two hours ago, never archived: not the collector's.
    await call(pipelineUrl(ts.url, 'main', 'old-pause', '/pause'), admin, 'PUT');
    await age('old-pause', 2);

    await until(
      'the old archived pipeline to be destroyed',
      async () => ((await pipelineId('old-archive')) === undefined ? true : undefined),
      10_000,
    );
    // Its builds went with it; the API no longer knows it.
    const build = await ts.server.ctx.db
      .selectFrom('builds')
      .select('id')
      .where('id', '=', buildId)
      .executeTakeFirst();
    expect(build).toBeUndefined();
    expect((await call(pipelineUrl(ts.url, 'main', 'old-archive', ''), admin)).status).toBe(404);
    expect(
      ts.logs.some(
        (line) =>
          line['pipelineId'] === oldId && String(line['msg']).startsWith('destroyed a pipeline archived'),
      ),
    ).toBe(true);

    // Several collections later, the others are still there.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await pipelineId('new-archive')).toBeDefined();
    expect(await pipelineId('old-pause')).toBeDefined();
    const archived = (await call(pipelineUrl(ts.url, 'main', 'new-archive', ''), admin)).json<{
      archived: boolean;
    }>();
    expect(archived.archived).toBe(true);
  });
});

describe('--destroy-archived-pipelines-after unset', () => {
  it('keeps archived pipelines however old (the default, 0)', async () => {
    const server = await startTestServer({ env: { CONCOURSE_GC_INTERVAL: '200ms' } });
    try {
      expect(server.config.destroyArchivedPipelinesAfterMs).toBe(0);
      const token = await loginToken(server.url, ADMIN);
      await setPipeline(server.url, token, 'main', 'kept', YAML);
      expect((await call(pipelineUrl(server.url, 'main', 'kept', '/archive'), token, 'PUT')).status).toBe(
        200,
      );
      await server.server.ctx.db
        .updateTable('pipelines')
        .set({ paused_at: sql<Date>`now() - make_interval(days => 3650)` })
        .where('name', '=', 'kept')
        .execute();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const row = await server.server.ctx.db
        .selectFrom('pipelines')
        .select('archived')
        .where('name', '=', 'kept')
        .executeTakeFirst();
      expect(row?.archived).toBe(true);
    } finally {
      await server.destroy();
    }
  });
});
