import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startKubeTestServer, type KubeTestServer } from '@jetbridge/kube-test-server';
import {
  CachedCredentialManager,
  KubernetesCredentialManager,
  KubernetesSecretPathError,
  KubernetesSecretReadError,
  kubernetesSecretReader,
  loadKubeConfig,
  pipelineVarsResolver,
  RetryingCredentialManager,
  type SecretReader,
} from './index.js';

// The Kubernetes credential manager against the in-repo Kubernetes API test server, through the real client
// library: namespaces per team with the prefix, `<pipeline>.<var>` before `<var>`, `value` or all fields.
let server: KubeTestServer;
let scratch: string;
let manager: KubernetesCredentialManager;

async function createSecret(namespace: string, name: string, data: Record<string, string>): Promise<void> {
  const response = await fetch(`${server.url}/api/v1/namespaces/${namespace}/secrets`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ metadata: { name }, stringData: data }),
  });
  expect(response.status).toBe(201);
}

async function replaceSecret(namespace: string, name: string, data: Record<string, string>): Promise<void> {
  const response = await fetch(`${server.url}/api/v1/namespaces/${namespace}/secrets/${name}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ metadata: { name }, stringData: data }),
  });
  expect(response.status).toBe(200);
}

const secretReads = (): number =>
  server.requests().filter((request) => request.method === 'GET' && request.path.includes('/secrets/'))
    .length;

beforeAll(async () => {
  server = await startKubeTestServer();
  scratch = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-k8s-creds-'));
  const kubeconfig = path.join(scratch, 'kubeconfig');
  await server.writeKubeConfig(kubeconfig);
  manager = new KubernetesCredentialManager({
    readSecret: kubernetesSecretReader(loadKubeConfig({ inCluster: false, configPath: kubeconfig })),
  });
  await createSecret('concourse-main', 'db-password', { value: 'team-wide' });
  await createSecret('concourse-main', 'app.db-password', { value: 'pipeline-only' });
  await createSecret('concourse-main', 'registry', { username: 'bot', password: 's3cret' });
  await createSecret('team-ci', 'token', { value: 'other-prefix' });
});

afterAll(async () => {
  await server?.close();
  await rm(scratch, { recursive: true, force: true });
});

describe('KubernetesCredentialManager', () => {
  it('prefers <pipeline>.<var> in the team namespace, then <var>', async () => {
    expect(await manager.lookup({ teamName: 'main', pipelineName: 'app' }, 'db-password')).toEqual({
      value: 'pipeline-only',
    });
    expect(await manager.lookup({ teamName: 'main', pipelineName: 'other' }, 'db-password')).toEqual({
      value: 'team-wide',
    });
    expect(await manager.lookup({ teamName: 'main' }, 'db-password')).toEqual({ value: 'team-wide' });
    expect(await manager.lookup({ teamName: 'ops', pipelineName: 'app' }, 'db-password')).toBeUndefined();
  });

  it('yields the map of every key when the secret has no `value` key', async () => {
    const vars = pipelineVarsResolver(manager, { teamName: 'main', pipelineName: 'app' });
    expect(await vars.lookup({ path: 'registry' })).toEqual({
      value: { username: 'bot', password: 's3cret' },
    });
  });

  it('uses the configured namespace prefix', async () => {
    const prefixed = new KubernetesCredentialManager({
      readSecret: kubernetesSecretReader(
        loadKubeConfig({ inCluster: false, configPath: path.join(scratch, 'kubeconfig') }),
      ),
      namespacePrefix: 'team-',
    });
    expect(await prefixed.lookup({ teamName: 'ci' }, 'token')).toEqual({ value: 'other-prefix' });
  });

  it('refuses names that make no <namespace>/<secret> path, as Concourse does', async () => {
    await expect(manager.lookup({ teamName: 'main' }, 'a/b')).rejects.toThrow(
      new KubernetesSecretPathError('concourse-main/a/b'),
    );
  });

  it('fails the lookup when the API fails, without the answer’s body', async () => {
    server.faults.failNextRequests({
      method: 'GET',
      path: '/api/v1/namespaces/concourse-main/secrets/db-password',
      status: 403,
      count: 1,
    });
    await expect(manager.lookup({ teamName: 'main' }, 'db-password')).rejects.toThrow(
      'failed to read kubernetes secret concourse-main/db-password: HTTP 403',
    );
  });

  it('needs exactly one of in-cluster and config-path', () => {
    expect(() => loadKubeConfig({ inCluster: true, configPath: '/x' })).toThrow(
      'either in-cluster or config-path can be used, not both',
    );
    expect(() => loadKubeConfig({ inCluster: false })).toThrow('needs in-cluster or config-path');
  });
});

describe('CachedCredentialManager over Kubernetes', () => {
  it('reuses found secrets for the duration and missing ones for the not-found duration', async () => {
    let now = 1_000_000;
    const cached = new CachedCredentialManager(manager, {
      durationMs: 60_000,
      notFoundDurationMs: 10_000,
      now: () => now,
    });
    await createSecret('concourse-cache', 'rotating', { value: 'v1' });
    const context = { teamName: 'cache' };

    const before = secretReads();
    expect(await cached.lookup(context, 'rotating')).toEqual({ value: 'v1' });
    expect(secretReads()).toBe(before + 1);
    await replaceSecret('concourse-cache', 'rotating', { value: 'v2' });
    now += 59_000;
    expect(await cached.lookup(context, 'rotating')).toEqual({ value: 'v1' });
    expect(secretReads()).toBe(before + 1);
    now += 2_000;
    expect(await cached.lookup(context, 'rotating')).toEqual({ value: 'v2' });
    expect(secretReads()).toBe(before + 2);

    expect(await cached.lookup(context, 'later')).toBeUndefined();
    await createSecret('concourse-cache', 'later', { value: 'appeared' });
    now += 9_000;
    expect(await cached.lookup(context, 'later')).toBeUndefined();
    now += 2_000;
    expect(await cached.lookup(context, 'later')).toEqual({ value: 'appeared' });
  });

  it('does not keep failures', async () => {
    const cached = new CachedCredentialManager(manager, { durationMs: 60_000, notFoundDurationMs: 10_000 });
    server.faults.failNextRequests({
      method: 'GET',
      path: '/api/v1/namespaces/concourse-main/secrets/db-password',
      status: 500,
      count: 1,
    });
    await expect(cached.lookup({ teamName: 'main' }, 'db-password')).rejects.toThrow('HTTP 500');
    expect(await cached.lookup({ teamName: 'main' }, 'db-password')).toEqual({ value: 'team-wide' });
  });
});

describe('RetryingCredentialManager over Kubernetes', () => {
  const counting = (reader: SecretReader) => {
    const counter = { calls: 0 };
    const read: SecretReader = async (namespace, name) => {
      counter.calls += 1;
      return reader(namespace, name);
    };
    return { counter, read };
  };

  it('tries an unreachable API server `attempts` times, then says so', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-k8s-nowhere-'));
    try {
      // A kubeconfig for a port nothing listens on: every read is refused at connect.
      const kubeconfig = path.join(dir, 'kubeconfig');
      const yaml = server.kubeConfigYaml().replace(server.url, 'http://127.0.0.1:1');
      await writeFile(kubeconfig, yaml);
      const { counter, read } = counting(
        kubernetesSecretReader(loadKubeConfig({ inCluster: false, configPath: kubeconfig })),
      );
      const retrying = new RetryingCredentialManager(new KubernetesCredentialManager({ readSecret: read }), {
        attempts: 3,
        intervalMs: 10,
      });
      await expect(retrying.lookup({ teamName: 'main' }, 'db-password')).rejects.toThrow(
        /failed to read kubernetes secret concourse-main\/db-password: .*ECONNREFUSED.* \(after 3 retries\)$/,
      );
      expect(counter.calls).toBe(3);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('answers after a transient failure, and does not retry an answer the server gave', async () => {
    let refusals = 2;
    const flaky: SecretReader = async (namespace, name) => {
      if (refusals-- > 0) throw new KubernetesSecretReadError(namespace, name, 'connect ECONNREFUSED', true);
      return kubernetesSecretReader(
        loadKubeConfig({ inCluster: false, configPath: path.join(scratch, 'kubeconfig') }),
      )(namespace, name);
    };
    const retrying = new RetryingCredentialManager(new KubernetesCredentialManager({ readSecret: flaky }), {
      attempts: 5,
      intervalMs: 10,
    });
    expect(await retrying.lookup({ teamName: 'main' }, 'db-password')).toEqual({ value: 'team-wide' });

    const { counter, read } = counting(
      kubernetesSecretReader(
        loadKubeConfig({ inCluster: false, configPath: path.join(scratch, 'kubeconfig') }),
      ),
    );
    const strict = new RetryingCredentialManager(new KubernetesCredentialManager({ readSecret: read }), {
      attempts: 5,
      intervalMs: 10,
    });
    server.faults.failNextRequests({
      method: 'GET',
      path: '/api/v1/namespaces/concourse-main/secrets/db-password',
      status: 403,
      count: 1,
    });
    await expect(strict.lookup({ teamName: 'main' }, 'db-password')).rejects.toThrow(/HTTP 403$/);
    expect(counter.calls).toBe(1);
  });
});
