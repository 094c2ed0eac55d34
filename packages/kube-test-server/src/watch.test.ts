import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig, Watch } from '@kubernetes/client-node';
import { startKubeTestServer, type KubeTestServer } from './index.js';

interface WatchLine {
  type: string;
  object: {
    kind?: string;
    code?: number;
    reason?: string;
    metadata: { name?: string; resourceVersion?: string; labels?: Record<string, string> };
    status?: { phase?: string };
  };
}

let server: KubeTestServer;
const namespace = 'watching';

beforeAll(async () => {
  server = await startKubeTestServer();
});

afterAll(async () => {
  await server.close();
});

async function createPod(
  target: KubeTestServer,
  name: string,
  command: string[],
  labels: Record<string, string> = {},
): Promise<void> {
  const response = await fetch(`${target.url}/api/v1/namespaces/${namespace}/pods`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      metadata: { name, labels },
      spec: { restartPolicy: 'Never', containers: [{ name: 'main', image: 'x', command }] },
    }),
  });
  expect(response.status).toBe(201);
}

async function listResourceVersion(target: KubeTestServer): Promise<string> {
  const response = await fetch(`${target.url}/api/v1/namespaces/${namespace}/pods`);
  const list = (await response.json()) as { metadata: { resourceVersion: string } };
  return list.metadata.resourceVersion;
}

/** Reads a raw watch stream line by line until `until` holds or the server ends it. */
async function readWatch(
  target: KubeTestServer,
  query: string,
  until: (lines: WatchLine[]) => boolean,
  onOpen?: () => void,
): Promise<{ lines: WatchLine[]; endedByServer: boolean }> {
  const controller = new AbortController();
  const response = await fetch(`${target.url}/api/v1/namespaces/${namespace}/pods?watch=true&${query}`, {
    signal: controller.signal,
  });
  expect(response.status).toBe(200);
  onOpen?.();
  const lines: WatchLine[] = [];
  const decoder = new TextDecoder();
  let pending = '';
  const reader = response.body?.getReader();
  if (!reader) throw new Error('no body');
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return { lines, endedByServer: true };
    pending += decoder.decode(value, { stream: true });
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    for (const part of parts) if (part.trim() !== '') lines.push(JSON.parse(part) as WatchLine);
    if (until(lines)) {
      controller.abort();
      await reader.cancel().catch(() => undefined);
      return { lines, endedByServer: false };
    }
  }
}

describe('watch', () => {
  it('replays every change after a resourceVersion, in order, then follows live changes', async () => {
    const before = await listResourceVersion(server);
    await createPod(server, 'replayed', ['sh', '-c', 'sleep 0.2']);
    const { lines } = await readWatch(server, `resourceVersion=${before}`, (seen) =>
      seen.some((line) => line.object.status?.phase === 'Succeeded'),
    );
    expect(lines[0]).toMatchObject({
      type: 'ADDED',
      object: { kind: 'Pod', metadata: { name: 'replayed' }, status: { phase: 'Pending' } },
    });
    expect(lines.slice(1).every((line) => line.type === 'MODIFIED')).toBe(true);
    const versions = lines.map((line) => Number(line.object.metadata.resourceVersion));
    expect(versions).toEqual([...versions].sort((a, b) => a - b));
    expect(versions[0]).toBeGreaterThan(Number(before));
    const phases = lines.map((line) => line.object.status?.phase);
    expect(phases).toContain('Running');
    expect(phases.at(-1)).toBe('Succeeded');
  });

  it('starts with synthetic ADDED events for existing objects when no resourceVersion is given', async () => {
    const { lines } = await readWatch(
      server,
      'fieldSelector=metadata.name%3Dreplayed',
      (seen) => seen.length >= 1,
    );
    expect(lines[0]).toMatchObject({
      type: 'ADDED',
      object: { metadata: { name: 'replayed' }, status: { phase: 'Succeeded' } },
    });
  });

  it('answers 410 Expired (an ERROR event) for a resourceVersion older than the retained history', async () => {
    const old = await listResourceVersion(server);
    await createPod(server, 'after-old', ['true']);
    await server.waitForPod(namespace, 'after-old', (pod) => pod.status.phase === 'Succeeded');
    server.faults.compactHistory();
    const { lines, endedByServer } = await readWatch(server, `resourceVersion=${old}`, () => false);
    expect(endedByServer).toBe(true);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      type: 'ERROR',
      object: { kind: 'Status', code: 410, reason: 'Expired' },
    });

    // A current resourceVersion still works after the compaction.
    const current = await listResourceVersion(server);
    await createPod(server, 'after-compaction', ['true']);
    const fresh = await readWatch(server, `resourceVersion=${current}`, (seen) => seen.length >= 1);
    expect(fresh.lines[0]).toMatchObject({
      type: 'ADDED',
      object: { metadata: { name: 'after-compaction' } },
    });
  });

  it('forgets history beyond historyLimit', async () => {
    const small = await startKubeTestServer({ historyLimit: 3 });
    try {
      const old = await listResourceVersion(small);
      await createPod(small, 'busy', ['true']);
      await small.waitForPod(namespace, 'busy', (pod) => pod.status.phase === 'Succeeded');
      const { lines } = await readWatch(small, `resourceVersion=${old}`, () => false);
      expect(lines[0]).toMatchObject({ type: 'ERROR', object: { code: 410 } });
    } finally {
      await small.close();
    }
  });

  it('sends 410 on an open watch (expireWatches) and ends it', async () => {
    const current = await listResourceVersion(server);
    const { lines, endedByServer } = await readWatch(
      server,
      `resourceVersion=${current}`,
      () => false,
      () => {
        setTimeout(() => server.faults.expireWatches(), 100);
      },
    );
    expect(endedByServer).toBe(true);
    expect(lines.at(-1)).toMatchObject({ type: 'ERROR', object: { code: 410 } });
  });

  it('ends open watches silently (endWatchesSilently), which client-node reports as a clean end', async () => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(server.kubeConfigYaml(namespace));
    const ended = new Promise<unknown>((resolve) => {
      void new Watch(kubeConfig).watch(
        `/api/v1/namespaces/${namespace}/pods`,
        { resourceVersion: '0' },
        () => undefined,
        (error) => resolve(error ?? 'clean'),
      );
    });
    const deadline = Date.now() + 5000;
    while (server.openWatchCount() === 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(server.faults.endWatchesSilently()).toBeGreaterThanOrEqual(1);
    expect(await ended).toBe('clean');
  });

  it('reports an object leaving a label selector as DELETED for that watcher', async () => {
    await createPod(server, 'labelled', ['sleep', '30'], { tier: 'watched' });
    await server.waitForPod(namespace, 'labelled', (pod) => pod.status.phase === 'Running');
    const current = await listResourceVersion(server);
    const { lines } = await readWatch(
      server,
      `resourceVersion=${current}&labelSelector=tier%3Dwatched`,
      (seen) => seen.some((line) => line.type === 'DELETED'),
      () => {
        void fetch(`${server.url}/api/v1/namespaces/${namespace}/pods/labelled`, {
          method: 'PATCH',
          headers: { 'content-type': 'application/merge-patch+json' },
          body: JSON.stringify({ metadata: { labels: { tier: null } } }),
        });
      },
    );
    expect(lines.at(-1)).toMatchObject({ type: 'DELETED', object: { metadata: { name: 'labelled' } } });
    expect(lines.at(-1)?.object.metadata.labels?.tier).toBeUndefined();
  });
});
