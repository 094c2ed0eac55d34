// examples/ end to end on the Kubernetes runtime, in each artifact mode: every get, put, check and task a
// pod on the kube-test-server (see examples-suite.ts for what each example checks).
import { describe } from '@jest/globals';
import { EXAMPLES_ENV, describeExamples } from './examples-suite.js';
import { startTestServer, type TestServer } from './harness.js';
import { ARTIFACT_MODES, startTestCluster, type TestCluster } from './kubernetes-cluster.js';

for (const { mode, skip } of ARTIFACT_MODES) {
  (skip === undefined ? describe : describe.skip)(
    `examples on --runtime kubernetes, ${mode} artifacts${skip ? ` [skipped: ${skip}]` : ''}`,
    () => {
      let cluster: TestCluster | undefined;
      let server: TestServer | undefined;
      describeExamples({
        startServer: async () => {
          cluster = await startTestCluster('ci');
          // Pods of finished builds go a second after their step, as the many check pods come and go.
          server = await startTestServer({
            env: { ...EXAMPLES_ENV, ...cluster.env(mode, { CONCOURSE_KUBERNETES_KEEP_FOR_HIJACK: '1s' }) },
          });
          return server;
        },
        stopServer: async () => {
          await server?.destroy();
          await cluster?.close();
        },
        buildTimeoutMs: 120_000,
      });
    },
  );
}
