import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { makeTestCertificates } from '@jetbridge/artifact-daemon/testing';
import type { ContainerSpec } from '@jetbridge/runtime';
import type { K8sContainer } from '../index.js';
import { helperBuild } from '../test-environment.js';
import { NodeLocalArtifacts } from './node-local-artifacts.js';
import { startNodeLocalEnvironment, type NodeLocalEnvironment } from './test-environment.js';

const namespace = 'node-local-tls';
let env: NodeLocalEnvironment;
let certDir: string;

function spec(mounts: ContainerSpec['mounts'], node: string): ContainerSpec {
  return {
    handle: `tls-${randomUUID()}`,
    env: {},
    mounts,
    metadata: { type: 'task', teamName: 'main', stepName: 'step', buildId: 1 },
    tags: [node],
  };
}

const placement = Object.fromEntries(
  ['node-a', 'node-b', 'node-c'].map((node) => [node, { nodeSelector: { 'kubernetes.io/hostname': node } }]),
);

async function sh(container: K8sContainer, script: string): Promise<string> {
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  const status = await (await container.run({ path: 'sh', args: ['-c', script] }, { stdout })).wait();
  expect(status).toBe(0);
  return Buffer.concat(chunks).toString('utf8');
}

if ('skip' in helperBuild) {
  describe('node-local artifacts over TLS', () => {
    it.skip((helperBuild as { skip: string }).skip, () => undefined);
  });
} else {
  const helperPath = helperBuild.path;
  beforeAll(async () => {
    // Not below /tmp: every container gets a fresh /tmp, but sees the rest of the host (as it sees the helper).
    const cache = path.join(os.homedir(), '.cache', 'jetbridge');
    await mkdir(cache, { recursive: true });
    certDir = await mkdtemp(path.join(cache, 'node-local-tls-'));
    env = await startNodeLocalEnvironment(namespace, helperPath, await makeTestCertificates(certDir));
  });
  afterAll(async () => {
    await env?.close();
    await rm(certDir, { recursive: true, force: true });
  });

  describe('node-local artifacts over TLS', () => {
    it('the web and the helper talk to the daemons over https, trusting the configured CA', async () => {
      const worker = await env.newWorker({}, { placement });
      const volume = await worker.createVolume({ owner: { kind: 'build', buildId: 1 }, teamName: 'main' });
      const producer = (await worker.createContainer(
        spec([{ volume, path: 'out' }], 'node-a'),
      )) as K8sContainer;
      await sh(producer, 'echo secret-sauce > out/file');
      await producer.destroy();
      const consumer = (await worker.createContainer(
        spec([{ volume, path: 'in', readOnly: true }], 'node-c'),
      )) as K8sContainer;
      expect(await sh(consumer, 'cat in/file')).toBe('secret-sauce\n');
      const log = await (
        await fetch(
          `${env.server.url}/api/v1/namespaces/${namespace}/pods/${consumer.podName}/log?container=jetbridge-init`,
          {
            headers: { authorization: 'Bearer kube-test-server' },
          },
        )
      ).text();
      expect(NodeLocalArtifacts.inputReport(log)?.inputs[0]).toMatchObject({
        how: 'fetched',
        node: 'node-a',
      });
      const pod = env.server.pod(namespace, consumer.podName);
      const args = pod?.spec.initContainers?.[0]?.command ?? [];
      expect(args).toContain(`--ca=${path.join(certDir, 'ca.crt')}`);
      expect(args.some((arg) => arg.includes('https://127.0.0.1:'))).toBe(true);
      await consumer.destroy();
      await volume.destroy();
      await worker.close();
    });
  });
}
