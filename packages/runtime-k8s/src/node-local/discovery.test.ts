import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { startKubeTestServer, type KubeTestServer } from '@jetbridge/kube-test-server';
import { KubeApi } from '../kube/kube-api.js';
import { discoverDaemons } from './discovery.js';

const namespace = 'discovery';
let server: KubeTestServer;
let api: KubeApi;

beforeAll(async () => {
  server = await startKubeTestServer({ nodes: [{ name: 'node-a' }, { name: 'node-b' }, { name: 'node-c' }] });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(server.kubeConfigYaml(namespace));
  api = new KubeApi(kubeConfig);
});

afterAll(async () => {
  await server.close();
});

async function daemonPod(name: string, node: string, labels: Record<string, string>): Promise<void> {
  await api.request('POST', `/api/v1/namespaces/${namespace}/pods`, {
    body: {
      metadata: { name, labels },
      spec: {
        nodeName: node,
        restartPolicy: 'Never',
        containers: [{ name: 'daemon', image: 'jetbridge/artifact-daemon', command: ['sleep', '600'] }],
      },
    },
  });
  await server.waitForPod(namespace, name, (pod) => pod.status.phase === 'Running');
}

describe('finding the artifact daemons from their DaemonSet pods', () => {
  it('maps each running, ready daemon pod to its node at the node IP and hostPort; lost nodes drop out', async () => {
    const labels = { 'app.kubernetes.io/component': 'artifact-daemon' };
    await daemonPod('daemon-a', 'node-a', labels);
    await daemonPod('daemon-c', 'node-c', labels);
    await daemonPod('not-a-daemon', 'node-b', { app: 'other' });
    const list = discoverDaemons(
      api,
      { labelSelector: 'app.kubernetes.io/component=artifact-daemon', port: 7780 },
      namespace,
    );
    expect(Object.fromEntries(await list())).toEqual({
      'node-a': 'http://127.0.0.1:7780',
      'node-c': 'http://127.0.0.1:7780',
    });
    const https = discoverDaemons(
      api,
      { labelSelector: 'app.kubernetes.io/component=artifact-daemon', port: 8443, scheme: 'https' },
      namespace,
    );
    expect((await https()).get('node-a')).toBe('https://127.0.0.1:8443');

    await server.faults.loseNode('node-c');
    expect([...(await list()).keys()]).toEqual(['node-a']);
  });
});
