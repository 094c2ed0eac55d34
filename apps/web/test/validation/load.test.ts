import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { errorLines, settledCensus, takeCensus } from './census.js';
import {
  collectGarbage,
  expectLoadSucceeded,
  leftOver,
  LOAD_SERVER_ENV,
  nothingLeftOver,
  runLoad,
  startLoadServer,
  warmUp,
  type LoadServer,
} from './load-fixture.js';

/**
 * Issue #9 item 2 on the local runtime: 50 pipeline builds (get → task → put) and 50 `fly execute` one-offs,
 * all at once, through the real HTTP API of one web node on a real PostgreSQL. All succeed with the right
 * outputs, the server logs no error, and afterwards the node holds no more file descriptors, processes,
 * database connections, volumes or containers than before (kept containers expire after 1 s here, and the
 * outputs' retention is 1 s, so one GC pass must take everything back).
 */
const BUILDS = 50;
let load: LoadServer;

beforeAll(async () => {
  load = await startLoadServer(LOAD_SERVER_ENV);
}, 60_000);

afterAll(async () => {
  await load?.close();
});

const census = () => takeCensus({ connection: load.ts.postgres.connection, dataDir: load.ts.dataDir });
/** Pool clients checked out (the tracking-lock connection holds one for good). */
const poolInUse = () => load.ts.server.ctx.backendPool.totalCount - load.ts.server.ctx.backendPool.idleCount;

describe('load on the local runtime', () => {
  it(`runs ${BUILDS} pipeline builds and ${BUILDS} fly-execute builds at once, leaking nothing`, async () => {
    const { ts, admin } = load;
    // Warm up once (modules, pool, first-use caches), then count what an idle node holds.
    await warmUp(load, BUILDS);
    await collectGarbage(ts);
    const before = await settledCensus(census, (c) => c.containers === 0 && c.processes === 0, 10_000);
    const inUseBefore = poolInUse();

    const runs = await runLoad(load, BUILDS);
    expectLoadSucceeded(runs);
    // Versions saved by 50 concurrent puts: one each, none lost.
    const versions = (await (
      await fetch(`${ts.url}/api/v1/teams/main/pipelines/load/resources/artifact/versions?limit=100`, {
        headers: { authorization: `Bearer ${admin}` },
      })
    ).json()) as Array<{ version: { version: string } }>;
    expect(new Set(versions.map((v) => v.version.version)).size).toBe(BUILDS);

    expect(errorLines(ts.logs)).toEqual([]);

    await collectGarbage(ts);
    // Pool clients idle out after 10 s; sockets and kept containers close asynchronously.
    const after = await settledCensus(census, nothingLeftOver(before), 20_000);
    console.log(
      `load: ${2 * BUILDS} builds in ${runs.elapsedMs} ms; before ${JSON.stringify(before)} after ${JSON.stringify(after)}; pool clients in use ${inUseBefore} → ${poolInUse()}`,
    );
    // No more processes, containers, volumes, database connections or descriptors (a few of these may come and go).
    expect(leftOver(before, after)).toEqual({});
    expect(poolInUse()).toBeLessThanOrEqual(inUseBefore);
  }, 180_000);
});
