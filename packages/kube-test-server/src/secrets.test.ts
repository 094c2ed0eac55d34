import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { startKubeTestServer, type KubeTestServer } from './index.js';

// Secrets through the real client library: base64 data, stringData merged in on writes, 404s a client
// recognises, replace and delete.
let server: KubeTestServer;
let core: CoreV1Api;

beforeAll(async () => {
  server = await startKubeTestServer();
  const config = new KubeConfig();
  config.loadFromString(server.kubeConfigYaml());
  core = config.makeApiClient(CoreV1Api);
});
afterAll(async () => {
  await server?.close();
});

describe('secrets', () => {
  it('creates from data and stringData, reads, lists by namespace, replaces and deletes', async () => {
    const created = await core.createNamespacedSecret({
      namespace: 'concourse-main',
      body: {
        metadata: { name: 'pipe.token', labels: { app: 'x' } },
        data: { value: Buffer.from('s3cret').toString('base64') },
        stringData: { user: 'bot' },
      },
    });
    expect(created.type).toBe('Opaque');
    expect(Object.keys(created.data ?? {}).sort()).toEqual(['user', 'value']);
    const read = await core.readNamespacedSecret({ namespace: 'concourse-main', name: 'pipe.token' });
    expect(Buffer.from(read.data?.['value'] ?? '', 'base64').toString()).toBe('s3cret');
    expect(Buffer.from(read.data?.['user'] ?? '', 'base64').toString()).toBe('bot');
    expect(read.stringData).toBeUndefined();

    await core.createNamespacedSecret({ namespace: 'other', body: { metadata: { name: 'elsewhere' } } });
    const listed = await core.listNamespacedSecret({ namespace: 'concourse-main' });
    expect(listed.items.map((item) => item.metadata?.name)).toEqual(['pipe.token']);

    await core.replaceNamespacedSecret({
      namespace: 'concourse-main',
      name: 'pipe.token',
      body: { metadata: { name: 'pipe.token' }, stringData: { value: 'rotated' } },
    });
    const replaced = await core.readNamespacedSecret({ namespace: 'concourse-main', name: 'pipe.token' });
    expect(Buffer.from(replaced.data?.['value'] ?? '', 'base64').toString()).toBe('rotated');

    await core.deleteNamespacedSecret({ namespace: 'concourse-main', name: 'pipe.token' });
    await expect(
      core.readNamespacedSecret({ namespace: 'concourse-main', name: 'pipe.token' }),
    ).rejects.toMatchObject({ code: 404 });
  });

  it('refuses duplicates and data that is not base64', async () => {
    await core.createNamespacedSecret({ namespace: 'dup', body: { metadata: { name: 'a' } } });
    await expect(
      core.createNamespacedSecret({ namespace: 'dup', body: { metadata: { name: 'a' } } }),
    ).rejects.toMatchObject({ code: 409 });
    await expect(
      core.createNamespacedSecret({
        namespace: 'dup',
        body: { metadata: { name: 'b' }, data: { value: 'not base64!' } },
      }),
    ).rejects.toMatchObject({ code: 422 });
  });
});
