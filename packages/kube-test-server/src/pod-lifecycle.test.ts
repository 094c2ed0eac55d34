import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import WebSocket from 'ws';
import { startKubeTestServer, type KubeTestServer } from './index.js';
import type { Pod } from './api/types.js';

let server: KubeTestServer;
let core: CoreV1Api;
const namespace = 'lifecycle';

beforeAll(async () => {
  server = await startKubeTestServer({ nodeName: 'node-a' });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(server.kubeConfigYaml(namespace));
  core = kubeConfig.makeApiClient(CoreV1Api);
});

afterAll(async () => {
  await server.close();
});

/** Runs `sh -c script` in a pod over the exec WebSocket (v5) and resolves with its stdout. */
async function execScript(pod: string, script: string): Promise<string> {
  const query = new URLSearchParams({ stdout: 'true', stderr: 'true' });
  for (const part of ['sh', '-c', script]) query.append('command', part);
  const socket = new WebSocket(
    `${server.url.replace(/^http/, 'ws')}/api/v1/namespaces/${namespace}/pods/${pod}/exec?${query.toString()}`,
    ['v5.channel.k8s.io'],
    { headers: { authorization: 'Bearer kube-test-server' } },
  );
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    socket.on('message', (data: Buffer) => {
      if (data[0] === 1) chunks.push(data.subarray(1));
      if (data[0] === 3) resolve();
    });
    socket.on('error', reject);
    socket.on('close', () => resolve());
  });
  socket.close();
  return Buffer.concat(chunks).toString('utf8');
}

