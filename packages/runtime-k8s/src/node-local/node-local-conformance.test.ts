import { afterAll, describe, it } from '@jest/globals';
import { describeWorkerConformance } from '@jetbridge/runtime/conformance';
import { helperBuild } from '../test-environment.js';
import { K8sWorker } from '../index.js';
import { startNodeLocalEnvironment, type NodeLocalEnvironment } from './test-environment.js';

let environment: Promise<NodeLocalEnvironment> | undefined;

afterAll(async () => {
  await (await environment)?.close();
});

const build = helperBuild;
if ('skip' in build) {
  const why = build.skip;
  describe('Worker conformance: kubernetes node-local', () => {
    it.skip(why, () => undefined);
  });
} else {
  const helperPath = build.path;
  describeWorkerConformance('kubernetes (kube-test-server, 3 nodes, node-local mode)', async () => {
    environment ??= startNodeLocalEnvironment('conformance-node-local', helperPath);
    const env = await environment;
    const worker = await K8sWorker.create(env.workerConfig());
    return { worker, cleanup: () => worker.close() };
  });

  describeWorkerConformance('kubernetes (kube-test-server, 3 nodes, node-local mode, 1 mirror)', async () => {
    environment ??= startNodeLocalEnvironment('conformance-node-local', helperPath);
    const env = await environment;
    const worker = await K8sWorker.create(env.workerConfig({ mirror: { replicas: 1 } }));
    return { worker, cleanup: () => worker.close() };
  });
}
