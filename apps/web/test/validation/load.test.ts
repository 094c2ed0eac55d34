import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { statusesOf } from '../execute-client.js';
import { ADMIN, loginToken, startTestServer, type TestServer } from '../harness.js';
import { errorLines, settledCensus, takeCensus, type Census } from './census.js';
import { runChainJob, runExecute, setChainPipeline } from './workloads.js';

/**
 * Issue #9 item 2 on the local runtime: 50 pipeline builds (get → task → put) and 50 `fly execute` one-offs,
 * all at once, through the real HTTP API of one web node on a real PostgreSQL. All succeed with the right
 * outputs, the server logs no error, and afterwards the node holds no more file descriptors, processes,
 * database connections, volumes or containers than before (kept containers expire after 1 s here, and the
 * outputs' retention is 1 s, so one GC pass must take everything back).
 */
const BUILDS = 50;
let ts: TestServer;
let admin: string;
let scratch: string;

beforeAll(async () => {
  ts = await startTestServer({
    env: {
      CONCOURSE_LOG_LEVEL: 'info',
      CONCOURSE_GC_ONE_OFF_GRACE_PERIOD: '1s',
      JETBRIDGE_GC_ARTIFACT_RETENTION: '1s',
      // Collected by hand below, after the load, so nothing is collected while builds still need it.
      CONCOURSE_GC_INTERVAL: '1h',
    },
  });
  admin = await loginToken(ts.url, ADMIN);
  scratch = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-load-'));
}, 60_000);

afterAll(async () => {
  await ts?.destroy();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const census = () => takeCensus({ connection: ts.postgres.connection, dataDir: ts.dataDir });
/** Pool clients checked out (the tracking-lock connection holds one for good). */
const poolInUse = () => ts.server.ctx.pool.totalCount - ts.server.ctx.pool.idleCount;

/** Everything a finished load leaves goes once its containers expire and the GC runs. */
async function collectGarbage(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await ts.server.artifactReaper.reapOnce();
}

describe('load on the local runtime', () => {
  it(`runs ${BUILDS} pipeline builds and ${BUILDS} fly-execute builds at once, leaking nothing`, async () => {
    await setChainPipeline(ts.url, admin, 'load', BUILDS, 1);
    // Warm up once (modules, pool, first-use caches), then count what an idle node holds.
    expect((await runChainJob(ts.url, admin, 'load', 'job-0')).build.status).toBe('succeeded');
    expect((await runExecute(ts.url, admin, scratch, 'warm-up')).statuses).toEqual(['started', 'succeeded']);
    await collectGarbage();
    const before = await settledCensus(census, (c) => c.containers === 0 && c.processes === 0, 10_000);
    const inUseBefore = poolInUse();
    const started = Date.now();

    const [pipelineRuns, executeRuns] = await Promise.all([
      Promise.all(Array.from({ length: BUILDS }, (_, i) => runChainJob(ts.url, admin, 'load', `job-${i}`))),
      Promise.all(
        Array.from({ length: BUILDS }, (_, i) =>
          runExecute(ts.url, admin, scratch, `execute-${i}\n`, { taskSeconds: 1 }),
        ),
      ),
    ]);
    const elapsedMs = Date.now() - started;

    pipelineRuns.forEach((run, i) => {
      expect({ job: `job-${i}`, status: run.build.status }).toEqual({ job: `job-${i}`, status: 'succeeded' });
      expect(statusesOf(run.events)).toEqual(['started', 'succeeded']);
      expect(run.outputs).toEqual([{ name: 'artifact', version: { version: `v1-job-${i}` } }]);
    });
    executeRuns.forEach((run, i) => {
      expect({ i, statuses: run.statuses }).toEqual({ i, statuses: ['started', 'succeeded'] });
      expect(run.output).toBe(`execute-${i}\nran\n`);
    });
    // Versions saved by 50 concurrent puts: one each, none lost.
    const versions = (await (
      await fetch(`${ts.url}/api/v1/teams/main/pipelines/load/resources/artifact/versions?limit=100`, {
        headers: { authorization: `Bearer ${admin}` },
      })
    ).json()) as Array<{ version: { version: string } }>;
    expect(new Set(versions.map((v) => v.version.version)).size).toBe(BUILDS);

    expect(errorLines(ts.logs)).toEqual([]);

    await collectGarbage();
    // Pool clients idle out after 10 s; sockets and kept containers close asynchronously.
    const within = (c: Census) =>
      c.processes <= before.processes &&
      c.containers <= before.containers &&
      c.volumes <= before.volumes &&
      c.dbConnections <= before.dbConnections &&
      c.fds <= before.fds + 5;
    const after = await settledCensus(census, within, 20_000);
    console.log(
      `load: ${2 * BUILDS} builds in ${elapsedMs} ms; before ${JSON.stringify(before)} after ${JSON.stringify(after)}; pool clients in use ${inUseBefore} → ${poolInUse()}`,
    );
    expect(after.processes).toBeLessThanOrEqual(before.processes);
    expect(after.containers).toBeLessThanOrEqual(before.containers);
    expect(after.volumes).toBeLessThanOrEqual(before.volumes);
    expect(after.dbConnections).toBeLessThanOrEqual(before.dbConnections);
    expect(poolInUse()).toBeLessThanOrEqual(inUseBefore);
    // A few descriptors come and go with keep-alive sockets and timers; a leak per build would be ≥ 50.
    expect(after.fds).toBeLessThanOrEqual(before.fds + 5);
  }, 180_000);
});
