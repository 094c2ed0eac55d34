import { describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { snapshotConnection, snapshotKubeConfig } from './connection-snapshot.js';

function kubeConfig(cluster: { proxyUrl?: string } = {}): KubeConfig {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [
      {
        name: 'c',
        server: 'https://203.0.113.7:6443',
        caData: Buffer.from('-----CA-----').toString('base64'),
        skipTLSVerify: false,
        ...cluster,
      },
    ],
    users: [{ name: 'u', token: 'secret-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return config;
}

describe('connection snapshots (a kubeconfig’s connection, for another thread)', () => {
  it('carries the server, the TLS material and the credentials through a structured clone', async () => {
    const snapshot = await snapshotConnection(kubeConfig());
    expect(snapshot).toBeDefined();
    // What postMessage does to it on the way to the thread.
    const copied = structuredClone(snapshot!);
    const rebuilt = snapshotKubeConfig(copied);
    expect(rebuilt.getCurrentCluster()).toEqual({ server: 'https://203.0.113.7:6443' });
    const options: Record<string, unknown> = {};
    await rebuilt.applyToHTTPSOptions(options);
    expect(Buffer.isBuffer(options.ca)).toBe(true);
    expect((options.ca as Buffer).toString()).toBe('-----CA-----');
    expect(options.headers).toEqual({ Authorization: 'Bearer secret-token' });
    expect(options.agent).toBeUndefined();
  });

  it('keeps a proxied connection on its thread (the proxy agent cannot be copied)', async () => {
    expect(await snapshotConnection(kubeConfig({ proxyUrl: 'http://127.0.0.1:3128' }))).toBeUndefined();
  });
});
