import { afterAll, describe, it } from '@jest/globals';
import { describeWorkerConformance } from '@jetbridge/runtime/conformance';
import { helperBuild, startTestEnvironment, type TestEnvironment } from './test-environment.js';
import { K8sWorker } from './index.js';

let environment: Promise<TestEnvironment> | undefined;

afterAll(async () => {
  await (await environment)?.close();
});

const build = helperBuild;
if ('skip' in build) {
  const why = build.skip;
  describe('Worker conformance: kubernetes', () => {
    it.skip(why, () => undefined);
  });
} else {
  const helperPath = build.path;
  describeWorkerConformance('kubernetes (kube-test-server, pvc mode)', async () => {
    environment ??= startTestEnvironment('conformance', helperPath);
    const env = await environment;
    const worker = await K8sWorker.create(env.workerConfig());
    return { worker, cleanup: () => worker.close() };
  });

  describeWorkerConformance('kubernetes (kube-test-server, stream mode)', async () => {
    environment ??= startTestEnvironment('conformance', helperPath);
    const env = await environment;
    const worker = await K8sWorker.create(env.streamWorkerConfig());
    return { worker, cleanup: () => worker.close() };
  });

  describeWorkerConformance(
    'kubernetes (kube-test-server, pvc mode, inputs mounted read-only in place)',
    async () => {
      environment ??= startTestEnvironment('conformance', helperPath);
      const env = await environment;
      const config = env.workerConfig();
      const worker = await K8sWorker.create({
        ...config,
        artifacts: { ...config.artifacts, inputs: 'mount' },
      });
      return { worker, cleanup: () => worker.close() };
    },
    // No copy: a task cannot change its inputs (writes fail), the artifact stays as it was.
    { inputs: 'read-only' },
  );
}
