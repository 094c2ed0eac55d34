import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import type { Artifact, ArtifactOwner } from './artifact.js';
import {
  ArtifactExistsError,
  ArtifactNotFoundError,
  ArtifactTooLargeError,
  CorruptArchiveError,
  InvalidArtifactPathError,
  InvalidArtifactSpecError,
  UnsafeArchiveError,
} from './errors.js';
import { InMemoryArtifactRegistry } from './in-memory-registry.js';
import type { ArtifactRegistry } from './registry.js';
import { ArtifactStore } from './store.js';
import { createTarStream } from './tar-create.js';
import { buildTar, describeTree, exists, listTar, makeTempDirectory, streamOf } from './test-fixtures.js';

const upload: ArtifactOwner = { kind: 'upload', teamName: 'main' };

/** Records what the artifact directory held at the moment `register` was called. */
class SnapshottingRegistry extends InMemoryArtifactRegistry {
  readonly contentsAtRegister = new Map<string, string[]>();

  override async register(artifact: Artifact): Promise<void> {
    this.contentsAtRegister.set(
      artifact.handle,
      (await describeTree(artifact.path)).map((node) => node.path),
    );
    await super.register(artifact);
  }
}

let temp: { path: string; cleanup: () => Promise<void> };
let root: string;
let registry: SnapshottingRegistry;
let store: ArtifactStore;

beforeEach(async () => {
  temp = await makeTempDirectory('store');
  root = path.join(temp.path, 'artifacts');
  registry = new SnapshottingRegistry();
  store = new ArtifactStore({ root, registry });
});

afterEach(async () => {
  await temp.cleanup();
});

/** Nothing at all is left of any artifact: no data, no metadata, nothing registered. */
async function expectEmptyStore(): Promise<void> {
  expect(await store.list()).toEqual([]);
  expect(registry.handles()).toEqual([]);
  expect(await readdir(path.join(root, 'data'))).toEqual([]);
  expect(await readdir(path.join(root, 'meta'))).toEqual([]);
}

