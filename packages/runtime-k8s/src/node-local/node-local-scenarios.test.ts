import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createServer, Socket as NetSocket, type Server, type Socket } from 'node:net';
import { PassThrough, type Readable } from 'node:stream';
import type { ContainerSpec, ProcessIO, Volume } from '@jetbridge/runtime';
import type { K8sContainer, K8sWorker } from '../index.js';
import { helperBuild } from '../test-environment.js';
import { NodeLocalArtifacts, type InputFetchReport } from './node-local-artifacts.js';
import { startNodeLocalEnvironment, type NodeLocalEnvironment } from './test-environment.js';

const build = helperBuild;
const namespace = 'node-local-scenarios';
let env: NodeLocalEnvironment;

/** A step pinned to `node` through a placement tag (the operator's nodeSelector), or placed freely. */
function spec(mounts: ContainerSpec['mounts'], node?: string): ContainerSpec {
  return {
    handle: `nl-${randomUUID()}`,
    env: {},
    mounts,
    metadata: {
      type: 'task',
      teamName: 'main',
      stepName: 'step',
      buildId: 1,
      pipelineName: 'p',
      jobName: 'j',
    },
    ...(node ? { tags: [node] } : {}),
  };
}

const placement = Object.fromEntries(
  ['node-a', 'node-b', 'node-c'].map((node) => [node, { nodeSelector: { 'kubernetes.io/hostname': node } }]),
);

async function sh(container: K8sContainer, script: string): Promise<{ status: number; stdout: string }> {
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  const io: ProcessIO = { stdout, stderr: process.stderr };
  const status = await (await container.run({ path: 'sh', args: ['-c', script] }, io)).wait();
  return { status, stdout: Buffer.concat(chunks).toString('utf8') };
}

async function podNode(container: K8sContainer): Promise<string> {
  return env.server.pod(namespace, container.podName)?.spec.nodeName ?? '';
}

async function inputReport(container: K8sContainer): Promise<InputFetchReport> {
  const response = await fetch(
    `${env.server.url}/api/v1/namespaces/${namespace}/pods/${container.podName}/log?container=jetbridge-init`,
    { headers: { authorization: 'Bearer kube-test-server' } },
  );
  const report = NodeLocalArtifacts.inputReport(await response.text());
  if (!report) throw new Error('the init container printed no report');
  return report;
}

/** A step on `node` that writes `bytes` random bytes (and a marker) into a fresh output; returns the volume. */
async function produce(worker: K8sWorker, node: string, kib = 64): Promise<{ volume: Volume; sum: string }> {
  const volume = await worker.createVolume({ owner: { kind: 'build', buildId: 1 }, teamName: 'main' });
  const container = (await worker.createContainer(spec([{ volume, path: 'out' }], node))) as K8sContainer;
  expect(await podNode(container)).toBe(node);
  const made = await sh(
    container,
    `head -c ${kib * 1024} /dev/urandom > out/blob && echo made-on-$HOSTNAME > out/marker && md5sum out/blob | cut -d' ' -f1`,
  );
  expect(made.status).toBe(0);
  await container.destroy();
  return { volume, sum: made.stdout.trim() };
}

async function consume(
  worker: K8sWorker,
  volume: Volume,
  node?: string,
): Promise<{ container: K8sContainer; sum: string }> {
  const container = (await worker.createContainer(
    spec([{ volume, path: 'in', readOnly: true }], node),
  )) as K8sContainer;
  const read = await sh(container, 'md5sum in/blob | cut -d" " -f1');
  expect(read.status).toBe(0);
  return { container, sum: read.stdout.trim() };
}

/** A TCP proxy to a daemon that cuts its first connection carrying more than `cutAfter` response bytes. */
function cuttingProxy(
  target: () => number,
  cutAfter: number,
  onCut: () => Promise<void>,
): Promise<{ server: Server; port: number; cuts: () => number }> {
  let cuts = 0;
  const server = createServer((client: Socket) => {
    const upstream = new NetSocket();
    let sent = 0;
    upstream.connect(target(), '127.0.0.1');
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      sent += chunk.length;
      if (cuts === 0 && sent > cutAfter) {
        cuts++;
        client.destroy();
        upstream.destroy();
        void onCut();
        return;
      }
      client.write(chunk);
    });
    upstream.on('end', () => client.end());
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, port: (server.address() as { port: number }).port, cuts: () => cuts }),
    ),
  );
}

