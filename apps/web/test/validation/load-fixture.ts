// What the load tests (load.test.ts on the local runtime, load-kubernetes.test.ts on pods) share: a web node
// whose leftovers expire within a second and are collected only by hand, the warm-up, the load itself (chain
// pipeline builds and `fly execute` one-offs at once), what every run must have produced, and the
// before/after comparison proving nothing leaked.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from '@jest/globals';
import { statusesOf } from '../execute-client.js';
import { ADMIN, loginToken, startTestServer, type TestServer } from '../harness.js';
import { runChainJob, runExecute, setChainPipeline } from './workloads.js';

/**
 * Kept containers (pods) and outputs expire after 1 s, so one collection after the load takes everything
 * back; the periodic GC is off, so nothing is collected while builds still need it.
 */
export const LOAD_SERVER_ENV: NodeJS.ProcessEnv = {
  CONCOURSE_LOG_LEVEL: 'info',
  CONCOURSE_GC_ONE_OFF_GRACE_PERIOD: '1s',
  JETBRIDGE_GC_ARTIFACT_RETENTION: '1s',
  CONCOURSE_GC_INTERVAL: '1h',
};

export interface LoadServer {
  ts: TestServer;
  /** The admin's token. */
  admin: string;
  /** Where `fly execute` runs keep their inputs and outputs. */
  scratch: string;
  close(): Promise<void>;
}

/** A test server on `env` (build it on {@link LOAD_SERVER_ENV}), logged in as admin, with a scratch directory. */
export async function startLoadServer(env: NodeJS.ProcessEnv): Promise<LoadServer> {
  const ts = await startTestServer({ env });
  const admin = await loginToken(ts.url, ADMIN);
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-load-'));
  return {
    ts,
    admin,
    scratch,
    close: async () => {
      await ts.destroy();
      await rm(scratch, { recursive: true, force: true });
    },
  };
}

/** Everything a finished load leaves goes once its containers (pods) expire and the reapers run. */
export async function collectGarbage(ts: TestServer): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1500));
  await ts.server.runtime.kubernetes?.reapOnce();
  await ts.server.artifactReaper.reapOnce();
}

/**
 * Where one client run of the load stands, for a stalled test's progress report: `track(run)` is told each
 * step of `run`, then 'done'.
 */
export type RunTracker = (run: string) => (what: string) => void;

const untracked: RunTracker = () => () => undefined;

/** Set up the `load` chain pipeline of `builds` jobs and run one job build and one `fly execute` through it. */
export async function warmUp(load: LoadServer, builds: number, track: RunTracker = untracked): Promise<void> {
  const { ts, admin, scratch } = load;
  await setChainPipeline(ts.url, admin, 'load', builds, 1);
  const job = track('warm-up job-0');
  expect((await runChainJob(ts.url, admin, 'load', 'job-0', job)).build.status).toBe('succeeded');
  job('done');
  const execute = track('warm-up execute');
  expect((await runExecute(ts.url, admin, scratch, 'warm-up', { stage: execute })).statuses).toEqual([
    'started',
    'succeeded',
  ]);
  execute('done');
}

export interface LoadRuns {
  pipelineRuns: Array<Awaited<ReturnType<typeof runChainJob>>>;
  executeRuns: Array<Awaited<ReturnType<typeof runExecute>>>;
  elapsedMs: number;
}

/** `builds` pipeline builds (job-0 … of the `load` pipeline) and `builds` one-offs, all at once. */
export async function runLoad(
  load: LoadServer,
  builds: number,
  track: RunTracker = untracked,
): Promise<LoadRuns> {
  const { ts, admin, scratch } = load;
  const started = Date.now();
  const [pipelineRuns, executeRuns] = await Promise.all([
    Promise.all(
      Array.from({ length: builds }, async (_, i) => {
        const stage = track(`job-${i}`);
        const run = await runChainJob(ts.url, admin, 'load', `job-${i}`, stage);
        stage('done');
        return run;
      }),
    ),
    Promise.all(
      Array.from({ length: builds }, async (_, i) => {
        const stage = track(`execute-${i}`);
        const run = await runExecute(ts.url, admin, scratch, `execute-${i}\n`, { taskSeconds: 1, stage });
        stage('done');
        return run;
      }),
    ),
  ]);
  return { pipelineRuns, executeRuns, elapsedMs: Date.now() - started };
}

/** Every run of the load succeeded with the right outputs. */
export function expectLoadSucceeded({ pipelineRuns, executeRuns }: LoadRuns): void {
  pipelineRuns.forEach((run, i) => {
    expect({ job: `job-${i}`, status: run.build.status }).toEqual({ job: `job-${i}`, status: 'succeeded' });
    expect(statusesOf(run.events)).toEqual(['started', 'succeeded']);
    expect(run.outputs).toEqual([{ name: 'artifact', version: { version: `v1-job-${i}` } }]);
  });
  executeRuns.forEach((run, i) => {
    expect({ i, statuses: run.statuses }).toEqual({ i, statuses: ['started', 'succeeded'] });
    expect(run.output).toBe(`execute-${i}\nran\n`);
  });
}

/** A few descriptors come and go with keep-alive sockets and timers; a leak per build would be ≥ 50 (≥ 24 on pods). */
const FD_SLACK = 5;

/** What `after` holds beyond `before` (descriptors: beyond the slack), by census field; {} when nothing. */
export function leftOver<T extends { fds: number }>(
  before: T,
  after: T,
): Partial<Record<keyof T, { before: number; after: number }>> {
  const over: Partial<Record<keyof T, { before: number; after: number }>> = {};
  for (const key of Object.keys(before) as Array<keyof T>) {
    const was = before[key];
    const is = after[key];
    if (typeof was !== 'number' || typeof is !== 'number') continue;
    if (is > was + (key === 'fds' ? FD_SLACK : 0)) over[key] = { before: was, after: is };
  }
  return over;
}

/** The census settled back to `before` (see {@link leftOver}). */
export const nothingLeftOver =
  <T extends { fds: number }>(before: T) =>
  (after: T): boolean =>
    Object.keys(leftOver(before, after)).length === 0;
