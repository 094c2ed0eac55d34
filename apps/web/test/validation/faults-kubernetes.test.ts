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
 * API errors (transient ones retried, persistent and permanent ones ending the build), exec streams cut mid-output, watches expiring with 410, a pod evicted mid-step. Each build ends
 * in the state the test names, with the output or the reason it shows. (The runtime-level behaviour behind
 * each is tested in packages/runtime-k8s/src/k8s-worker-faults.test.ts; this is the same through the API.)
 */
/** Mirrors runtime-k8s's kube/retry-policy.ts RETRY_BUDGET_ENV (not part of the package's API). */
const RETRY_BUDGET_ENV = 'JETBRIDGE_KUBE_API_RETRY_BUDGET_MS';
const RETRY_BUDGET_MS = 3_000;
const pvc = ARTIFACT_MODES.find((m) => m.mode === 'pvc');
const skip = pvc?.skip;
const describeK8s = skip === undefined ? describe : describe.skip;

describeK8s(`faults on --runtime kubernetes${skip ? ` [skipped: ${skip}]` : ''}`, () => {
  let cluster: TestCluster;
  let ts: TestServer;
  let admin: string;
  let scratch: string;

  beforeAll(async () => {
    // A short Kubernetes API retry budget, so the persistent-failure case ends quickly (read when the node's
    // Kubernetes runtime connects).
    process.env[RETRY_BUDGET_ENV] = String(RETRY_BUDGET_MS);
    cluster = await startTestCluster('faults');
    ts = await startTestServer({ env: cluster.env('pvc', { CONCOURSE_LOG_LEVEL: 'info' }) });
    admin = await loginToken(ts.url, ADMIN);
    scratch = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-k8s-faults-'));
  }, 120_000);

  afterAll(async () => {
    delete process.env[RETRY_BUDGET_ENV];
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

  it('transient Kubernetes API errors creating the pod (500, 429 with Retry-After, 503, a reset): retried, build succeeds', async () => {
    const podsPath = /\/namespaces\/faults\/pods$/;
    const failed = (): number =>
      cluster.server
        .requests()
        .filter((r) => r.method === 'POST' && podsPath.test(r.path) && r.status !== 201).length;
    const before = failed();
    cluster.server.faults.failNextRequests({
      method: 'POST',
      path: podsPath,
      count: 1,
      status: 500,
      message: 'etcdserver: request timed out',
    });
    cluster.server.faults.failNextRequests({
      method: 'POST',
      path: podsPath,
      count: 1,
      status: 429,
      retryAfterSeconds: 1,
    });
    cluster.server.faults.failNextRequests({ method: 'POST', path: podsPath, count: 1, status: 503 });
    cluster.server.faults.failNextRequests({ method: 'POST', path: podsPath, count: 1, reset: true });
    const build = await runExecute(ts.url, admin, scratch, 'api-transient\n');
    expect(failed() - before).toBe(4);
    expect(build.statuses).toEqual(['started', 'succeeded']);
    expect(build.output).toBe('api-transient\nran\n');
  }, 90_000);

  it('a persistent Kubernetes API 500 creating the pod: the build ends errored with the API message once the retry budget is spent', async () => {
    const disarm = cluster.server.faults.failNextRequests({
      method: 'POST',
      path: /\/namespaces\/faults\/pods$/,
      count: 10_000,
      status: 500,
      message: 'etcdserver: leader changed',
    });
    try {
      const began = Date.now();
      const build = await runExecute(ts.url, admin, scratch, 'api-error\n', { taskScript: 'true' });
      expect(build.statuses).toEqual(['started', 'errored']);
      const errors = build.events.filter((e) => e.event === 'error').map((e) => String(e.data['message']));
      expect(errors.join('\n')).toMatch(/etcdserver: leader changed \(gave up after \d+ attempts\)/);
      // The budget (RETRY_BUDGET_MS) was spent, not much more.
      const took = Date.now() - began;
      expect(took).toBeGreaterThanOrEqual(RETRY_BUDGET_MS);
      expect(took).toBeLessThan(RETRY_BUDGET_MS + 20_000);
    } finally {
      disarm();
    }
    // The API answers again: the next build runs.
    const next = await runExecute(ts.url, admin, scratch, 'after-api-error\n');
    expect(next.statuses).toEqual(['started', 'succeeded']);
    expect(next.output).toBe('after-api-error\nran\n');
  }, 90_000);

  it('a permanent Kubernetes API error creating the pod (403 quota): errored at once, naming the API failure', async () => {
    const podsPath = /\/namespaces\/faults\/pods$/;
    const from = cluster.server.requests().length;
    cluster.server.faults.failNextRequests({
      method: 'POST',
      path: podsPath,
      count: 1,
      status: 403,
      message:
        'pods is forbidden: exceeded quota: compute, requested: pods=1, used: pods=10, limited: pods=10',
    });
    const build = await runExecute(ts.url, admin, scratch, 'api-forbidden\n', { taskScript: 'true' });
    expect(build.statuses).toEqual(['started', 'errored']);
    const errors = build.events.filter((e) => e.event === 'error').map((e) => String(e.data['message']));
    expect(errors.join('\n')).toMatch(/HTTP 403 Forbidden: pods is forbidden: exceeded quota: compute/);
    // Tried once: a 403 is not retried.
    const creates = cluster.server
      .requests()
      .slice(from)
      .filter((r) => r.method === 'POST' && podsPath.test(r.path));
    expect(creates.map((r) => r.status)).toEqual([403]);
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
      (line) => !/etcdserver|exceeded quota|Evicted|evict/i.test(JSON.stringify(line)),
    );
    expect(unexplained.map((line) => line['msg'])).toEqual([]);
  });
});
