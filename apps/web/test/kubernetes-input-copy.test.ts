// Task inputs on --runtime kubernetes (pvc artifacts, `--kubernetes-inputs copy`): each task gets its own copy
// of its inputs, as Concourse's copy-on-write volumes give it, and the copy is measured. Before task inputs were
// marked read-only mounts, the runtime took them for outputs: it mounted the artifact itself writable (a task's
// change reached the steps after it) and copied nothing (jetbridge_k8s_artifact_copy_bytes_sum stayed 0).
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { findBuild } from '@jetbridge/db';
import { logText, readBuildEvents } from './execute-client.js';
import { ADMIN, loginToken, startTestServer, type TestServer } from './harness.js';
import { ARTIFACT_MODES, startTestCluster, type TestCluster } from './kubernetes-cluster.js';
import { call, pipelineUrl, setPipeline } from './pipeline-client.js';

const skip = ARTIFACT_MODES.find((each) => each.mode === 'pvc')?.skip;
const test = skip === undefined ? it : it.skip;

let cluster: TestCluster;
let server: TestServer;
let token: string;

beforeAll(async () => {
  if (skip !== undefined) return;
  cluster = await startTestCluster('ci');
  server = await startTestServer({ env: cluster.env('pvc', { CONCOURSE_KUBERNETES_KEEP_FOR_HIJACK: '1s' }) });
  token = await loginToken(server.url, ADMIN);
}, 120_000);
afterAll(async () => {
  await server?.destroy();
  await cluster?.close();
});

/** The `_sum` and `_count` of the copy-bytes histogram on the web's /metrics. */
async function copyBytes(): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const value = (suffix: string) =>
    Number(new RegExp(`^jetbridge_k8s_artifact_copy_bytes_${suffix} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { sum: value('sum'), count: value('count') };
}

const task = (name: string, script: string, io: string) => `
  - task: ${name}
    config:
      platform: linux
      ${io}
      run: {path: sh, args: [-ec, '${script}']}`;

test(`a task's inputs are copied into its pod (bytes counted), and its changes stay in its copy${skip ? ` [skipped: ${skip}]` : ''}`, async () => {
  const before = await copyBytes();
  const payload = 'x'.repeat(4096);
  await setPipeline(
    server.url,
    token,
    'main',
    'copies',
    `
jobs:
- name: cow
  plan:
${task('make', `printf ${payload} > art/data.txt`, 'outputs: [{name: art}]')}
${task('change', 'echo changed > art/data.txt && rm -f art/missing && wc -c < art/data.txt', 'inputs: [{name: art}]')}
${task('read', 'echo "read: $(wc -c < art/data.txt)"', 'inputs: [{name: art}]')}
`,
  );
  expect((await call(pipelineUrl(server.url, 'main', 'copies', '/unpause'), token, 'PUT')).status).toBe(200);
  const reply = await call(pipelineUrl(server.url, 'main', 'copies', '/jobs/cow/builds'), token, 'POST');
  expect(reply.status).toBe(200);
  const id = (JSON.parse(reply.text) as { id: number }).id;

  const stream = await readBuildEvents(server.url, token, id);
  expect(stream.ended).toBe(true);
  expect((await findBuild(server.server.ctx.db, id))?.status).toBe('succeeded');
  // The `change` task wrote 8 bytes into its copy; `read` still sees the 4096 the `make` task produced.
  expect(logText(stream.events)).toContain(`read: ${payload.length}`);

  // Two pods copied the 4096-byte input (the copy report is read once the pod runs, in the background).
  const deadline = Date.now() + 10_000;
  let after = await copyBytes();
  while (after.sum - before.sum < 2 * payload.length && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    after = await copyBytes();
  }
  expect(after.sum - before.sum).toBeGreaterThanOrEqual(2 * payload.length);
  // `make` has no input: its pod copied nothing, which is not measured as a copy of 0 bytes (every copy
  // measured was the whole input).
  expect((after.sum - before.sum) / (after.count - before.count)).toBeGreaterThanOrEqual(payload.length);
}, 180_000);
