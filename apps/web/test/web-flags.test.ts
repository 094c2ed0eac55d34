import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { findBuild } from '@jetbridge/db';
import { parseWebConfig } from '../src/config/index.js';
import { createCredentialManager } from '../src/creds/credentials-config.js';
import { logText, readBuildEvents } from './execute-client.js';
import {
  ADMIN,
  createOrphanedBuild,
  loginToken,
  startTestServer,
  type TestServer,
  waitFor,
} from './harness.js';
import { call, pipelineUrl, setPipeline } from './pipeline-client.js';

/**
 * Web flags whose behaviour lived in constants before: each value is set away from its default and the
 * behaviour it drives is watched on a real server (real PostgreSQL, real builds) or a real client.
 */

describe('build log retention limits and the build tracker interval', () => {
  let ts: TestServer;
  let token: string;

  beforeAll(async () => {
    ts = await startTestServer({
      env: {
        CONCOURSE_GC_INTERVAL: '500ms',
        CONCOURSE_BUILD_TRACKER_INTERVAL: '300ms',
        CONCOURSE_DEFAULT_BUILD_LOGS_TO_RETAIN: '2',
        CONCOURSE_MAX_BUILD_LOGS_TO_RETAIN: '3',
      },
    });
    token = await loginToken(ts.url, ADMIN);
  });
  afterAll(async () => {
    await ts?.destroy();
  });

  const statusOf = async (id: number) => (await findBuild(ts.server.ctx.db, id))?.status;

  async function runBuild(jobName: string): Promise<number> {
    const reply = await call(pipelineUrl(ts.url, 'main', 'limits', `/jobs/${jobName}/builds`), token, 'POST');
    expect(reply.status).toBe(200);
    const id = (JSON.parse(reply.text) as { id: number }).id;
    await waitFor(async () => (await statusOf(id)) === 'succeeded', `build ${id} to succeed`);
    return id;
  }

  const reapTimeOf = async (id: number) =>
    (JSON.parse((await call(`${ts.url}/api/v1/builds/${id}`, token)).text) as { reap_time?: number })
      .reap_time;

  /** The builds whose logs are gone (reap_time set, no log events left). */
  async function reaped(ids: number[]): Promise<number[]> {
    const result: number[] = [];
    for (const id of ids) {
      // The reaper sets reap_time and deletes the events in one transaction, but may run between our reads
      // of the build and of its events: only a reading with the same reap_time before and after the events
      // is one state, so read again until it is (reaping happens once, so the second try agrees).
      for (;;) {
        const before = await reapTimeOf(id);
        const { events } = await readBuildEvents(ts.url, token, id);
        if ((await reapTimeOf(id)) !== before) continue;
        const logged = events.some((event) => event.event === 'log');
        expect(logged).toBe(before === undefined);
        if (!logged) result.push(id);
        break;
      }
    }
    return result;
  }

  it('a job without build_log_retention keeps --default-build-logs-to-retain; a larger policy is capped by --max-build-logs-to-retain', async () => {
    const job = (name: string, retention: string) => `
- name: ${name}
${retention}
  plan:
  - task: say
    config:
      platform: linux
      run: {path: sh, args: [-ec, 'echo "log of ${name}"']}`;
    const yaml = `
jobs:
${job('plain', '')}
${job('greedy', '  build_log_retention: {builds: 10}')}
`;
    await setPipeline(ts.url, token, 'main', 'limits', yaml);
    expect((await call(pipelineUrl(ts.url, 'main', 'limits', '/unpause'), token, 'PUT')).status).toBe(200);
    const plain: number[] = [];
    const greedy: number[] = [];
    for (let i = 0; i < 4; i++) plain.push(await runBuild('plain'));
    for (let i = 0; i < 5; i++) greedy.push(await runBuild('greedy'));

    await waitFor(
      async () => (await reaped(plain)).length === 2 && (await reaped(greedy)).length === 2,
      'the reaper to apply the limits',
    );
    // Oldest first: `plain` keeps its newest 2 (the default), `greedy` its newest 3 (the maximum, not 10).
    expect(await reaped(plain)).toEqual(plain.slice(0, 2));
    expect(await reaped(greedy)).toEqual(greedy.slice(0, 2));
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(await reaped([...plain, ...greedy])).toEqual([...plain.slice(0, 2), ...greedy.slice(0, 2)]);
  });

  it('ends a started build no node runs within --build-tracker-interval, not the default 10s', async () => {
    const id = await createOrphanedBuild(ts);
    const began = Date.now();
    await waitFor(async () => (await statusOf(id)) === 'errored', 'the orphan sweep', 10_000);
    expect(Date.now() - began).toBeLessThan(5_000);
  });
});

describe('--component-runner-interval', () => {
  let ts: TestServer;

  beforeAll(async () => {
    ts = await startTestServer({ env: { CONCOURSE_COMPONENT_RUNNER_INTERVAL: '200ms' } });
  });
  afterAll(async () => {
    await ts?.destroy();
  });

  it('the job scheduler runs on it when nothing asks it to (not every 10s)', async () => {
    const ticks = async () => {
      const text = await (await fetch(`${ts.url}/metrics`)).text();
      return Number(/^jetbridge_scheduler_tick_duration_seconds_count (\S+)$/m.exec(text)?.[1] ?? 0);
    };
    const before = await ticks();
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect((await ticks()) - before).toBeGreaterThanOrEqual(4);
  });
});

