import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startKubeTestServer, type KubeTestServer } from './index.js';
import type { Pod } from './api/types.js';

// `images`: a host directory stands in for an image's own files, laid over the host's root in its containers
// (how web tests give step pods a resource type's /opt/resource without a registry).
let server: KubeTestServer;
let layer: string;
const namespace = 'images';

beforeAll(async () => {
  layer = await mkdtemp(path.join(os.tmpdir(), 'kube-test-image-'));
  await mkdir(path.join(layer, 'opt', 'tool'), { recursive: true });
  await writeFile(path.join(layer, 'opt', 'tool', 'hello'), 'from the image layer\n');
  server = await startKubeTestServer({ images: { 'example/tool': layer } });
});

afterAll(async () => {
  await server?.close();
  if (layer) await rm(layer, { recursive: true, force: true });
});

async function runPod(name: string, image: string): Promise<string> {
  const response = await fetch(`${server.url}/api/v1/namespaces/${namespace}/pods`, {
    method: 'POST',
    headers: { authorization: 'Bearer kube-test-server', 'content-type': 'application/json' },
    body: JSON.stringify({
      metadata: { name },
      spec: {
        restartPolicy: 'Never',
        containers: [
          {
            name: 'main',
            image,
            command: ['sh', '-c', 'cat /opt/tool/hello 2>&1 || echo missing; ls /bin/sh'],
          },
        ],
      },
    }),
  });
  expect(response.status).toBe(201);
  await server.waitForPod(namespace, name, (pod: Pod) => pod.status.phase === 'Succeeded');
  const log = await fetch(`${server.url}/api/v1/namespaces/${namespace}/pods/${name}/log?container=main`, {
    headers: { authorization: 'Bearer kube-test-server' },
  });
  return log.text();
}

describe('image layers', () => {
  it("lays the image's directory over the host's root, matched by repository whatever the tag or digest", async () => {
    expect(await runPod('tagged', 'example/tool:1.2')).toBe('from the image layer\n/bin/sh\n');
    expect(await runPod('digest', 'example/tool@sha256:0123')).toBe('from the image layer\n/bin/sh\n');
  });

  it('leaves other images as the host filesystem alone', async () => {
    expect(await runPod('other', 'busybox')).toMatch(/missing\n\/bin\/sh\n$/);
  });
});
