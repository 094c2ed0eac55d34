import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFile } from 'node:fs/promises';
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { startKubeTestServer, type KubeTestServer } from './index.js';
import type { Pod } from './api/types.js';

let server: KubeTestServer;
let core: CoreV1Api;
const namespace = 'nodes';
const HOST_PATH = '/var/lib/jetbridge-test-artifacts';

beforeAll(async () => {
  server = await startKubeTestServer({
    nodes: [
      { name: 'node-a', labels: { zone: 'z1' } },
      { name: 'node-b', labels: { zone: 'z1' } },
      { name: 'node-c', labels: { zone: 'z2', gpu: 'true' } },
    ],
  });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(server.kubeConfigYaml(namespace));
  core = kubeConfig.makeApiClient(CoreV1Api);
});

afterAll(async () => {
  await server.close();
});

const finished = (pod: Pod): boolean => pod.status.phase === 'Succeeded' || pod.status.phase === 'Failed';

/** A pod that writes its node name (downward API) into a hostPath, with `spec` merged in. */
function writerPod(name: string, spec: Partial<NonNullable<V1Pod['spec']>> = {}): V1Pod {
  return {
    metadata: { name },
    spec: {
      restartPolicy: 'Never',
      volumes: [{ name: 'disk', hostPath: { path: HOST_PATH, type: 'DirectoryOrCreate' } }],
      containers: [
        {
          name: 'main',
          image: 'busybox',
          command: ['sh', '-c', `echo "$NODE" > /disk/${name}.txt`],
          env: [{ name: 'NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
          volumeMounts: [{ name: 'disk', mountPath: '/disk' }],
        },
      ],
      ...spec,
    },
  };
}

async function runToEnd(pod: V1Pod): Promise<Pod> {
  await core.createNamespacedPod({ namespace, body: pod });
  return server.waitForPod(namespace, pod.metadata?.name ?? '', finished);
}

describe('a simulated multi-node cluster', () => {
  it('lists its nodes with hostname labels and Ready conditions', async () => {
    const nodes = await core.listNode();
    expect(nodes.items.map((node) => node.metadata?.name)).toEqual(['node-a', 'node-b', 'node-c']);
    const c = nodes.items[2];
    expect(c?.metadata?.labels).toMatchObject({ 'kubernetes.io/hostname': 'node-c', gpu: 'true' });
    expect(c?.status?.conditions?.find((condition) => condition.type === 'Ready')?.status).toBe('True');
    expect(server.nodeNames).toEqual(['node-a', 'node-b', 'node-c']);
  });

  it("gives each node its own hostPath root, and the downward API the pod's node", async () => {
    const pod = await runToEnd(writerPod('hard-b', { nodeName: 'node-b' }));
    expect(pod.status.phase).toBe('Succeeded');
    expect(pod.spec.nodeName).toBe('node-b');
    expect(await readFile(`${server.nodeHostPath('node-b', HOST_PATH)}/hard-b.txt`, 'utf8')).toBe('node-b\n');
    await expect(readFile(`${server.nodeHostPath('node-a', HOST_PATH)}/hard-b.txt`, 'utf8')).rejects.toThrow(
      /ENOENT/,
    );
    expect(server.nodeHostPath('node-a', HOST_PATH)).not.toBe(server.nodeHostPath('node-b', HOST_PATH));
  });

  it('honours nodeSelector, required affinity (terms ORed, expressions ANDed) and preferred weights', async () => {
    const selected = await runToEnd(writerPod('selector', { nodeSelector: { gpu: 'true' } }));
    expect(selected.spec.nodeName).toBe('node-c');
    const required = await runToEnd(
      writerPod('required', {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                {
                  matchExpressions: [
                    { key: 'zone', operator: 'In', values: ['z1'] },
                    { key: 'kubernetes.io/hostname', operator: 'NotIn', values: ['node-a'] },
                  ],
                },
              ],
            },
          },
        },
      }),
    );
    expect(required.spec.nodeName).toBe('node-b');
    // A soft preference wins over spreading, but never over a hard requirement.
    for (const [name, preferred] of [
      ['prefer-a', 'node-a'],
      ['prefer-c', 'node-c'],
    ] as const) {
      const pod = await runToEnd(
        writerPod(name, {
          affinity: {
            nodeAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [
                {
                  weight: 100,
                  preference: {
                    matchFields: [{ key: 'metadata.name', operator: 'In', values: [preferred] }],
                  },
                },
                {
                  weight: 1,
                  preference: { matchExpressions: [{ key: 'zone', operator: 'In', values: ['z1'] }] },
                },
              ],
            },
          },
        }),
      );
      expect(pod.spec.nodeName).toBe(preferred);
    }
  });

  it("reports an unschedulable pod with the scheduler's message", async () => {
    await core.createNamespacedPod({
      namespace,
      body: writerPod('nowhere', { nodeSelector: { zone: 'z9' } }),
    });
    const pending = await server.waitForPod(namespace, 'nowhere', (pod) =>
      (pod.status.conditions ?? []).some((condition) => condition.reason === 'Unschedulable'),
    );
    const condition = pending.status.conditions?.find((each) => each.type === 'PodScheduled');
    expect(condition?.message).toBe(
      "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
    );
    await core.deleteNamespacedPod({ namespace, name: 'nowhere', gracePeriodSeconds: 0 });
  });

  it('loses a node: its pods fail with NodeLost, its disk is gone, nothing new lands there', async () => {
    await core.createNamespacedPod({
      namespace,
      body: {
        ...writerPod('long-c', { nodeName: 'node-c' }),
        spec: {
          ...writerPod('long-c', { nodeName: 'node-c' }).spec,
          containers: [{ name: 'main', image: 'busybox', command: ['sleep', '600'] }],
        },
      } as V1Pod,
    });
    await server.waitForPod(namespace, 'long-c', (pod) => pod.status.phase === 'Running');
    await server.faults.loseNode('node-c');
    const lost = await server.waitForPod(namespace, 'long-c', finished);
    expect(lost.status).toMatchObject({
      phase: 'Failed',
      reason: 'NodeLost',
      message: 'Node node-c which was running pod long-c is unresponsive',
    });
    await expect(
      readFile(`${server.nodeHostPath('node-c', HOST_PATH)}/selector.txt`, 'utf8'),
    ).rejects.toThrow(/ENOENT/);
    const node = await core.readNode({ name: 'node-c' });
    expect(node.status?.conditions?.find((each) => each.type === 'Ready')?.status).toBe('Unknown');
    expect(node.spec?.taints?.map((taint) => taint.key)).toContain('node.kubernetes.io/unreachable');

    await core.createNamespacedPod({
      namespace,
      body: writerPod('gpu-after-loss', { nodeSelector: { gpu: 'true' } }),
    });
    const waiting = await server.waitForPod(namespace, 'gpu-after-loss', (pod) =>
      (pod.status.conditions ?? []).some((condition) => condition.reason === 'Unschedulable'),
    );
    expect(waiting.status.conditions?.find((each) => each.type === 'PodScheduled')?.message).toMatch(
      /^0\/3 nodes are available: 1 node\(s\) had untolerated taint \{node.kubernetes.io\/unreachable: \}, 2 node\(s\) didn't match/,
    );
    const elsewhere = await runToEnd(writerPod('after-loss'));
    expect(['node-a', 'node-b']).toContain(elsewhere.spec.nodeName);
  });
});