describe('--gc-check-recycle-period', () => {
  let ts: TestServer;
  let token: string;

  beforeAll(async () => {
    ts = await startTestServer({
      env: { CONCOURSE_GC_INTERVAL: '300ms', CONCOURSE_GC_CHECK_RECYCLE_PERIOD: '1s' },
    });
    token = await loginToken(ts.url, ADMIN);
  });
  afterAll(async () => {
    await ts?.destroy();
  });

  it('collects a superseded check build after it (not after the default minute), keeping the latest', async () => {
    await setPipeline(
      ts.url,
      token,
      'main',
      'checks',
      `
resources:
- name: thing
  type: mock
  check_every: never
  source: {initial_version: v1}
jobs:
- name: j
  plan: [{get: thing}]
`,
    );
    const check = async () => {
      const reply = await call(
        pipelineUrl(ts.url, 'main', 'checks', '/resources/thing/check'),
        token,
        'POST',
        {
          from: null,
        },
      );
      expect(reply.status).toBe(201);
      const id = (JSON.parse(reply.text) as { id: number }).id;
      await waitFor(
        async () => (await findBuild(ts.server.ctx.db, id))?.status === 'succeeded',
        `check ${id}`,
      );
      return id;
    };
    const first = await check();
    const second = await check();
    const exists = async (id: number) => (await call(`${ts.url}/api/v1/builds/${id}`, token)).status === 200;
    await waitFor(async () => !(await exists(first)), 'the superseded check build to be collected', 10_000);
    expect(await exists(second)).toBe(true);
  });
});

describe('--secret-retry-attempts and --secret-retry-interval', () => {
  let dir: string;
  let kubeconfig: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-secret-retry-'));
    kubeconfig = path.join(dir, 'kubeconfig');
    // An API server nothing listens on: every read is refused at connect, which is worth retrying.
    await writeFile(
      kubeconfig,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters: [{name: nowhere, cluster: {server: "http://127.0.0.1:1", insecure-skip-tls-verify: true}}]',
        'users: [{name: nobody, user: {token: unused}}]',
        'contexts: [{name: nowhere, context: {cluster: nowhere, user: nobody}}]',
        'current-context: nowhere',
        '',
      ].join('\n'),
    );
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function failedLookup(argv: string[]): Promise<{ message: string; ms: number }> {
    const config = parseWebConfig(['--kubernetes-config-path', kubeconfig, ...argv], {}, dir);
    const manager = createCredentialManager(config);
    const began = Date.now();
    const error = await manager.lookup({ teamName: 'main' }, 'db-password').then(
      () => new Error('the lookup succeeded'),
      (reason: unknown) => reason as Error,
    );
    return { message: error.message, ms: Date.now() - began };
  }

  it('tries as often and as far apart as configured', async () => {
    const three = await failedLookup(['--secret-retry-attempts', '3', '--secret-retry-interval', '400ms']);
    expect(three.message).toMatch(/ECONNREFUSED.* \(after 3 retries\)$/);
    expect(three.ms).toBeGreaterThanOrEqual(800);

    const one = await failedLookup(['--secret-retry-attempts', '1', '--secret-retry-interval', '400ms']);
    expect(one.message).toMatch(/\(after 1 retries\)$/);
    expect(one.ms).toBeLessThan(400);
  });

  it('uses Concourse’s defaults (5 attempts, 1s apart) when unset', () => {
    expect(parseWebConfig([], {}).secretRetry).toEqual({ attempts: 5, intervalMs: 1000 });
  });
});

describe('--default-task-timeout', () => {
  let ts: TestServer;
  let token: string;

  beforeAll(async () => {
    ts = await startTestServer({ env: { CONCOURSE_DEFAULT_TASK_TIMEOUT: '2s' } });
    token = await loginToken(ts.url, ADMIN);
  });
  afterAll(async () => {
    await ts?.destroy();
  });

  it('stops a task without `timeout` after it; a task with its own `timeout` keeps that', async () => {
    const job = (name: string, timeout: string) => `
- name: ${name}
  plan:
  - task: wait
${timeout}
    config:
      platform: linux
      run: {path: sh, args: [-ec, 'sleep 4; echo "slept"']}`;
    await setPipeline(
      ts.url,
      token,
      'main',
      'timeouts',
      `
jobs:
${job('bounded', '')}
${job('own', '    timeout: 1m')}
`,
    );
    expect((await call(pipelineUrl(ts.url, 'main', 'timeouts', '/unpause'), token, 'PUT')).status).toBe(200);
    const run = async (jobName: string) => {
      const reply = await call(
        pipelineUrl(ts.url, 'main', 'timeouts', `/jobs/${jobName}/builds`),
        token,
        'POST',
      );
      expect(reply.status).toBe(200);
      const id = (JSON.parse(reply.text) as { id: number }).id;
      const { events } = await readBuildEvents(ts.url, token, id);
      const status = (await findBuild(ts.server.ctx.db, id))?.status;
      // The output and the error events (the task's config, echoed in its events, names "slept" too).
      const errors = events
        .filter((event) => event.event === 'error')
        .map((event) => JSON.stringify(event.data));
      return { status, text: `${logText(events)}\n${errors.join('\n')}` };
    };
    const [bounded, own] = await Promise.all([run('bounded'), run('own')]);
    expect(bounded.status).not.toBe('succeeded');
    expect(bounded.text).toContain('timeout exceeded');
    expect(bounded.text).not.toContain('slept');
    expect(own.status).toBe('succeeded');
    expect(own.text).toContain('slept');
  });
});
