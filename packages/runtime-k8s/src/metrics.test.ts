import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { Registry } from 'prom-client';
import { makeTar } from '@jetbridge/runtime/conformance';
import type { Container, ContainerSpec, Mount, Volume } from '@jetbridge/runtime';
import type { K8sWorker } from './index.js';
import { helperBuild, startTestEnvironment, type TestEnvironment } from './test-environment.js';

// The input copy metrics of pvc mode, read from the init container's copy report of real (test-server) pods.

const build = helperBuild;
const suite = 'skip' in build ? describe.skip : describe;
if ('skip' in build) {
  const why = build.skip;
  describe('input copy metrics', () => it.skip(why, () => undefined));
}

suite('input copy metrics (pvc mode)', () => {
  let env: TestEnvironment;
  let worker: K8sWorker;
  const registry = new Registry();
  const containers: Container[] = [];

  beforeAll(async () => {
    if ('skip' in build) return;
    env = await startTestEnvironment('copy-metrics', build.path);
    worker = await env.newWorker({ metrics: registry });
  });
  afterAll(async () => {
    await Promise.allSettled(containers.map((container) => container.destroy()));
    await worker?.close();
    await env?.close();
  });

  async function copyBytes(): Promise<{ sum: number; count: number }> {
    const text = (await registry.getSingleMetricAsString('jetbridge_k8s_artifact_copy_bytes')) ?? '';
    const value = (suffix: string) =>
      Number(new RegExp(`_${suffix} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
    return { sum: value('sum'), count: value('count') };
  }

  async function volumeOf(bytes: number): Promise<Volume> {
    const volume = await worker.createVolume({ owner: { kind: 'build', buildId: 1 }, teamName: 'main' });
    if (bytes > 0) await volume.streamIn('.', makeTar([{ name: 'data.bin', content: 'x'.repeat(bytes) }]));
    return volume;
  }

  async function podWith(mounts: Mount[]): Promise<void> {
    const spec: ContainerSpec = {
      handle: `copy-${randomUUID()}`,
      env: {},
      mounts,
      metadata: { type: 'task', teamName: 'main', stepName: 'copy' },
    };
    containers.push(await worker.createContainer(spec));
  }

  it('counts the bytes of a non-empty input, and no copy for a pod that copied nothing', async () => {
    // Only an output: the init container copies nothing.
    await podWith([{ volume: await volumeOf(0), path: 'out' }]);
    // A 6000-byte input and a 1000-byte one, copied by one init container.
    await podWith([
      { volume: await volumeOf(6000), path: 'in', readOnly: true },
      { volume: await volumeOf(1000), path: '/opt/other', readOnly: true },
    ]);
    const deadline = Date.now() + 10_000;
    while (!((await copyBytes()).count >= 1) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // Reports are read in the background: give the output-only pod's (had it counted) time to land too.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await copyBytes()).toEqual({ sum: 7000, count: 1 });
  });
});