describe('ArtifactStore', () => {
  it('allocates an empty artifact directory with a generated handle, registers it, and finds it again', async () => {
    const artifact = await store.allocate({
      owner: { kind: 'step', buildId: 7, stepName: 'unit' },
      teamName: 'main',
    });

    expect(artifact.handle).toMatch(/^[0-9a-f-]{36}$/);
    expect(artifact.path).toBe(path.join(root, 'data', artifact.handle));
    expect(artifact).toMatchObject({
      owner: { kind: 'step', buildId: 7, stepName: 'unit' },
      teamName: 'main',
      type: 'artifact',
    });
    expect(await readdir(artifact.path)).toEqual([]);
    expect(registry.get(artifact.handle)).toEqual(artifact);
    expect(await store.lookup(artifact.handle)).toEqual(artifact);
    expect(await store.get(artifact.handle)).toEqual(artifact);
    expect(await store.list()).toEqual([artifact]);

    const second = await store.allocate({ owner: upload, teamName: 'main', type: 'task-cache' });
    expect(second.handle).not.toBe(artifact.handle);
    expect((await store.list()).map((a) => a.handle)).toEqual([artifact.handle, second.handle]);
  });

  it('keeps metadata out of the artifact: a tar of it holds only what was put in', async () => {
    const artifact = await store.allocate({ handle: 'out-1', owner: upload, teamName: 'main' });
    await writeFile(path.join(artifact.path, 'result.txt'), 'ok');
    const entries = await listTar(await createTarStream(artifact, '.'));
    expect(entries.map((entry) => entry.name)).toEqual(['./', 'result.txt']);
  });

  it('validates caller-chosen handles and refuses taken ones', async () => {
    for (const handle of ['../x', 'a/b', '.', '..', '', '.hidden', 'x'.repeat(129), 'with space']) {
      await expect(store.allocate({ handle, owner: upload, teamName: 'main' })).rejects.toThrow(
        InvalidArtifactPathError,
      );
    }
    await store.allocate({ handle: 'build-42_out.v1', owner: upload, teamName: 'main' });
    await expect(
      store.allocate({ handle: 'build-42_out.v1', owner: upload, teamName: 'main' }),
    ).rejects.toThrow(ArtifactExistsError);
    expect(await readdir(path.join(root, 'data'))).toEqual(['build-42_out.v1']);
  });

  it('validates owners, types and team names', async () => {
    const bad = [
      { owner: { kind: 'build', buildId: '7' }, teamName: 'main' },
      { owner: { kind: 'nobody' }, teamName: 'main' },
      { owner: upload, teamName: '' },
      { owner: upload, teamName: 'main', type: 'volume' },
    ];
    for (const spec of bad) {
      await expect(store.allocate(spec as never)).rejects.toThrow(InvalidArtifactSpecError);
    }
    await expectEmptyStore();
  });

  it('still lists every artifact after a restart (a new store on the same root)', async () => {
    const a = await store.allocate({ handle: 'a', owner: upload, teamName: 'main' });
    const b = await store.allocateFromTar(
      { handle: 'b', owner: { kind: 'build', buildId: 3 }, teamName: 'other', type: 'resource' },
      streamOf(gzipSync(await buildTar([{ name: 'f.txt', content: 'kept' }]))),
      { gzip: true },
    );

    const restarted = new ArtifactStore({ root });

    expect(await restarted.list()).toEqual([a, b]);
    expect(await restarted.lookup('b')).toEqual(b);
    expect(await readFile(path.join(b.path, 'f.txt'), 'utf8')).toBe('kept');
    expect((await restarted.lookup('b'))?.createdAt).toBeInstanceOf(Date);
  });

  it('removes an artifact idempotently, unregistering it and freeing the handle', async () => {
    const artifact = await store.allocate({ handle: 'gone-soon', owner: upload, teamName: 'main' });
    await writeFile(path.join(artifact.path, 'file'), 'x');

    expect(await store.remove('gone-soon')).toBe(true);
    expect(await store.remove('gone-soon')).toBe(false);
    expect(await store.remove('../not-a-handle')).toBe(false);

    expect(await exists(artifact.path)).toBe(false);
    expect(await store.lookup('gone-soon')).toBeUndefined();
    await expect(store.get('gone-soon')).rejects.toThrow(ArtifactNotFoundError);
    await expectEmptyStore();
    expect(await readdir(path.join(root, 'trash'))).toEqual([]);
    await store.allocate({ handle: 'gone-soon', owner: upload, teamName: 'main' });
  });

  it('allocates from a gzip tar, registering only once the content is complete', async () => {
    const tar = await buildTar([
      { name: 'ci/task.yml', content: 'platform: linux' },
      { name: 'ci/run.sh', content: 'echo', mode: 0o755 },
    ]);
    const artifact = await store.allocateFromTar(
      { owner: upload, teamName: 'main' },
      streamOf(gzipSync(tar)),
      {
        gzip: true,
      },
    );

    expect(registry.contentsAtRegister.get(artifact.handle)).toEqual(['ci', 'ci/run.sh', 'ci/task.yml']);
    expect(await store.list()).toEqual([artifact]);
  });

  it('leaves nothing behind for a truncated upload', async () => {
    const tar = await buildTar([
      { name: 'big.bin', content: Buffer.alloc(500_000, 3) },
      { name: 'after', content: 'x' },
    ]);
    const gz = gzipSync(tar, { level: 0 }); // stored, so half the stream is half the content
    const body = new PassThrough();
    const failure = store.allocateFromTar({ handle: 'cut', owner: upload, teamName: 'main' }, body, {
      gzip: true,
    });
    body.end(gz.subarray(0, gz.length / 2));

    await expect(failure).rejects.toThrow(CorruptArchiveError);
    await expectEmptyStore();
    expect(registry.contentsAtRegister.size).toBe(0);
  });

  it('leaves nothing behind for an unsafe upload, even after writing some of it', async () => {
    const tar = await buildTar([
      { name: 'fine/a.txt', content: 'a' },
      { name: 'fine/b.txt', content: 'b' },
      { name: '../../escape.txt', content: 'x' },
    ]);
    await expect(store.allocateFromTar({ owner: upload, teamName: 'main' }, streamOf(tar))).rejects.toThrow(
      UnsafeArchiveError,
    );
    await expectEmptyStore();
    expect(await exists(path.join(root, '..', 'escape.txt'))).toBe(false);
  });

  it("enforces the store's maxUploadBytes by default, and leaves nothing behind", async () => {
    const limited = new ArtifactStore({ root, registry, maxUploadBytes: 64 * 1024 });
    const tar = await buildTar([{ name: 'big.bin', content: Buffer.alloc(200 * 1024) }]);
    const failure = limited.allocateFromTar({ owner: upload, teamName: 'main' }, streamOf(gzipSync(tar)), {
      gzip: true,
    });
    await expect(failure).rejects.toThrow(ArtifactTooLargeError);
    await expectEmptyStore();
    // A per-call limit overrides the default.
    await limited.allocateFromTar({ owner: upload, teamName: 'main' }, streamOf(tar), {
      maxBytes: 1024 * 1024,
    });
    expect(await limited.list()).toHaveLength(1);
  });

  it('undoes an allocation the registry refuses', async () => {
    const refusing: ArtifactRegistry = {
      register: async () => {
        throw new Error('database unavailable');
      },
      unregister: async () => {},
      isOwnerAlive: async () => true,
    };
    const refused = new ArtifactStore({ root, registry: refusing });
    await expect(refused.allocate({ owner: upload, teamName: 'main' })).rejects.toThrow(
      'database unavailable',
    );
    const tar = await buildTar([{ name: 'x', content: 'x' }]);
    await expect(refused.allocateFromTar({ owner: upload, teamName: 'main' }, streamOf(tar))).rejects.toThrow(
      'database unavailable',
    );
    await expectEmptyStore();
  });

  it('ignores unreadable metadata instead of failing the listing', async () => {
    const good = await store.allocate({ handle: 'good', owner: upload, teamName: 'main' });
    await store.allocate({ handle: 'broken', owner: upload, teamName: 'main' });
    await writeFile(path.join(root, 'meta', 'broken.json'), '{"format":1,"handle":"broken"');
    expect(await store.list()).toEqual([good]);
    expect(await store.lookup('broken')).toBeUndefined();
  });
});
