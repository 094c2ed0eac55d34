import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '@jetbridge/db';
import { createBuild, executePlan, logText, readBuildEvents, statusesOf } from '../execute-client.js';
import { ADMIN, loginToken, startTestServer, type TestServer } from '../harness.js';
import { call, pipelineUrl, setPipeline } from '../pipeline-client.js';
import { errorLines, until, withServerLogsOnFailure } from './census.js';
import { runExecute, triggerJob, waitForBuild } from './workloads.js';

/**
 * Issue #9 item 3, "PostgreSQL restart mid-build": the database goes away for a few seconds while a one-off
 * and a job build write log lines, then comes back on the same port. The builds carry on (events wait in
 * memory and are stored once the database answers), both succeed, and every line is stored exactly once,
 * in order, with contiguous event ids — nothing lost, nothing doubled. The node then works as before.
 */
const LINES = 120;
let ts: TestServer;
let admin: string;
let scratch: string;
let back: EmbeddedPostgres | undefined;

beforeAll(async () => {
  ts = await startTestServer({ env: { CONCOURSE_LOG_LEVEL: 'info' } });
  admin = await loginToken(ts.url, ADMIN);
  scratch = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-pgfault-'));
}, 60_000);

afterAll(async () => {
  await ts?.stop();
  await back?.stop();
  await ts?.destroy();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** `line-1` … `line-N`, one every 50 ms: about 6 s of output. */
const chatty = `i=1; while [ $i -le ${LINES} ]; do echo line-$i; i=$((i+1)); sleep 0.05; done`;

async function stopPostgres(): Promise<void> {
  const pidFile = path.join(ts.postgres.dataDir, 'postgres', 'postmaster.pid');
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  process.kill(pid, 'SIGINT'); // fast shutdown: every connection is cut
  await until(
    'PostgreSQL to stop',
    async () => {
      try {
        process.kill(pid, 0);
        return undefined;
      } catch {
        return true;
      }
    },
    20_000,
    100,
  );
}

/** Every line 1..N once and in order, and event ids 0..k-1 with no gap or repeat. */
function expectComplete(events: Array<{ event_id: string }>, log: string): void {
  expect(events.map((e) => Number(e.event_id))).toEqual(events.map((_, i) => i));
  const expected = Array.from({ length: LINES }, (_, i) => `line-${i + 1}`).join('\n') + '\n';
  expect(log).toBe(expected);
}

describe('PostgreSQL restarting mid-build', () => {
  it('loses no event: the builds finish, with every line stored once and in order', async () => {
    await withServerLogsOnFailure(ts.logs, async () => {
      await setPipeline(
        ts.url,
        admin,
        'main',
        'pgfault',
        `jobs:\n- name: chatty\n  plan:\n  - task: talk\n    config:\n      platform: linux\n      run: {path: sh, args: [-ec, ${JSON.stringify(chatty)}]}\n`,
      );
      expect((await call(pipelineUrl(ts.url, 'main', 'pgfault', '/unpause'), admin, 'PUT')).status).toBe(200);
      const created = await createBuild(
        ts.url,
        admin,
        'main',
        executePlan({ platform: 'linux', run: { path: 'sh', args: ['-ec', chatty] } }, [], []),
      );
      expect(created.status).toBe(201);
      const oneOff = (await created.json()) as { id: number };
      const job = await triggerJob(ts.url, admin, 'pgfault', 'chatty');

      // A watcher on the live stream through the outage, as `fly execute` is.
      const live = readBuildEvents(ts.url, admin, oneOff.id);
      await until('the job build to start', async () => {
        const build = (await call(`${ts.url}/api/v1/builds/${job.id}`, admin)).json<{ status: string }>();
        return build.status === 'started' ? true : undefined;
      });
      await new Promise((resolve) => setTimeout(resolve, 1000));

      await stopPostgres();
      const health = await fetch(`${ts.url}/api/v1/health`);
      expect(health.status).toBe(503);
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const { port, user, database } = ts.postgres.connection;
      back = await startEmbeddedPostgres({ dataDir: ts.postgres.dataDir, port, user, database });

      const liveResult = await live;
      expect(liveResult.ended).toBe(true);
      expect(statusesOf(liveResult.events)).toEqual(['started', 'succeeded']);
      expectComplete(liveResult.events, logText(liveResult.events));

      for (const buildId of [oneOff.id, job.id]) {
        const finished = await waitForBuild(ts.url, admin, buildId, 60_000);
        expect({ buildId, status: finished.status }).toEqual({ buildId, status: 'succeeded' });
        // Read back from the database once the build is over: what was stored, not what memory held.
        const stored = await readBuildEvents(ts.url, admin, buildId);
        expect(stored.ended).toBe(true);
        expect(statusesOf(stored.events)).toEqual(['started', 'succeeded']);
        expectComplete(stored.events, logText(stored.events));
      }

      // The tracking locks were taken again once each, and given back when the builds ended.
      const locks = await ts.server.ctx.pool.query<{ count: number }>(
        "select count(*)::int as count from pg_locks where locktype = 'advisory' and classid = $1",
        [0x4a42_0001],
      );
      expect(locks.rows[0]?.count).toBe(0);

      // The node works as before: a new build, its upload and output included.
      const after = await runExecute(ts.url, admin, scratch, 'after-postgres-restart\n');
      expect(after.statuses).toEqual(['started', 'succeeded']);
      expect(after.output).toBe('after-postgres-restart\nran\n');
      // Outage warnings are expected; nothing may be logged as an error (lost events, failed status writes).
      expect(errorLines(ts.logs).map((line) => line['msg'])).toEqual([]);
    });
  }, 120_000);
});
