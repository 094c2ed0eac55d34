import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createBuild, executePlan, logText, readBuildEvents, statusesOf } from '../execute-client.js';
import { ADMIN, loginToken } from '../harness.js';
import { call, pipelineUrl, setPipeline } from '../pipeline-client.js';
import { until } from './census.js';
import { cliBuilt, freePort, startCliNode, stopCliNode, type CliNode } from './cli-node.js';
import { getBuild, runExecute, triggerJob, waitForBuild } from './workloads.js';

/**
 * Issue #9 item 3, "kill -9 of the server mid-build then restart", on the embedded default exactly as
 * `pnpm start` runs it (the built CLI, its own PostgreSQL in the data directory).
 *
 * The chosen behaviour (documented in build-tracker.ts): a build cannot resume, because its step processes
 * belonged to the node that died. At restart every build left `started` ends `errored`, with an error event
 * "build interrupted: the web node running it restarted" before its final status, so watchers and
 * `fly execute` see an end instead of a stream that never finishes. The step processes of the dead node
 * are stopped, and the node works as before.
 */
const run = promisify(execFile);
const describeBuilt = cliBuilt ? describe : describe.skip;

let dataDir: string;
let scratch: string;
let port: number;
let node: CliNode | undefined;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-crash-'));
  scratch = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-crash-scratch-'));
  port = await freePort();
});

afterAll(async () => {
  if (node) await stopCliNode(node);
  await rm(dataDir, { recursive: true, force: true });
  await rm(scratch, { recursive: true, force: true });
});

/** Processes still running in process group `pgid` (zombies are over). */
async function liveGroupMembers(pgid: number): Promise<number[]> {
  const { stdout } = await run('ps', ['-A', '-o', 'pid=,pgid=,stat=']);
  return stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter(([, group, stat]) => Number(group) === pgid && stat !== undefined && !stat.startsWith('Z'))
    .map(([pid]) => Number(pid));
}

/** A task that records its process group (its shell is the group leader), says it started, then waits. */
function slowScript(pidFile: string): string {
  return `echo $$ > ${pidFile}; echo step-is-running; sleep 300`;
}

describeBuilt('kill -9 of the web node mid-build, then a restart', () => {
  it('ends the interrupted builds errored with a clear message, stops their processes and keeps working', async () => {
    node = await startCliNode({ dataDir, port });
    const admin = await loginToken(node.url, ADMIN);

    // A one-off build (fly execute) and a job build, both mid-task.
    const oneOffPidFile = path.join(scratch, 'one-off.pid');
    const created = await createBuild(
      node.url,
      admin,
      'main',
      executePlan(
        { platform: 'linux', run: { path: 'sh', args: ['-c', slowScript(oneOffPidFile)] } },
        [],
        [],
      ),
    );
    expect(created.status).toBe(201);
    const oneOff = (await created.json()) as { id: number };

    const jobPidFile = path.join(scratch, 'job.pid');
    await setPipeline(
      node.url,
      admin,
      'main',
      'crash',
      `jobs:\n- name: slow\n  plan:\n  - task: wait\n    config:\n      platform: linux\n      run: {path: sh, args: [-c, ${JSON.stringify(slowScript(jobPidFile))}]}\n`,
    );
    expect((await call(pipelineUrl(node.url, 'main', 'crash', '/unpause'), admin, 'PUT')).status).toBe(200);
    const job = await triggerJob(node.url, admin, 'crash', 'slow');

    const pgids = await until('both steps to run', async () => {
      try {
        return [Number(await readFile(oneOffPidFile, 'utf8')), Number(await readFile(jobPidFile, 'utf8'))];
      } catch {
        return undefined;
      }
    });
    for (const pgid of pgids) expect(await liveGroupMembers(pgid)).not.toEqual([]);
    expect((await getBuild(node.url, admin, oneOff.id)).status).toBe('started');
    expect((await getBuild(node.url, admin, job.id)).status).toBe('started');

    node.child.kill('SIGKILL');
    expect((await node.exited).signal).toBe('SIGKILL');

    node = await startCliNode({ dataDir, port });
    const token = await loginToken(node.url, ADMIN);

    for (const buildId of [oneOff.id, job.id]) {
      const finished = await waitForBuild(node.url, token, buildId, 30_000);
      expect({ buildId, status: finished.status }).toEqual({ buildId, status: 'errored' });
      // The stream ends (fly stops waiting): the step's output, then why the build ended, then its status.
      const { events, ended } = await readBuildEvents(node.url, token, buildId);
      expect(ended).toBe(true);
      expect(logText(events)).toContain('step-is-running');
      expect(statusesOf(events)).toEqual(['started', 'errored']);
      const errors = events.filter((e) => e.event === 'error').map((e) => e.data['message']);
      expect(errors).toContain('build interrupted: the web node running it restarted');
      expect(events.at(-1)?.event).toBe('status');
    }
    // The dead node's step processes do not outlive it.
    for (const pgid of pgids) {
      await until(
        `process group ${pgid} to be gone`,
        async () => ((await liveGroupMembers(pgid)).length === 0 ? true : undefined),
        10_000,
      );
    }
    // Nothing is left started, and the node runs builds as before.
    const started = (await call(`${node.url}/api/v1/builds?limit=50`, token)).json<
      Array<{ status: string }>
    >();
    expect(started.filter((b) => b.status === 'started' || b.status === 'pending')).toEqual([]);
    const again = await runExecute(node.url, token, scratch, 'after-restart\n');
    expect(again.statuses).toEqual(['started', 'succeeded']);
    expect(again.output).toBe('after-restart\nran\n');
    expect(node.logs.filter((l) => typeof l['level'] === 'number' && l['level'] >= 50)).toEqual([]);
  }, 120_000);
});
