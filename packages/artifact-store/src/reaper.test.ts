import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdir, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { ownerKey, type Artifact, type ArtifactOwner } from './artifact.js';
import { InMemoryArtifactRegistry } from './in-memory-registry.js';
import { ArtifactReaper, type ReapResult } from './reaper.js';
import { ArtifactStore } from './store.js';
import { buildTar, exists, makeTempDirectory } from './test-fixtures.js';

const HOUR_AGO = () => new Date(Date.now() - 60 * 60 * 1000 - 1000);

let temp: { path: string; cleanup: () => Promise<void> };
let root: string;
let registry: InMemoryArtifactRegistry;
let store: ArtifactStore;
let ownerChecks: string[];

beforeEach(async () => {
  temp = await makeTempDirectory('reaper');
  root = path.join(temp.path, 'artifacts');
  ownerChecks = [];
  registry = new InMemoryArtifactRegistry({
    isOwnerAlive: (owner) => {
      ownerChecks.push(ownerKey(owner));
      return true;
    },
  });
  store = new ArtifactStore({ root, registry });
});

afterEach(async () => {
  await temp.cleanup();
});

describe('ArtifactReaper', () => {
  it("removes artifacts of owners that are gone, keeps live owners' ones, asking once per owner", async () => {
    const finishedBuild: ArtifactOwner = { kind: 'build', buildId: 1 };
    const runningBuild: ArtifactOwner = { kind: 'build', buildId: 2 };
    const finishedStep: ArtifactOwner = { kind: 'step', buildId: 1, stepName: 'test' };
    const dead1 = await store.allocate({ handle: 'dead-1', owner: finishedBuild, teamName: 'main' });
    const dead2 = await store.allocate({ handle: 'dead-2', owner: finishedBuild, teamName: 'main' });
    const deadStep = await store.allocate({ handle: 'dead-step', owner: finishedStep, teamName: 'main' });
    await writeFile(path.join(dead1.path, 'output.txt'), 'x');
    const live = await store.allocate({ handle: 'live', owner: runningBuild, teamName: 'main' });
    const liveStep = await store.allocate({
      handle: 'live-step',
      owner: { kind: 'step', buildId: 2, stepName: 'test' },
      teamName: 'main',
    });
    registry.retireOwner(finishedBuild);
    registry.retireOwner(finishedStep);

    const result = await new ArtifactReaper(store).reapOnce();

    expect(result.removed.map((a) => a.handle).sort()).toEqual(['dead-1', 'dead-2', 'dead-step']);
    expect(result.failures).toEqual([]);
    expect(await store.list()).toEqual([live, liveStep]);
    expect(registry.handles()).toEqual(['live', 'live-step']);
    for (const gone of [dead1, dead2, deadStep]) expect(await exists(gone.path)).toBe(false);
    // Retired owners are answered without the predicate; the two live owners were asked once each.
    expect(ownerChecks.sort()).toEqual([ownerKey(runningBuild), ownerKey(liveStep.owner)].sort());

    const again = await new ArtifactReaper(store).reapOnce();
    expect(again.removed).toEqual([]);
  });

  it('expires uploads after the upload TTL (12 hours by default) even while their team exists', async () => {
    const old = await store.allocate({
      handle: 'old-upload',
      owner: { kind: 'upload', teamName: 'main' },
      teamName: 'main',
    });
    await store.allocate({
      handle: 'new-upload',
      owner: { kind: 'upload', teamName: 'main' },
      teamName: 'main',
    });
    await store.allocate({
      handle: 'old-build-output',
      owner: { kind: 'build', buildId: 5 },
      teamName: 'main',
    });
    // Age two artifacts by rewriting their recorded creation time, as if written 13 hours ago.
    for (const handle of ['old-upload', 'old-build-output']) {
      const metadataFile = path.join(root, 'meta', `${handle}.json`);
      const metadata = JSON.parse(await readFile(metadataFile, 'utf8')) as { createdAt: string };
      metadata.createdAt = new Date(Date.now() - 13 * 60 * 60 * 1000).toISOString();
      await writeFile(metadataFile, JSON.stringify(metadata));
    }

    const result = await new ArtifactReaper(store).reapOnce();

    expect(result.removed.map((a) => a.handle)).toEqual([old.handle]);
    expect((await store.list()).map((a) => a.handle).sort()).toEqual(['new-upload', 'old-build-output']);
    const keepForever = await new ArtifactReaper(store, { uploadTtlMs: Infinity }).reapOnce();
    expect(keepForever.removed).toEqual([]);
  });

  it('keeps artifacts whose owner cannot be checked, reporting the failure', async () => {
    const flaky = new InMemoryArtifactRegistry({
      isOwnerAlive: () => {
        throw new Error('database down');
      },
    });
    const flakyStore = new ArtifactStore({ root, registry: flaky });
    await flakyStore.allocate({ handle: 'kept', owner: { kind: 'build', buildId: 9 }, teamName: 'main' });

    const result = await new ArtifactReaper(flakyStore).reapOnce();

    expect(result.removed).toEqual([]);
    expect(result.failures).toEqual([{ handle: 'kept', error: new Error('database down') }]);
    expect((await flakyStore.list()).map((a) => a.handle)).toEqual(['kept']);
  });

  it('lets a registry that decides per artifact own the policy: no owner checks, no upload TTL', async () => {
    /** Keeps exactly the handles it is told to, like a database registry that knows each artifact's use. */
    class PerArtifactRegistry extends InMemoryArtifactRegistry {
      readonly asked: string[][] = [];
      constructor(private readonly wanted: Set<string> | Error) {
        super({ isOwnerAlive: () => false });
      }
      async liveHandles(artifacts: readonly Artifact[]): Promise<ReadonlySet<string>> {
        this.asked.push(artifacts.map((a) => a.handle).sort());
        if (this.wanted instanceof Error) throw this.wanted;
        return this.wanted;
      }
    }
    const upload = { kind: 'upload', teamName: 'main' } as const;
    const step = { kind: 'step', buildId: 1, stepName: 'task' } as const;
    const perArtifact = new PerArtifactRegistry(new Set(['old-upload-in-use', 'registered-output']));
    const perArtifactStore = new ArtifactStore({ root, registry: perArtifact });
    await perArtifactStore.allocate({ handle: 'old-upload-in-use', owner: upload, teamName: 'main' });
    await perArtifactStore.allocate({ handle: 'registered-output', owner: step, teamName: 'main' });
    await perArtifactStore.allocate({ handle: 'scratch-output', owner: step, teamName: 'main' });

    // An upload TTL of zero would expire every upload; the registry's answer wins.
    const result = await new ArtifactReaper(perArtifactStore, { uploadTtlMs: 0 }).reapOnce();

    expect(perArtifact.asked).toEqual([['old-upload-in-use', 'registered-output', 'scratch-output']]);
    expect(result.removed.map((a) => a.handle)).toEqual(['scratch-output']);
    expect((await perArtifactStore.list()).map((a) => a.handle).sort()).toEqual([
      'old-upload-in-use',
      'registered-output',
    ]);

    const failing = new PerArtifactRegistry(new Error('database down'));
    const failingStore = new ArtifactStore({ root, registry: failing });
    const failed = await new ArtifactReaper(failingStore).reapOnce();
    expect(failed.removed).toEqual([]);
    expect(failed.failures.map((f) => f.handle).sort()).toEqual(['old-upload-in-use', 'registered-output']);
  });

  it('removes crash leftovers older than the grace period, and only those', async () => {
    const complete = await store.allocate({
      handle: 'complete',
      owner: { kind: 'build', buildId: 1 },
      teamName: 'main',
    });
    await utimes(complete.path, HOUR_AGO(), HOUR_AGO());
    // A half-written upload from a crashed process: data, no metadata.
    const leftover = path.join(root, 'data', 'half-written');
    await mkdir(path.join(leftover, 'deep'), { recursive: true });
    await writeFile(path.join(leftover, 'deep', 'part.bin'), 'partial');
    await utimes(leftover, HOUR_AGO(), HOUR_AGO());
    // Another one, just started by another process: too young to touch.
    const young = path.join(root, 'data', 'in-progress-elsewhere');
    await mkdir(young);
    // A metadata write interrupted before its rename, and an interrupted delete.
    const tempMeta = path.join(root, 'meta', '.crashed.1234.tmp');
    await writeFile(tempMeta, '{');
    await utimes(tempMeta, HOUR_AGO(), HOUR_AGO());
    const trash = path.join(root, 'trash', 'deleted.5678');
    await mkdir(trash);
    await utimes(trash, HOUR_AGO(), HOUR_AGO());

    const result = await new ArtifactReaper(store, { strayGracePeriodMs: 60 * 60 * 1000 }).reapOnce();

    expect(result.removed).toEqual([]);
    expect(result.strays.sort()).toEqual([
      'data/half-written',
      'meta/.crashed.1234.tmp',
      'trash/deleted.5678',
    ]);
    expect((await readdir(path.join(root, 'data'))).sort()).toEqual(['complete', 'in-progress-elsewhere']);
    expect(await store.list()).toEqual([complete]);
  });

  it('never sweeps an upload this process is still extracting', async () => {
    const body = new PassThrough();
    const tar = await buildTar([{ name: 'slow.bin', content: Buffer.alloc(100_000, 1) }]);
    const allocation = store.allocateFromTar(
      { handle: 'slow', owner: { kind: 'upload', teamName: 'main' }, teamName: 'main' },
      body,
    );
    body.write(tar.subarray(0, 10_000));
    await waitFor(() => exists(path.join(root, 'data', 'slow', 'slow.bin')));

    const result = await new ArtifactReaper(store, { strayGracePeriodMs: 0 }).reapOnce();
    expect(result.strays).toEqual([]);

    body.end(tar.subarray(10_000));
    const artifact = await allocation;
    expect(await store.list()).toEqual([artifact]);
  });

  it('reaps in the background until stopped', async () => {
    const owner: ArtifactOwner = { kind: 'build', buildId: 77 };
    await store.allocate({ handle: 'background', owner, teamName: 'main' });
    const passes: ReapResult[] = [];
    const reaper = new ArtifactReaper(store, { onPass: (result) => passes.push(result) });
    reaper.start(10);
    try {
      registry.retireOwner(owner);
      await waitFor(async () => passes.some((pass) => pass.removed.some((a) => a.handle === 'background')));
      expect(await store.lookup('background')).toBeUndefined();
    } finally {
      await reaper.stop();
    }
    const owner2: ArtifactOwner = { kind: 'build', buildId: 78 };
    await store.allocate({ handle: 'after-stop', owner: owner2, teamName: 'main' });
    registry.retireOwner(owner2);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await store.list()).map((a) => a.handle)).toEqual(['after-stop']);
  });
});

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