/** Whether `pid` runs (a zombie does not: only its parent, here the host's init, can reap it). */
async function isRunning(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

const finished = (pod: Pod): boolean => pod.status.phase === 'Succeeded' || pod.status.phase === 'Failed';

async function podLog(name: string, container: string): Promise<string> {
  const response = await fetch(
    `${server.url}/api/v1/namespaces/${namespace}/pods/${name}/log?container=${container}`,
    {
      headers: { authorization: 'Bearer kube-test-server' },
    },
  );
  return response.text();
}

describe('pod lifecycle', () => {
  it('runs init containers in order before the main container, sharing an emptyDir at its real path', async () => {
    const pod: V1Pod = {
      metadata: { name: 'init-copy', labels: { app: 'lifecycle' } },
      spec: {
        restartPolicy: 'Never',
        volumes: [{ name: 'workspace', emptyDir: {} }],
        initContainers: [
          {
            name: 'fetch',
            image: 'busybox',
            command: [
              'sh',
              '-c',
              'echo "from init" > /workspace/x/input.txt && date +%s%N > /workspace/x/order-1',
            ],
            volumeMounts: [{ name: 'workspace', mountPath: '/workspace/x' }],
          },
          {
            name: 'second',
            image: 'busybox',
            command: [
              'sh',
              '-c',
              'test -f /workspace/x/order-1 && cp /workspace/x/input.txt /workspace/x/copied.txt',
            ],
            volumeMounts: [{ name: 'workspace', mountPath: '/workspace/x' }],
          },
        ],
        containers: [
          {
            name: 'main',
            image: 'busybox',
            workingDir: '/workspace/x',
            command: ['sh', '-c', 'cat copied.txt; pwd; hostname; echo "$MY_POD/$MY_NODE"'],
            env: [
              { name: 'MY_POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              { name: 'MY_NODE', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
            ],
            volumeMounts: [{ name: 'workspace', mountPath: '/workspace/x' }],
          },
        ],
      },
    };
    const created = await core.createNamespacedPod({ namespace, body: pod });
    expect(created.status?.phase).toBe('Pending');
    expect(created.metadata?.uid).toBeTruthy();

    const done = await server.waitForPod(namespace, 'init-copy', finished);
    expect(done.status.phase).toBe('Succeeded');
    expect(done.spec.nodeName).toBe('node-a');
    expect(done.status.initContainerStatuses?.map((status) => status.state.terminated?.reason)).toEqual([
      'Completed',
      'Completed',
    ]);
    expect(done.status.containerStatuses?.[0]?.state.terminated?.exitCode).toBe(0);
    expect(done.status.conditions?.find((condition) => condition.type === 'Initialized')?.status).toBe(
      'True',
    );
    expect(await podLog('init-copy', 'main')).toBe('from init\n/workspace/x\ninit-copy\ninit-copy/node-a\n');

    // The same pod through the typed client: what JetBridge's runtime will read.
    const read = await core.readNamespacedPod({ namespace, name: 'init-copy' });
    expect(read.status?.phase).toBe('Succeeded');
    expect(read.status?.containerStatuses?.[0]?.state?.terminated?.reason).toBe('Completed');

    const events = await core.listNamespacedEvent({
      namespace,
      fieldSelector: 'involvedObject.name=init-copy',
    });
    const reasons = events.items.map((event) => event.reason);
    expect(reasons[0]).toBe('Scheduled');
    expect(reasons.filter((reason) => reason === 'Started')).toHaveLength(3);
  });

  it('goes Pending → Running → Failed with the exit code of a failing container, and lists with selectors', async () => {
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'fails', labels: { app: 'lifecycle', outcome: 'bad' } },
        spec: {
          restartPolicy: 'Never',
          containers: [{ name: 'main', image: 'x', command: ['sh', '-c', 'sleep 0.3; exit 7'] }],
        },
      },
    });
    const running = await server.waitForPod(namespace, 'fails', (pod) => pod.status.phase === 'Running');
    expect(running.status.containerStatuses?.[0]?.state.running).toBeDefined();
    expect(running.status.conditions?.find((condition) => condition.type === 'Ready')?.status).toBe('True');
    const failed = await server.waitForPod(namespace, 'fails', finished);
    expect(failed.status.phase).toBe('Failed');
    expect(failed.status.containerStatuses?.[0]?.state.terminated).toMatchObject({
      exitCode: 7,
      reason: 'Error',
    });

    const bad = await core.listNamespacedPod({ namespace, labelSelector: 'app=lifecycle,outcome in (bad)' });
    expect(bad.items.map((pod) => pod.metadata?.name)).toEqual(['fails']);
    const byPhase = await core.listNamespacedPod({ namespace, fieldSelector: 'status.phase=Failed' });
    expect(byPhase.items.map((pod) => pod.metadata?.name)).toEqual(['fails']);
  });

  it('fails the pod when an init container fails, without starting the main container', async () => {
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'init-fails' },
        spec: {
          restartPolicy: 'Never',
          initContainers: [{ name: 'broken', image: 'x', command: ['sh', '-c', 'exit 3'] }],
          containers: [{ name: 'main', image: 'x', command: ['sh', '-c', 'echo should-not-run'] }],
        },
      },
    });
    const pod = await server.waitForPod(namespace, 'init-fails', finished);
    expect(pod.status.phase).toBe('Failed');
    expect(pod.status.initContainerStatuses?.[0]?.state.terminated?.exitCode).toBe(3);
    expect(pod.status.containerStatuses?.[0]?.state.waiting?.reason).toBe('PodInitializing');
  });

  it('waits Pending for a missing PVC, then mounts it (and a subPath) once the claim exists', async () => {
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'uses-claim' },
        spec: {
          restartPolicy: 'Never',
          volumes: [{ name: 'artifacts', persistentVolumeClaim: { claimName: 'artifacts' } }],
          containers: [
            {
              name: 'main',
              image: 'x',
              command: [
                'sh',
                '-c',
                'cat /input/seed.txt > /output/result.txt && echo written >> /output/result.txt',
              ],
              volumeMounts: [
                { name: 'artifacts', mountPath: '/input', subPath: 'artifacts/in', readOnly: true },
                { name: 'artifacts', mountPath: '/output', subPath: 'artifacts/out' },
              ],
            },
          ],
        },
      },
    });
    const pending = await server.waitForPod(namespace, 'uses-claim', (pod) =>
      (pod.status.conditions ?? []).some((condition) => condition.reason === 'Unschedulable'),
    );
    expect(pending.status.phase).toBe('Pending');
    expect(pending.status.conditions?.find((c) => c.type === 'PodScheduled')?.message).toContain(
      'persistentvolumeclaim "artifacts" not found',
    );

    await core.createNamespacedPersistentVolumeClaim({
      namespace,
      body: {
        metadata: { name: 'artifacts' },
        spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '1Gi' } } },
      },
    });
    // Seed the input the way a previous step would have left it on the shared volume.
    await mkdir(path.join(server.claimDir(namespace, 'artifacts'), 'artifacts', 'in'), { recursive: true });
    await writeFile(
      path.join(server.claimDir(namespace, 'artifacts'), 'artifacts', 'in', 'seed.txt'),
      'seed\n',
    );

    const done = await server.waitForPod(namespace, 'uses-claim', finished);
    expect(done.status.phase).toBe('Succeeded');
    expect(
      await readFile(
        path.join(server.claimDir(namespace, 'artifacts'), 'artifacts', 'out', 'result.txt'),
        'utf8',
      ),
    ).toBe('seed\nwritten\n');
  });

  it('reports a container running only once its command runs in its root: an exec right away finds its mounts', async () => {
    const names = Array.from({ length: 12 }, (_, index) => `exec-at-once-${index}`);
    const answers = await Promise.all(
      names.map(async (name) => {
        await core.createNamespacedPod({
          namespace,
          body: {
            metadata: { name },
            spec: {
              volumes: [{ name: 'marker', emptyDir: {} }],
              containers: [
                {
                  name: 'main',
                  image: 'x',
                  command: ['sleep', '300'],
                  volumeMounts: [{ name: 'marker', mountPath: '/only-in-the-container' }],
                },
              ],
            },
          },
        });
        await server.waitForPod(namespace, name, (pod) => pod.status.phase === 'Running');
        return execScript(name, 'test -d /only-in-the-container && echo inside');
      }),
    );
    expect(answers).toEqual(names.map(() => 'inside\n'));
    await Promise.all(
      names.map((name) => core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 })),
    );
  });

  it('mounts read-only volumes read-only', async () => {
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'read-only' },
        spec: {
          restartPolicy: 'Never',
          volumes: [{ name: 'data', emptyDir: {} }],
          containers: [
            {
              name: 'main',
              image: 'x',
              command: ['sh', '-c', 'touch /data/file'],
              volumeMounts: [{ name: 'data', mountPath: '/data', readOnly: true }],
            },
          ],
        },
      },
    });
    const pod = await server.waitForPod(namespace, 'read-only', finished);
    expect(pod.status.phase).toBe('Failed');
    expect(await podLog('read-only', 'main')).toContain('Read-only file system');
  });

  it('rejects invalid pods with 422 and duplicates with 409', async () => {
    const post = (body: unknown): Promise<Response> =>
      fetch(`${server.url}/api/v1/namespaces/${namespace}/pods`, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      });
    const missingVolume = await post({
      metadata: { name: 'bad-mount' },
      spec: { containers: [{ name: 'main', volumeMounts: [{ name: 'nope', mountPath: '/x' }] }] },
    });
    expect(missingVolume.status).toBe(422);
    expect(((await missingVolume.json()) as { reason: string }).reason).toBe('Invalid');
    const duplicate = await post({
      metadata: { name: 'init-copy' },
      spec: { containers: [{ name: 'main' }] },
    });
    expect(duplicate.status).toBe(409);
  });
});

