// The Kubernetes runtime against a real cluster (kind, k3s…): the Worker conformance suite in stream mode
// (and pvc mode when the claim is mounted here), plus what a test server cannot fake — a web restart that
// collects a finished step's outputs, a pod deleted under a running step, no pod left after close. Skipped
// unless JETBRIDGE_REAL_CLUSTER=1; scripts/k8s-e2e-real-cluster.sh builds the helper image and runs this.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { ContainerSpec, Volume } from '@jetbridge/runtime';
import { describeWorkerConformance, readTar } from '@jetbridge/runtime/conformance';
import { K8sWorker, PodFailedError, type K8sContainer } from './index.js';
import { connectRealCluster, realClusterSettings, type RealCluster } from './real-cluster.js';

// Image pulls and a real kubelet: seconds per pod, not milliseconds.
jest.setTimeout(300_000);

const settings = realClusterSettings();
let cluster: Promise<RealCluster> | undefined;
const connect = (): Promise<RealCluster> => {
  if ('skip' in settings) throw new Error(settings.skip);
  cluster ??= connectRealCluster(settings);
  return cluster;
};

afterAll(async () => {
  await (await cluster)?.close();
});

function spec(mounts: ContainerSpec['mounts'] = []): ContainerSpec {
  return {
    handle: `e2e-${randomUUID()}`,
    env: {},
    mounts,
    metadata: { type: 'task', teamName: 'main', stepName: 'e2e', buildId: 1 },
  };
}

async function contentOf(volume: Volume): Promise<Record<string, string>> {
  const entries = await readTar(await volume.streamOut('.'));
  return Object.fromEntries([...entries].map(([name, entry]) => [name, entry.content.toString('utf8')]));
}

if ('skip' in settings) {
  describe('Kubernetes runtime on a real cluster', () => {
    it.skip(settings.skip, () => undefined);
  });
} else {
  describeWorkerConformance('kubernetes (real cluster, stream mode)', async () => {
    const worker = await K8sWorker.create((await connect()).streamWorkerConfig());
    return { worker, cleanup: () => worker.close() };
  });

  if (settings.claim) {
    describeWorkerConformance('kubernetes (real cluster, pvc mode)', async () => {
      const config = (await connect()).pvcWorkerConfig();
      if (!config) throw new Error('no claim configured');
      const worker = await K8sWorker.create(config);
      return { worker, cleanup: () => worker.close() };
    });
  }

  describe('Kubernetes runtime on a real cluster: restarts and faults (stream mode)', () => {
    let env: RealCluster;
    beforeAll(async () => {
      env = await connect();
    });

    it('a restarted web collects the outputs of a step that finished while it was away', async () => {
      const first = await K8sWorker.create(env.streamWorkerConfig());
      const output = await first.createVolume({ owner: { kind: 'build', buildId: 1 }, teamName: 'main' });
      const step = spec([{ volume: output, path: 'out' }]);
      const container = await first.createContainer(step);
      await container.run(
        { id: 'step', path: 'sh', args: ['-c', 'sleep 2; echo result > out/result.txt; exit 3'] },
        {},
      );
      await first.disconnect();

      const second = await K8sWorker.create(env.streamWorkerConfig());
      try {
        const again = await second.lookupContainer(step.handle);
        if (!again) throw new Error('the container was not found after the restart');
        const finished = await again.attach('step', {});
        expect(await finished.wait()).toBe(3);
        expect(await contentOf(output)).toEqual({ 'result.txt': 'result\n' });
      } finally {
        await second.close();
      }
    });

    it('ends a step errored when its pod is deleted, and leaves no pod after close', async () => {
      const worker = await K8sWorker.create(env.streamWorkerConfig());
      const container = (await worker.createContainer(spec())) as K8sContainer;
      const process = await container.run({ path: 'sh', args: ['-c', 'sleep 600'] }, {});
      await env.api.request(
        'DELETE',
        `/api/v1/namespaces/${env.settings.namespace}/pods/${container.podName}`,
        { query: { gracePeriodSeconds: '0' } },
      );
      await expect(process.wait()).rejects.toBeInstanceOf(PodFailedError);
      const kept = (await worker.createContainer(spec())) as K8sContainer;
      await worker.close();
      const pods = await env.api.request<{
        items: { metadata: { name: string; deletionTimestamp?: string } }[];
      }>('GET', `/api/v1/namespaces/${env.settings.namespace}/pods`);
      const left = pods.items.filter(
        (pod) => pod.metadata.name === kept.podName && pod.metadata.deletionTimestamp === undefined,
      );
      expect(left).toEqual([]);
    });
  });
}
