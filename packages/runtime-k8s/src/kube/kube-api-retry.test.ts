import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { startKubeTestServer, type KubeTestServer } from '@jetbridge/kube-test-server';
import { KubeApi, KubeApiError } from './kube-api.js';
import { PodClient } from './pod-client.js';
import type { Pod } from './pod-types.js';
import { defaultRetryPolicy, retryAfterMs, type RetryPolicy } from './retry-policy.js';

/**
 * Transient API failures are retried with backoff within a budget; permanent ones fail at once with the
 * API's message. Real HTTP against the in-repo Kubernetes API test server and its request fault hooks.
 */
const namespace = 'retries';
const pods = `/api/v1/namespaces/${namespace}/pods`;
let server: KubeTestServer;
let kubeConfig: KubeConfig;

beforeAll(async () => {
  server = await startKubeTestServer({ nodeName: 'node-a' });
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(server.kubeConfigYaml(namespace));
});

afterAll(async () => {
  await server.close();
});

const quick: RetryPolicy = { budgetMs: 2_000, initialDelayMs: 20, maxDelayMs: 200 };

function podClient(policy: RetryPolicy = quick): PodClient {
  return new PodClient(new KubeApi(kubeConfig, policy), namespace);
}

function stepPod(name: string): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { 'jetbridge.test/instance': 'retries', 'jetbridge.test/handle': name } },
    spec: {
      restartPolicy: 'Never',
      containers: [{ name: 'main', image: 'x', command: ['sh', '-c', 'sleep 30'] }],
    },
  } as Pod;
}

/** The test server's answers to `method path` since `from` requests were logged. */
function answers(method: string, path: string, from: number): number[] {
  return server
    .requests()
    .slice(from)
    .filter((request) => request.method === method && request.path === path)
    .map((request) => request.status);
}

