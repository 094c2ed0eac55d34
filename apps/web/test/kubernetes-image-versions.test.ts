import { randomBytes, createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readBuildEvents } from './execute-client.js';
import { ADMIN, loginToken, startTestServer, type TestServer } from './harness.js';
import { helperBuild, startTestCluster, type TestCluster } from './kubernetes-cluster.js';
import { call, pipelineUrl, setPipeline } from './pipeline-client.js';

/**
 * On `--runtime kubernetes` an image resource runs at the version its checks found, by digest: once the
 * resource type `greeter` was checked (by a real check build, in a pod of a stand-in
 * `concourse/registry-image-resource` whose `check` prints the versions this test wrote), its resources'
 * steps, and a task whose image_resource has the same source, run `example.com/greeter-resource@<the latest
 * digest>`. The test server runs every image as this host, so pulls of the greeter image are made to fail,
 * and the step's error names the image the pod asked for.
 */
const skip = 'skip' in helperBuild ? helperBuild.skip : undefined;
const describeIf = skip === undefined ? describe : describe.skip;

const REPOSITORY = 'example.com/greeter-resource';
const PIPELINE = 'image-versions';
const YAML = `
resource_types:
- name: greeter
  type: registry-image
  check_every: never
  source: {repository: ${REPOSITORY}, tag: "2"}
resources:
- name: hello
  type: greeter
  check_every: never
  source: {target: world}
jobs:
- name: uses
  plan:
  - get: hello
- name: greet
  plan:
  - task: in-greeter-image
    config:
      platform: linux
      image_resource:
        type: registry-image
        source: {repository: ${REPOSITORY}, tag: "2"}
      run: {path: /bin/true}
`;

let cluster: TestCluster;
let ts: TestServer;
let admin: string;
let imageDir: string;

/** A registry digest as registries name content: sha256 of random bytes. */
function freshDigest(): string {
  return `sha256:${createHash('sha256').update(randomBytes(32)).digest('hex')}`;
}

/** What the stand-in registry-image check prints next: `digests` as versions, oldest first. */
async function registryHas(digests: string[]): Promise<void> {
  await writeFile(
    path.join(imageDir, 'opt', 'resource', 'versions.json'),
    JSON.stringify(digests.map((digest) => ({ digest }))),
  );
}

async function finished(buildId: number): Promise<string> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const build = (await call(`${ts.url}/api/v1/builds/${buildId}`, admin)).json<{ status: string }>();
    if (build.status !== 'started' && build.status !== 'pending') return build.status;
    if (Date.now() > deadline) throw new Error(`build ${buildId} did not finish`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function errorsOf(buildId: number): Promise<string> {
  await finished(buildId);
  const { events } = await readBuildEvents(ts.url, admin, buildId);
  return events
    .filter((event) => event.event === 'error')
    .map((event) => String(event.data['message']))
    .join('\n');
}

async function checkType(): Promise<void> {
  const check = await call(
    pipelineUrl(ts.url, 'main', PIPELINE, '/resource-types/greeter/check'),
    admin,
    'POST',
    {
      from: null,
    },
  );
  expect(check.status).toBe(201);
  const buildId = check.json<{ id: number }>().id;
  expect(await finished(buildId)).toBe('succeeded');
}

async function checkHello(): Promise<string> {
  const check = await call(pipelineUrl(ts.url, 'main', PIPELINE, '/resources/hello/check'), admin, 'POST', {
    from: null,
  });
  expect(check.status).toBe(201);
  return errorsOf(check.json<{ id: number }>().id);
}

describeIf(`image versions on --runtime kubernetes${skip ? ` [skipped: ${skip}]` : ''}`, () => {
  beforeAll(async () => {
    imageDir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-registry-image-'));
    await mkdir(path.join(imageDir, 'opt', 'resource'), { recursive: true });
    const check = path.join(imageDir, 'opt', 'resource', 'check');
    await writeFile(check, '#!/bin/sh\ncat > /dev/null\ncat /opt/resource/versions.json\n');
    await chmod(check, 0o755);
    cluster = await startTestCluster('ci', { images: { 'concourse/registry-image-resource': imageDir } });
    cluster.server.faults.failImagePulls({ image: new RegExp(`^${REPOSITORY.replaceAll('.', '\\.')}[:@]`) });
    ts = await startTestServer({ env: cluster.env('pvc') });
    admin = await loginToken(ts.url, ADMIN);
    await setPipeline(ts.url, admin, 'main', PIPELINE, YAML);
    expect((await call(pipelineUrl(ts.url, 'main', PIPELINE, '/unpause'), admin, 'PUT')).status).toBe(200);
  });

  afterAll(async () => {
    await ts?.destroy();
    await cluster?.close();
    if (imageDir !== undefined) await rm(imageDir, { recursive: true, force: true });
  });

  it('runs a custom type’s steps at the digest of its latest checked version', async () => {
    const [older, latest] = [freshDigest(), freshDigest()];
    await registryHas([older as string, latest as string]);
    await checkType();
    expect(await checkHello()).toContain(`Failed to pull image "${REPOSITORY}@${latest}"`);

    // A newer version checked later is what the next step runs.
    const newer = freshDigest();
    await registryHas([latest as string, newer]);
    await checkType();
    const errors = await checkHello();
    expect(errors).toContain(`Failed to pull image "${REPOSITORY}@${newer}"`);
    expect(errors).not.toContain(':2"');
  });

  it('runs a task’s image_resource at the latest version checked for the same source', async () => {
    const latest = freshDigest();
    await registryHas([latest]);
    await checkType();
    const triggered = await call(pipelineUrl(ts.url, 'main', PIPELINE, '/jobs/greet/builds'), admin, 'POST');
    expect(triggered.status).toBe(200);
    expect(await errorsOf(triggered.json<{ id: number }>().id)).toContain(
      `Failed to pull image "${REPOSITORY}@${latest}"`,
    );
  });
});
