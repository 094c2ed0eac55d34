import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readBuildEvents } from './execute-client.js';
import { ADMIN, loginToken, startTestServer, type TestServer } from './harness.js';
import { helperBuild, startTestCluster, type TestCluster } from './kubernetes-cluster.js';
import { call, pipelineUrl, setPipeline } from './pipeline-client.js';

/**
 * Resource steps on `--runtime kubernetes` run their type's image: a pipeline's custom type its
 * `source.repository:tag`, a base type `concourse/<type>-resource`. The test server runs every image as this
 * host, which has no /opt/resource, so each image's pull is made to fail and the check build's error names
 * the image the pod asked for.
 */
const skip = 'skip' in helperBuild ? helperBuild.skip : undefined;
const describeIf = skip === undefined ? describe : describe.skip;

let cluster: TestCluster;
let ts: TestServer;
let admin: string;

const YAML = `
resource_types:
- name: greeter
  type: registry-image
  source: {repository: example.com/greeter-resource, tag: "2"}
resources:
- name: hello
  type: greeter
  check_every: never
  source: {target: world}
- name: clock
  type: time
  check_every: never
  source: {interval: 1h}
jobs:
- name: uses
  plan:
  - get: hello
  - get: clock
`;

async function checkError(resource: string): Promise<string> {
  const url = pipelineUrl(ts.url, 'main', 'k8s-types', `/resources/${resource}/check`);
  const check = await call(url, admin, 'POST', { from: null });
  expect(check.status).toBe(201);
  const buildId = check.json<{ id: number }>().id;
  const deadline = Date.now() + 60_000;
  for (;;) {
    const build = (await call(`${ts.url}/api/v1/builds/${buildId}`, admin)).json<{ status: string }>();
    if (build.status !== 'started' && build.status !== 'pending') break;
    if (Date.now() > deadline) throw new Error(`check build ${buildId} did not finish`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const { events } = await readBuildEvents(ts.url, admin, buildId);
  return events
    .filter((event) => event.event === 'error')
    .map((event) => String(event.data['message']))
    .join('\n');
}

describeIf(`resource types on --runtime kubernetes${skip ? ` [skipped: ${skip}]` : ''}`, () => {
  beforeAll(async () => {
    cluster = await startTestCluster('ci');
    cluster.server.faults.failImagePulls({ image: 'example.com/greeter-resource:2' });
    cluster.server.faults.failImagePulls({ image: 'concourse/time-resource' });
    ts = await startTestServer({ env: cluster.env('pvc') });
    admin = await loginToken(ts.url, ADMIN);
    await setPipeline(ts.url, admin, 'main', 'k8s-types', YAML);
  });

  afterAll(async () => {
    await ts?.destroy();
    await cluster?.close();
  });

  it('runs a custom type’s check in its registry image', async () => {
    expect(await checkError('hello')).toContain('Failed to pull image "example.com/greeter-resource:2"');
  });

  it('runs a base type’s check in concourse/<type>-resource', async () => {
    expect(await checkError('clock')).toContain('Failed to pull image "concourse/time-resource"');
  });
});
