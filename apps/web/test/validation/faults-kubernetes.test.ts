import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ADMIN, loginToken, startTestServer, type TestServer } from '../harness.js';
import { ARTIFACT_MODES, startTestCluster, type TestCluster } from '../kubernetes-cluster.js';
import { errorLines, until } from './census.js';
import { runExecute } from './workloads.js';

/**
 * Issue #9 item 3 on `--runtime kubernetes` (pvc artifacts), end to end through the web: a real web node on a
 * real PostgreSQL whose steps run as pods on the in-repo Kubernetes API test server, with its fault hooks —
 * API errors, exec streams cut mid-output, watches expiring with 410, a pod evicted mid-step. Each build ends
 * in the state the test names, with the output or the reason it shows. (The runtime-level behaviour behind
 * each is tested in packages/runtime-k8s/src/k8s-worker-faults.test.ts; this is the same through the API.)
 */
const pvc = ARTIFACT_MODES.find((m) => m.mode === 'pvc');
const skip = pvc?.skip;
const describeK8s = skip === undefined ? describe : describe.skip;

describeK8s(`faults on --runtime kubernetes${skip ? ` [skipped: ${skip}]` : ''}`, () => {
  let cluster: TestCluster;
  let ts: TestServer;
  let admin: string;
  let scratch: string;

  beforeAll(async () => {
    cluster = await startTestCluster('faults');
    ts = await startTestServer({ env: cluster.env('pvc', { CONCOURSE_LOG_LEVEL: 'info' }) });
    admin = await loginToken(ts.url, ADMIN);
    scratch = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-k8s-faults-'));
  }, 120_000);

  afterAll(async () => {
    await ts?.destroy();
    await cluster?.close();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  /** 200 numbered lines, a little apart, so a cut stream has output on both sides. */
  const numbered =
    'i=1; while [ $i -le 200 ]; do echo "line $i"; i=$((i+1)); [ $((i % 50)) -eq 0 ] && sleep 0.2; done; cp input/marker output/marker';
  const expectedLines = Array.from({ length: 200 }, (_, i) => `line ${i + 1}`).join('\n') + '\n';

  it('a dropped exec stream: the step is re-attached from its offsets, every line shown once, build succeeds', async () => {
    const droppedBefore = cluster.server.execSessions().filter((x) => x.state === 'dropped').length;
    cluster.server.faults.dropExecSockets({ afterBytes: 300, count: 1 });
    const build = await runExecute(ts.url, admin, scratch, 'dropped-exec\n', { taskScript: numbered });
    expect(cluster.server.execSessions().filter((x) => x.state === 'dropped').length).toBe(droppedBefore + 1);
    expect(build.statuses).toEqual(['started', 'succeeded']);
    expect(build.log).toBe(expectedLines);
  }, 90_000);

  it('watches expiring with 410 mid-step: the step is still seen to finish, build succeeds', async () => {
    let expired = 0;
    const build = await runExecute(ts.url, admin, scratch, 'watch-410\n', {
      taskScript: numbered,
      onEvent: (event) => {
        if (event.event === 'log' && expired === 0) expired = cluster.server.faults.expireWatches();
      },
    });
    expect(expired).toBeGreaterThan(0);
    expect(build.statuses).toEqual(['started', 'succeeded']);
    expect(build.log).toBe(expectedLines);
  }, 90_000);

  it('Kubernetes API errors creating the pod: the build ends errored, naming the API failure', async () => {
    cluster.server.faults.failNextRequests({
      method: 'POST',
      path: /\/namespaces\/faults\/pods$/,
      count: 1,
      status: 500,
      message: 'etcdserver: request timed out',
    });
    const build = await runExecute(ts.url, admin, scratch, 'api-error\n', { taskScript: 'true' });
    expect(build.statuses).toEqual(['started', 'errored']);
    const errors = build.events.filter((e) => e.event === 'error').map((e) => String(e.data['message']));
    expect(errors.join('\n')).toMatch(/etcdserver: request timed out/);
    // The API answers again: the next build runs.
    const next = await runExecute(ts.url, admin, scratch, 'after-api-error\n');
    expect(next.statuses).toEqual(['started', 'succeeded']);
    expect(next.output).toBe('after-api-error\nran\n');
  }, 90_000);

  it('a pod evicted mid-step: the build ends errored with the eviction message', async () => {
    const before = new Set(await cluster.podNames());
    let evicted: string | undefined;
    const build = await runExecute(ts.url, admin, scratch, 'evicted\n', {
      taskScript: 'echo step-is-running; sleep 120',
      onEvent: async (event) => {
        if (evicted !== undefined || event.event !== 'log') return;
        const pod = await until('the step pod', async () =>
          (await cluster.podNames()).find((name) => !before.has(name)),
        );
        evicted = pod;
        cluster.server.faults.evictPod('faults', pod, 'The node was low on resource: memory.');
      },
    });
    expect(evicted).toBeDefined();
    expect(build.statuses).toEqual(['started', 'errored']);
    const messages = build.events
      .filter((e) => e.event === 'error' || e.event === 'log')
      .map((e) => String(e.data['message'] ?? e.data['payload']))
      .join('\n');
    expect(messages).toMatch(/Evicted/);
    expect(messages).toMatch(/low on resource: memory/);
  }, 90_000);

  it('logged nothing at error level but what the faults explain', () => {
    const unexplained = errorLines(ts.logs).filter(
      (line) => !/etcdserver|Evicted|evict/i.test(JSON.stringify(line)),
    );
    expect(unexplained.map((line) => line['msg'])).toEqual([]);
  });
});