describe('deletion, eviction and scheduling faults', () => {
  it('deletes a running pod gracefully: deletionTimestamp first, processes killed, then gone', async () => {
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'to-delete' },
        spec: { containers: [{ name: 'main', image: 'x', command: ['sleep', '300'] }] },
      },
    });
    const running = await server.waitForPod(namespace, 'to-delete', (pod) => pod.status.phase === 'Running');
    const pid = Number(running.status.containerStatuses?.[0]?.containerID?.split('/').pop());
    expect(() => process.kill(pid, 0)).not.toThrow();

    const deleted = await core.deleteNamespacedPod({ namespace, name: 'to-delete', gracePeriodSeconds: 5 });
    expect(deleted.metadata?.deletionTimestamp).toBeDefined();
    const deadline = Date.now() + 10_000;
    while (server.pod(namespace, 'to-delete') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(server.pod(namespace, 'to-delete')).toBeUndefined();
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('kills exec-started processes that left their process group when the pod goes, as the cgroup would', async () => {
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'escapee' },
        spec: { containers: [{ name: 'main', image: 'x', command: ['sleep', '300'] }] },
      },
    });
    await server.waitForPod(namespace, 'escapee', (pod) => pod.status.phase === 'Running');
    const stdout = await execScript('escapee', 'setsid sleep 301 </dev/null >/dev/null 2>&1 & echo $!');
    const escaped = Number(stdout.trim());
    expect(await isRunning(escaped)).toBe(true);
    await core.deleteNamespacedPod({ namespace, name: 'escapee', gracePeriodSeconds: 5 });
    const deadline = Date.now() + 10_000;
    while (server.pod(namespace, 'escapee') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    const gone = Date.now() + 5_000;
    while ((await isRunning(escaped)) && Date.now() < gone) await new Promise((r) => setTimeout(r, 50));
    expect(await isRunning(escaped)).toBe(false);
  });

  it('closes the pipes of an exec whose connection is cut: the process reads end of file and runs on', async () => {
    const created = await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'cut-exec' },
        spec: {
          volumes: [{ name: 'vol', emptyDir: {} }],
          containers: [
            {
              name: 'main',
              image: 'x',
              command: ['sleep', '300'],
              volumeMounts: [{ name: 'vol', mountPath: '/vol' }],
            },
          ],
        },
      },
    });
    await server.waitForPod(namespace, 'cut-exec', (pod) => pod.status.phase === 'Running');
    server.faults.dropExecSockets({ afterBytes: 3 });
    const query = new URLSearchParams({ stdin: 'true', stdout: 'true', stderr: 'true' });
    for (const part of ['sh', '-c', 'echo started; cat > /dev/null; echo eof > /vol/eof'])
      query.append('command', part);
    const socket = new WebSocket(
      `${server.url.replace(/^http/, 'ws')}/api/v1/namespaces/${namespace}/pods/cut-exec/exec?${query.toString()}`,
      ['v5.channel.k8s.io'],
      { headers: { authorization: 'Bearer kube-test-server' } },
    );
    await new Promise<void>((resolve) => {
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
    });
    const marker = path.join(server.stateDir, 'pods', created.metadata?.uid ?? '', 'volumes', 'vol', 'eof');
    const deadline = Date.now() + 5_000;
    let content = '';
    while (Date.now() < deadline && content === '') {
      content = await readFile(marker, 'utf8').catch(() => '');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(content).toBe('eof\n');
    expect(server.execSessions().at(-1)?.state).toBe('dropped');
    await core.deleteNamespacedPod({ namespace, name: 'cut-exec', gracePeriodSeconds: 0 });
  });

  it('evicts a pod: Failed with reason Evicted, processes gone, object kept', async () => {
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'evictee' },
        spec: { containers: [{ name: 'main', image: 'x', command: ['sleep', '300'] }] },
      },
    });
    await server.waitForPod(namespace, 'evictee', (pod) => pod.status.phase === 'Running');
    server.faults.evictPod(namespace, 'evictee');
    const evicted = await server.waitForPod(namespace, 'evictee', finished);
    expect(evicted.status).toMatchObject({ phase: 'Failed', reason: 'Evicted' });
    expect(evicted.status.message).toContain('low on resource');
    expect(evicted.status.containerStatuses?.[0]?.state.terminated?.exitCode).toBe(137);
  });

  it('fails image pulls on demand: the container waits with the reason, the pod stays Pending until deleted', async () => {
    const restore = server.faults.failImagePulls({ image: /^registry\.example\/missing/ });
    try {
      await core.createNamespacedPod({
        namespace,
        body: {
          metadata: { name: 'unpullable' },
          spec: { containers: [{ name: 'main', image: 'registry.example/missing:1', command: ['true'] }] },
        },
      });
      const waiting = await server.waitForPod(
        namespace,
        'unpullable',
        (pod) => pod.status.containerStatuses?.[0]?.state.waiting?.reason === 'ErrImagePull',
      );
      expect(waiting.status.phase).toBe('Pending');
      expect(waiting.status.containerStatuses?.[0]?.state.waiting?.message).toContain('not found');
      const events = await core.listNamespacedEvent({
        namespace,
        fieldSelector: 'involvedObject.name=unpullable',
      });
      expect(events.items.map((event) => event.reason)).toContain('Failed');
      await core.deleteNamespacedPod({ namespace, name: 'unpullable' });
      const deadline = Date.now() + 10_000;
      while (server.pod(namespace, 'unpullable') && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      expect(server.pod(namespace, 'unpullable')).toBeUndefined();
    } finally {
      restore();
    }
  });

  it('keeps pods Pending (Unschedulable, with the message) until released', async () => {
    const release = server.faults.holdPending({
      namespace,
      name: /^held-/,
      message: '0/1 nodes are available: 1 Insufficient memory.',
    });
    await core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name: 'held-1' },
        spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'x', command: ['true'] }] },
      },
    });
    const held = await server.waitForPod(namespace, 'held-1', (pod) =>
      (pod.status.conditions ?? []).some((condition) => condition.reason === 'Unschedulable'),
    );
    expect(held.spec.nodeName).toBeUndefined();
    expect(held.status.conditions?.[0]?.message).toBe('0/1 nodes are available: 1 Insufficient memory.');
    const events = await core.listNamespacedEvent({
      namespace,
      fieldSelector: 'involvedObject.name=held-1,reason=FailedScheduling',
    });
    expect(events.items).toHaveLength(1);
    release();
    const done = await server.waitForPod(namespace, 'held-1', finished);
    expect(done.status.phase).toBe('Succeeded');
    expect(done.spec.nodeName).toBe('node-a');
  });

  it('fails the next N requests on a route with 500, then recovers', async () => {
    const route = `/api/v1/namespaces/${namespace}/pods`;
    server.faults.failNextRequests({ method: 'GET', path: route, count: 2 });
    await expect(core.listNamespacedPod({ namespace })).rejects.toMatchObject({ code: 500 });
    await expect(core.listNamespacedPod({ namespace })).rejects.toMatchObject({ code: 500 });
    const list = await core.listNamespacedPod({ namespace });
    expect(list.items.length).toBeGreaterThan(0);
    expect(
      server.requests().filter((request) => request.path === route && request.status === 500),
    ).toHaveLength(2);
  });
});
