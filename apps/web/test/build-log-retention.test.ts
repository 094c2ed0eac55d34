import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { sql, type Database, type Kysely } from '@jetbridge/db';
import { readBuildEvents } from './execute-client.js';
import { ADMIN, loginToken, startTestServer, type TestServer, waitFor } from './harness.js';
import { call, pipelineUrl, setPipeline } from './pipeline-client.js';

/**
 * Build log retention with real job builds (concourse-semantics.md §8): the reaper deletes the events of the
 * builds a job's policy lets go, every --gc-interval; the build rows stay, with their reap time.
 */
let ts: TestServer;
let token: string;
let db: Kysely<Database>;
let scratch: string;

beforeAll(async () => {
  ts = await startTestServer({ env: { CONCOURSE_GC_INTERVAL: '500ms' } });
  token = await loginToken(ts.url, ADMIN);
  db = ts.server.ctx.db;
  scratch = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-retention-'));
});
afterAll(async () => {
  await ts?.destroy();
  await rm(scratch, { recursive: true, force: true });
});

// The task fails while the fail file exists (the local runtime runs it on this host).
const failFile = () => path.join(scratch, 'fail');
const job = (name: string, retention: string) => `
- name: ${name}
${retention}
  plan:
  - task: say
    config:
      platform: linux
      run: {path: sh, args: [-ec, 'echo "log of ${name}"; test ! -e ${failFile()}']}`;

function pipelineYaml(withRetention: boolean): string {
  const r = (policy: string) => (withRetention ? `  ${policy}` : '');
  return `
jobs:
${job('flaky', r('build_log_retention: {builds: 2, minimum_succeeded_builds: 1}'))}
${job('legacy', r('build_logs_to_retain: 1'))}
${job('by-age', r('build_log_retention: {days: 1}'))}
`;
}

async function runBuild(pipeline: string, jobName: string, fail = false): Promise<number> {
  if (fail) await writeFile(failFile(), '');
  else await rm(failFile(), { force: true });
  const reply = await call(pipelineUrl(ts.url, 'main', pipeline, `/jobs/${jobName}/builds`), token, 'POST');
  expect(reply.status).toBe(200);
  const id = (JSON.parse(reply.text) as { id: number }).id;
  await waitFor(async () => !['pending', 'started'].includes(await statusOf(id)), `build ${id} to finish`);
  expect(await statusOf(id)).toBe(fail ? 'failed' : 'succeeded');
  return id;
}

async function statusOf(id: number): Promise<string> {
  const row = await db.selectFrom('builds').select('status').where('id', '=', id).executeTakeFirstOrThrow();
  return row.status;
}

/** Which of these builds had their logs reaped, by the API: reap_time set and no events left. */
async function reaped(ids: number[]): Promise<number[]> {
  const result: number[] = [];
  const reapTime = async (id: number) => {
    const reply = await call(`${ts.url}/api/v1/builds/${id}`, token);
    expect(reply.status).toBe(200);
    return (JSON.parse(reply.text) as { reap_time?: number }).reap_time;
  };
  for (const id of ids) {
    // The reaper may commit between the two reads: read the build on both sides of its events, again until
    // both say the same (then the events were read on the same side of the commit).
    let before: number | undefined;
    let after: number | undefined;
    let logged: boolean;
    do {
      before = await reapTime(id);
      const { events } = await readBuildEvents(ts.url, token, id);
      logged = events.some((event) => event.event === 'log');
      after = await reapTime(id);
    } while (before !== after);
    if (after !== undefined) {
      expect(logged).toBe(false);
      result.push(id);
    } else {
      expect(logged).toBe(true);
    }
  }
  return result;
}

it('reaps the logs each job lets go, leaves paused pipelines alone, and keeps the build rows', async () => {
  await setPipeline(ts.url, token, 'main', 'retained', pipelineYaml(false));
  await setPipeline(ts.url, token, 'main', 'paused', pipelineYaml(false));
  for (const name of ['retained', 'paused'])
    expect((await call(pipelineUrl(ts.url, 'main', name, '/unpause'), token, 'PUT')).status).toBe(200);

  // Builds first, the policy after: the reaper then sees every build at once.
  const flaky = [
    await runBuild('retained', 'flaky'),
    await runBuild('retained', 'flaky', true),
    await runBuild('retained', 'flaky', true),
    await runBuild('retained', 'flaky', true),
    await runBuild('retained', 'flaky', true),
  ];
  const legacy = [await runBuild('retained', 'legacy'), await runBuild('retained', 'legacy')];
  legacy.push(await runBuild('retained', 'legacy'));
  const byAge = [await runBuild('retained', 'by-age'), await runBuild('retained', 'by-age')];
  // The first by-age build ended two days ago.
  await sql`update builds set end_time = now() - interval '2 days' where id = ${byAge[0]}`.execute(db);
  const pausedBuilds = [await runBuild('paused', 'legacy'), await runBuild('paused', 'legacy')];
  expect((await call(pipelineUrl(ts.url, 'main', 'paused', '/pause'), token, 'PUT')).status).toBe(200);

  await setPipeline(ts.url, token, 'main', 'paused', pipelineYaml(true));
  await setPipeline(ts.url, token, 'main', 'retained', pipelineYaml(true));
  await waitFor(async () => (await reaped([byAge[0]!])).length === 1, 'the first round of reaping');
  // Another round, to be sure the paused pipeline is left alone for good.
  await new Promise((resolve) => setTimeout(resolve, 1500));

  // builds: 2 with one succeeded kept beyond them: the newest two failures and the success stay, then the
  // excess over 2 goes (the older of the two failures), as Concourse's collector trims it.
  expect(await reaped(flaky)).toEqual([flaky[1], flaky[2], flaky[3]]);
  expect(await reaped(legacy)).toEqual([legacy[0], legacy[1]]);
  expect(await reaped(byAge)).toEqual([byAge[0]]);
  expect(await reaped(pausedBuilds)).toEqual([]);

  // The rows stay, statuses unchanged; the job's builds list still shows them all.
  const listed = await call(pipelineUrl(ts.url, 'main', 'retained', '/jobs/flaky/builds'), token);
  expect(
    (JSON.parse(listed.text) as Array<{ id: number; status: string }>).map((b) => [b.id, b.status]),
  ).toEqual([...flaky].reverse().map((id, i) => [id, i === 4 ? 'succeeded' : 'failed']));

  // A new success becomes the kept succeeded build; the old one goes.
  const sixth = await runBuild('retained', 'flaky');
  await waitFor(async () => (await reaped([flaky[0]!])).length === 1, 'the old success to be reaped');
  expect(await reaped([...flaky, sixth])).toEqual([flaky[0], flaky[1], flaky[2], flaky[3]]);
}, 120_000);