if ('skip' in build) {
  describe('node-local artifacts on a simulated 3-node cluster', () => {
    it.skip(build.skip, () => undefined);
  });
} else {
  beforeAll(async () => {
    env = await startNodeLocalEnvironment(namespace, build.path);
  });
  afterAll(async () => {
    await env?.close();
  });

  describe('node-local artifacts on a simulated 3-node cluster', () => {
    it("a consumer placed freely lands on the producer's node and copies locally; one forced elsewhere fetches from the peer daemon", async () => {
      const worker = await env.newWorker({}, { placement });
      const { volume, sum } = await produce(worker, 'node-b', 256);

      const near = await consume(worker, volume);
      expect(await podNode(near.container)).toBe('node-b'); // the soft affinity to the node holding the input
      expect(near.sum).toBe(sum);
      const nearReport = await inputReport(near.container);
      expect(nearReport.inputs).toEqual([
        expect.objectContaining({ handle: volume.handle, how: 'local', node: 'node-b' }),
      ]);
      const affinity = env.server.pod(namespace, near.container.podName)?.spec.affinity as {
        nodeAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: { weight: number; preference: unknown }[];
        };
      };
      expect(affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]).toEqual({
        weight: 100,
        preference: {
          matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['node-b'] }],
        },
      });

      const far = await consume(worker, volume, 'node-c');
      expect(await podNode(far.container)).toBe('node-c');
      expect(far.sum).toBe(sum);
      const farReport = await inputReport(far.container);
      expect(farReport.inputs).toEqual([
        expect.objectContaining({ handle: volume.handle, how: 'fetched', node: 'node-b', attempts: 1 }),
      ]);
      expect(farReport.inputs[0]?.bytes).toBeGreaterThan(256 * 1024);
      await Promise.all([near.container.destroy(), far.container.destroy()]);
      // the worker keeps what it holds from the daemons' TTL sweep
      expect(
        await (worker as unknown as { nodeLocal: NodeLocalArtifacts }).nodeLocal.renewLeases(),
      ).toBeGreaterThanOrEqual(1);
      await volume.destroy();
      await worker.close();
    });

    it('streams uploads to a daemon and downloads from one, as fly execute -i/-o and load_var do', async () => {
      const worker = await env.newWorker({}, { placement });
      const upload = await worker.createVolume({
        owner: { kind: 'upload', teamName: 'main' },
        teamName: 'main',
      });
      const { createTarStream } = await import('@jetbridge/artifact-store');
      const { mkdtemp, writeFile, rm } = await import('node:fs/promises');
      const dir = await mkdtemp('/tmp/nl-upload-');
      await writeFile(`${dir}/vars.yml`, 'answer: 42\n');
      await upload.streamIn('.', await createTarStream(dir, '.'));
      expect(await holdersOf(upload.handle)).toHaveLength(1);
      const out = await readAll(await upload.streamOut('vars.yml'));
      expect(out.includes(Buffer.from('answer: 42'))).toBe(true);
      await rm(dir, { recursive: true, force: true });
      await upload.destroy();
      await worker.close();
    });

    it('a restarted web finds the artifacts where the daemons hold them', async () => {
      const first = await env.newWorker({}, { placement });
      const { volume, sum } = await produce(first, 'node-a');
      await first.disconnect();
      const second = await env.newWorker({}, { placement });
      const found = await second.lookupVolume(volume.handle);
      expect(found).toBeDefined();
      expect((await second.listVolumes()).find((each) => each.handle === volume.handle)).toMatchObject({
        teamName: 'main',
        owner: { kind: 'build', buildId: 1 },
        path: `node-a:/var/lib/jetbridge-artifacts/data/${volume.handle}`,
      });
      const again = await consume(second, found as Volume);
      expect(again.sum).toBe(sum);
      await again.container.destroy();
      await (found as Volume).destroy();
      await second.close();
    });

    it('the capability a step pod gets reads its own input and nothing else', async () => {
      const worker = await env.newWorker({}, { placement });
      const mine = await produce(worker, 'node-a');
      const other = await produce(worker, 'node-a');
      const container = (await worker.createContainer(
        spec([{ volume: mine.volume, path: 'in', readOnly: true }], 'node-b'),
      )) as K8sContainer;
      const args = env.server.pod(namespace, container.podName)?.spec.initContainers?.[0]?.command ?? [];
      const token = args
        .find((arg) => arg.startsWith(`--token=${mine.volume.handle}=`))
        ?.split('=')
        .slice(2)
        .join('=');
      expect(token).toBeDefined();
      const daemonUrl = `http://127.0.0.1:${env.port('node-a')}`;
      const read = (handle: string, method = 'GET') =>
        fetch(`${daemonUrl}/artifacts/${handle}`, { method, headers: { authorization: `Bearer ${token}` } });
      expect((await read(mine.volume.handle)).status).toBe(200);
      expect((await read(other.volume.handle)).status).toBe(403);
      expect((await read(mine.volume.handle, 'DELETE')).status).toBe(403);
      await container.destroy();
      await Promise.all([mine.volume.destroy(), other.volume.destroy()]);
      await worker.close();
    });

    it('a daemon restart mid-transfer: the helper fetches again from scratch, and the input is whole', async () => {
      let restarts = 0;
      const proxy = await cuttingProxy(
        () => env.port('node-a'),
        1 << 20,
        async () => {
          restarts++;
          await env.stopDaemon('node-a');
          await env.startDaemon('node-a');
        },
      );
      const config = env.workerConfig({}, { placement });
      const artifacts = config.artifacts as { daemons: Record<string, string> };
      artifacts.daemons['node-a'] = `http://127.0.0.1:${proxy.port}`;
      const { K8sWorker } = await import('../index.js');
      const worker = await K8sWorker.create(config);
      try {
        const { volume, sum } = await produce(worker, 'node-a', 8 * 1024);
        const far = await consume(worker, volume, 'node-b');
        expect(far.sum).toBe(sum);
        expect(proxy.cuts()).toBe(1);
        expect(restarts).toBe(1);
        const report = await inputReport(far.container);
        expect(report.inputs[0]).toMatchObject({ how: 'fetched', node: 'node-a' });
        expect(report.inputs[0]?.attempts).toBeGreaterThanOrEqual(2);
        await far.container.destroy();
        await volume.destroy();
      } finally {
        await worker.close();
        await new Promise<void>((resolve) => proxy.server.close(() => resolve()));
      }
    });

    it('a daemon that goes down mid-transfer and stays down: the step errors, saying which input and node', async () => {
      const proxy = await cuttingProxy(
        () => env.port('node-a'),
        1 << 20,
        () => env.stopDaemon('node-a'),
      );
      const config = env.workerConfig({ transferAttempts: 2 }, { placement });
      const artifacts = config.artifacts as { daemons: Record<string, string> };
      artifacts.daemons['node-a'] = `http://127.0.0.1:${proxy.port}`;
      const { K8sWorker } = await import('../index.js');
      const worker = await K8sWorker.create(config);
      try {
        const { volume } = await produce(worker, 'node-a', 4 * 1024);
        const failed = worker.createContainer(spec([{ volume, path: 'in', readOnly: true }], 'node-b'));
        await expect(failed).rejects.toThrow(
          new RegExp(`input ${volume.handle} could not be fetched: node node-a attempt 1: .*attempt 2: `),
        );
        await expect(failed).rejects.toThrow(/InitContainerFailed/);
      } finally {
        await worker.close();
        await new Promise<void>((resolve) => proxy.server.close(() => resolve()));
        await env.startDaemon('node-a');
      }
    });

    it('a node whose daemon is not ready (disk full) gets no step pods', async () => {
      await env.stopDaemon('node-c');
      await env.startDaemon('node-c', { minAvailableBytes: Number.MAX_SAFE_INTEGER });
      const worker = await env.newWorker();
      try {
        const containers = await Promise.all(
          [1, 2, 3].map(() => worker.createContainer(spec([])) as Promise<K8sContainer>),
        );
        for (const container of containers) {
          expect(await podNode(container)).not.toBe('node-c');
          const affinity = env.server.pod(namespace, container.podName)?.spec.affinity as {
            nodeAffinity: {
              requiredDuringSchedulingIgnoredDuringExecution: {
                nodeSelectorTerms: { matchExpressions: { values: string[] }[] }[];
              };
            };
          };
          expect(
            affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]
              ?.matchExpressions[0]?.values,
          ).toEqual(['node-a', 'node-b']);
        }
        await Promise.all(containers.map((container) => container.destroy()));
      } finally {
        await worker.close();
        await env.stopDaemon('node-c');
        await env.startDaemon('node-c');
      }
    });

    it('node loss without mirrors: the consumer errors saying the artifact only lived on the lost node', async () => {
      const worker = await env.newWorker({}, { placement });
      const { volume } = await produce(worker, 'node-c');
      await env.loseNode('node-c');
      await expect(worker.createContainer(spec([{ volume, path: 'in', readOnly: true }]))).rejects.toThrow(
        /artifact .* only lived on node node-c, which is gone/,
      );
      await expect(volume.streamOut('.')).rejects.toThrow(/only lived on node node-c, which is gone/);
      await worker.close();
    });

    it('node loss with a mirror: the artifact is read from the mirror', async () => {
      const worker = await env.newWorker(
        { mirror: { replicas: 1 } },
        { placement: { 'node-a': placement['node-a'] as never, 'node-b': placement['node-b'] as never } },
      );
      const { volume, sum } = await produce(worker, 'node-a');
      expect(await holdersOf(volume.handle)).toEqual(['node-a', 'node-b']); // node-c was lost in the test before
      await env.loseNode('node-a');
      const survivor = await consume(worker, volume);
      expect(await podNode(survivor.container)).toBe('node-b');
      expect(survivor.sum).toBe(sum);
      expect((await inputReport(survivor.container)).inputs[0]).toMatchObject({
        how: 'local',
        node: 'node-b',
      });
      await survivor.container.destroy();
      await worker.close();
    });
  });
}

/** The nodes whose daemon holds the artifact. */
async function holdersOf(handle: string): Promise<string[]> {
  const holders: string[] = [];
  for (const [node, daemon] of env.daemons) if (await daemon.store.lookup(handle)) holders.push(node);
  return holders.sort();
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