describe('KubeApi retries', () => {
  it('creates a pod after 429 (with Retry-After), 503, 504, 500 and a connection reset', async () => {
    const from = server.requests().length;
    const path = pods;
    server.faults.failNextRequests({ method: 'POST', path, count: 1, status: 429, retryAfterSeconds: 1 });
    server.faults.failNextRequests({ method: 'POST', path, count: 1, status: 503 });
    server.faults.failNextRequests({ method: 'POST', path, count: 1, status: 504 });
    server.faults.failNextRequests({ method: 'POST', path, count: 1, status: 500 });
    server.faults.failNextRequests({ method: 'POST', path, count: 1, reset: true });
    const began = Date.now();
    const created = await podClient({ ...quick, budgetMs: 10_000 }).create(stepPod('created-after-faults'));
    expect(created?.metadata.name).toBe('created-after-faults');
    expect(created?.metadata.uid).toBeTruthy();
    expect(answers('POST', path, from)).toEqual([429, 503, 504, 500, 0, 201]);
    // The 429's Retry-After: 1 was honoured even though the backoff asked for far less.
    expect(Date.now() - began).toBeGreaterThanOrEqual(1_000);
  });

  it('retries GET, LIST and DELETE on 500 until they succeed', async () => {
    const client = podClient();
    await client.create(stepPod('read-and-delete'));
    const from = server.requests().length;
    const podPath = `${pods}/read-and-delete`;
    server.faults.failNextRequests({ method: 'GET', path: podPath, count: 2 });
    server.faults.failNextRequests({ method: 'GET', path: pods, count: 2, status: 502 });
    server.faults.failNextRequests({ method: 'DELETE', path: podPath, count: 2, status: 503 });
    expect((await client.get('read-and-delete'))?.metadata.name).toBe('read-and-delete');
    const api = new KubeApi(kubeConfig, quick);
    const list = await api.request<{ items: Pod[] }>('GET', pods);
    expect(list.items.map((pod) => pod.metadata.name)).toContain('read-and-delete');
    expect(await client.delete('read-and-delete', 0)).toBe(true);
    expect(answers('GET', podPath, from)).toEqual([500, 500, 200]);
    expect(answers('GET', pods, from)).toEqual([502, 502, 200]);
    expect(answers('DELETE', podPath, from)).toEqual([503, 503, 200]);
  });

  it('takes the pod as created when a retried create finds its own first try landed (409, same labels)', async () => {
    const client = podClient();
    // The first try lands, but its answer is lost (here: the server has the pod, then the create answers 503).
    await client.create(stepPod('landed-first-time'));
    server.faults.failNextRequests({ method: 'POST', path: pods, count: 1, status: 503 });
    const from = server.requests().length;
    const again = await client.create(stepPod('landed-first-time'));
    expect(again?.metadata.name).toBe('landed-first-time');
    expect(answers('POST', pods, from)).toEqual([503, 409]);
  });

  it('does not take a 409 on a retried create as success when the pod there is not ours', async () => {
    const client = podClient();
    const other = stepPod('someone-elses');
    other.metadata.labels = { 'jetbridge.test/instance': 'another-instance' };
    await client.create(other);
    server.faults.failNextRequests({ method: 'POST', path: pods, count: 1, status: 503 });
    expect(await client.create(stepPod('someone-elses'))).toBeUndefined();
  });

  it('a 409 on the first try is still "already exists", without looking further', async () => {
    const client = podClient();
    await client.create(stepPod('exists-already'));
    const from = server.requests().length;
    expect(await client.create(stepPod('exists-already'))).toBeUndefined();
    expect(answers('POST', pods, from)).toEqual([409]);
    expect(answers('GET', `${pods}/exists-already`, from)).toEqual([]);
  });

  it('fails at once on permanent errors (403 quota, 400, 422, 404), with the API message', async () => {
    for (const [status, message] of [
      [
        403,
        'pods "x" is forbidden: exceeded quota: compute, requested: pods=1, used: pods=10, limited: pods=10',
      ],
      [400, 'bad request body'],
      [422, 'Pod "x" is invalid: spec.containers: Required value'],
    ] as const) {
      const from = server.requests().length;
      server.faults.failNextRequests({ method: 'POST', path: pods, count: 1, status, message });
      const failure = await podClient()
        .create(stepPod(`permanent-${status}`))
        .catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(KubeApiError);
      expect((failure as KubeApiError).httpStatus).toBe(status);
      expect((failure as KubeApiError).attempts).toBe(1);
      expect((failure as Error).message).toContain(message);
      expect(answers('POST', pods, from)).toEqual([status]);
    }
    const from = server.requests().length;
    await expect(new KubeApi(kubeConfig, quick).request('GET', `${pods}/no-such-pod`)).rejects.toMatchObject({
      httpStatus: 404,
      attempts: 1,
    });
    expect(answers('GET', `${pods}/no-such-pod`, from)).toEqual([404]);
  });

  it('gives up on a persistent 500 once the budget is spent, with the last API message', async () => {
    // A namespace of its own: the fault outlives the test.
    const failing = '/api/v1/namespaces/always-failing/pods';
    server.faults.failNextRequests({
      method: 'POST',
      path: failing,
      count: 1_000,
      message: 'etcdserver: request timed out',
    });
    const from = server.requests().length;
    const began = Date.now();
    const api = new KubeApi(kubeConfig, { budgetMs: 800, initialDelayMs: 50, maxDelayMs: 200 });
    const failure = await new PodClient(api, 'always-failing')
      .create(stepPod('never-created'))
      .catch((error: unknown) => error);
    const took = Date.now() - began;
    expect(failure).toBeInstanceOf(KubeApiError);
    expect((failure as Error).message).toMatch(/HTTP 500 InternalError: etcdserver: request timed out/);
    expect((failure as Error).message).toMatch(/gave up after \d+ attempts/);
    const tries = answers('POST', failing, from);
    expect(tries.length).toBe((failure as KubeApiError).attempts);
    expect(tries.length).toBeGreaterThan(2);
    expect(tries.every((status) => status === 500)).toBe(true);
    // The whole budget (its last try at the deadline), not far beyond it.
    expect(took).toBeGreaterThanOrEqual(800);
    expect(took).toBeLessThan(800 + 500);
  });

  it('stops retrying when the caller aborts', async () => {
    server.faults.failNextRequests({ method: 'GET', path: `${pods}/aborted`, count: 1_000, status: 503 });
    const controller = new AbortController();
    const began = Date.now();
    setTimeout(() => controller.abort(), 200);
    const failure = await new KubeApi(kubeConfig, { budgetMs: 30_000, initialDelayMs: 50, maxDelayMs: 100 })
      .request('GET', `${pods}/aborted`, { signal: controller.signal })
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(KubeApiError);
    expect(Date.now() - began).toBeLessThan(2_000);
  });
});

describe('retry policy', () => {
  it('reads its budget from the environment, defaulting to 30 s', () => {
    expect(defaultRetryPolicy({}).budgetMs).toBe(30_000);
    expect(defaultRetryPolicy({ JETBRIDGE_KUBE_API_RETRY_BUDGET_MS: '1500' }).budgetMs).toBe(1_500);
    expect(defaultRetryPolicy({ JETBRIDGE_KUBE_API_RETRY_BUDGET_MS: 'soon' }).budgetMs).toBe(30_000);
  });

  it('takes a configured budget (--kubernetes-api-retry-budget) over the environment, 0 included', () => {
    expect(defaultRetryPolicy({}, 120_000).budgetMs).toBe(120_000);
    expect(defaultRetryPolicy({ JETBRIDGE_KUBE_API_RETRY_BUDGET_MS: '1500' }, 0).budgetMs).toBe(0);
    expect(defaultRetryPolicy({ JETBRIDGE_KUBE_API_RETRY_BUDGET_MS: '1500' }, undefined).budgetMs).toBe(
      1_500,
    );
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMs('3', now)).toBe(3_000);
    expect(retryAfterMs('Thu, 01 Jan 2026 00:00:02 GMT', now)).toBe(2_000);
    expect(retryAfterMs(undefined, now)).toBeUndefined();
    expect(retryAfterMs('whenever', now)).toBeUndefined();
  });
});
