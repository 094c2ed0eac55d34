import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHash } from 'node:crypto';
import type { Plan, TypeImage, Version } from '@jetbridge/plan';
import type { Container, ContainerSpec, Worker } from '@jetbridge/runtime';
import { ContainerResourceTypeResolver, ResourceTypeImageError } from './container-resource-types.js';
import type { ImageVersionLookup, ImageVersionQuery } from './image-versions.js';
import { run, startWorld, type TestWorld } from './test-fixtures.js';

/** A digest as a registry names content: sha256 of some bytes. */
function digestOf(content: string): string {
  return `sha256:${createHash('sha256').update(content).digest('hex')}`;
}

/** Version histories by type and source (what the web's checks save), recording what was asked. */
class CheckedVersions implements ImageVersionLookup {
  readonly queries: ImageVersionQuery[] = [];
  private readonly histories = new Map<string, Version[]>();
  private key(type: string, source: unknown): string {
    return JSON.stringify([type, source]);
  }
  saved(type: string, source: unknown, versions: Version[]): this {
    this.histories.set(this.key(type, source), versions);
    return this;
  }
  async latestVersion(query: ImageVersionQuery): Promise<Version | undefined> {
    this.queries.push(query);
    return this.histories.get(this.key(query.type, query.source))?.at(-1);
  }
}

// On a runtime with real containers a resource step runs /opt/resource/{check,in,out} in its type's image:
// the container spec the engine hands the worker carries that image (and `privileged` of a custom type).
// The worker here is the real local one behind a recorder that refuses to create the container, so the
// step ends right after the spec is known.
let world: TestWorld;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world.close();
});

/** A custom type's TypeImage as the planner makes it (atc ImageForType). */
const customType: TypeImage = {
  check_plan: {
    id: 'g/image-check',
    check: {
      name: 'my-type',
      type: 'registry-image',
      source: { repository: 'registry.example:5000/team/my-type', tag: '1.2' },
      image: { base_type: 'registry-image' },
      interval: '1m0s',
      resource_type: 'my-type',
    },
  },
  get_plan: {
    id: 'g/image-get',
    get: {
      name: 'my-type',
      type: 'registry-image',
      source: { repository: 'registry.example:5000/team/my-type', tag: '1.2' },
      image: { base_type: 'registry-image' },
      version_from: 'g/image-check',
      params: { format: 'oci' },
    },
  },
  base_type: 'registry-image',
  privileged: true,
};

class RecordingWorker {
  readonly specs: ContainerSpec[] = [];
  constructor(private readonly inner: Worker) {}
  get name(): string {
    return this.inner.name;
  }
  info = () => this.inner.info();
  lookupContainer = (handle: string) => this.inner.lookupContainer(handle);
  listContainers = () => this.inner.listContainers();
  createVolume: Worker['createVolume'] = (spec) => this.inner.createVolume(spec);
  lookupVolume = (handle: string) => this.inner.lookupVolume(handle);
  listVolumes = () => this.inner.listVolumes();
  close = async () => undefined;
  async createContainer(spec: ContainerSpec): Promise<Container> {
    this.specs.push(spec);
    throw new Error('recorded');
  }
}

async function specOf(plan: Plan, resolver = new ContainerResourceTypeResolver()): Promise<ContainerSpec> {
  const worker = new RecordingWorker(world.worker);
  const { outcome } = await run(world, plan, { worker, resourceTypes: resolver });
  expect(outcome).toBe('errored');
  expect(worker.specs).toHaveLength(1);
  return worker.specs[0] as ContainerSpec;
}

describe('ContainerResourceTypeResolver', () => {
  it('runs a custom type’s registry image, privileged as declared', async () => {
    const spec = await specOf({
      id: 'g',
      get: { name: 'thing', type: 'my-type', source: {}, image: customType, version: { v: '1' } },
    });
    expect(spec.image).toEqual({
      kind: 'registry',
      repository: 'registry.example:5000/team/my-type',
      tag: '1.2',
    });
    expect(spec.privileged).toBe(true);
    expect(spec.metadata).toMatchObject({ type: 'get', stepName: 'thing' });
  });

  it('pins a custom type by the digest of a fixed image version, and defaults the tag to latest', async () => {
    const getPlan = customType.get_plan as Extract<Plan, { get: unknown }>;
    const pinned: TypeImage = {
      get_plan: {
        id: 'c/image-get',
        get: {
          ...getPlan.get,
          source: { repository: 'example/my-type' },
          version: { digest: digestOf('abc') },
        },
      },
      base_type: 'registry-image',
    };
    const spec = await specOf({
      id: 'c',
      check: { name: 'thing', type: 'my-type', source: {}, image: pinned },
    });
    expect(spec.image).toEqual({
      kind: 'registry',
      repository: 'example/my-type',
      tag: 'latest',
      digest: digestOf('abc'),
    });
    expect(spec.privileged).toBeUndefined();
  });

  it('runs a custom type at the latest version its checks saved, its source’s vars resolved', async () => {
    const older = digestOf('v1');
    const latest = digestOf('v2');
    const source = { repository: 'registry.example:5000/team/my-type', tag: '1.2' };
    const versions = new CheckedVersions()
      .saved('registry-image', source, [{ digest: older }, { digest: latest }])
      .saved('registry-image', { repository: 'other/type' }, [{ digest: digestOf('other') }]);
    const withVar: TypeImage = {
      ...customType,
      get_plan: {
        id: 'g/image-get',
        get: {
          ...(customType.get_plan as Extract<Plan, { get: unknown }>).get,
          source: { repository: '((registry))/team/my-type', tag: '1.2' },
        },
      },
    };
    const worker = new RecordingWorker(world.worker);
    const { outcome } = await run(
      world,
      { id: 'g', get: { name: 'thing', type: 'my-type', source: {}, image: withVar, version: { v: '1' } } },
      {
        worker,
        resourceTypes: new ContainerResourceTypeResolver({ imageVersions: versions }),
        vars: {
          lookup: async (ref) => (ref.path === 'registry' ? { value: 'registry.example:5000' } : undefined),
        },
      },
    );
    expect(outcome).toBe('errored');
    expect(worker.specs[0]?.image).toEqual({ kind: 'registry', ...source, digest: latest });
    expect(versions.queries).toEqual([{ type: 'registry-image', source, resourceTypes: [] }]);
  });

  it('runs a type at its tag when no version was checked, and never asks when the version is fixed or the source pins a digest', async () => {
    const versions = new CheckedVersions();
    const resolver = new ContainerResourceTypeResolver({ imageVersions: versions });
    expect((await resolver.resolve('my-type', customType)).kind === 'image').toBe(true);
    expect(await resolver.resolve('my-type', customType)).toMatchObject({
      image: { repository: 'registry.example:5000/team/my-type', tag: '1.2' },
    });
    expect(versions.queries).toHaveLength(2);
    expect(await resolver.resolve('my-type', customType)).not.toHaveProperty('image.digest');

    const getPlan = (customType.get_plan as Extract<Plan, { get: unknown }>).get;
    const sourceDigest = digestOf('pinned in source');
    const pinnedSource: TypeImage = {
      get_plan: {
        id: 'x/image-get',
        get: { ...getPlan, source: { repository: 'example/t', digest: sourceDigest } },
      },
    };
    const fixed: TypeImage = {
      get_plan: { id: 'y/image-get', get: { ...getPlan, version: { digest: digestOf('fixed') } } },
    };
    const asked = versions.queries.length;
    expect(await resolver.resolve('t', pinnedSource)).toMatchObject({
      image: { repository: 'example/t', digest: sourceDigest },
    });
    expect(await resolver.resolve('t', fixed)).toMatchObject({ image: { digest: digestOf('fixed') } });
    expect(versions.queries).toHaveLength(asked);
  });

  it('keys a nested custom type’s history by the types it is built on', async () => {
    const versions = new CheckedVersions();
    const inner = { repository: 'example/inner' };
    const nested: TypeImage = {
      get_plan: {
        id: 'n/image-get',
        get: {
          name: 'outer',
          type: 'inner',
          source: { repository: 'example/outer' },
          image: {
            get_plan: {
              id: 'n/image-get/image-get',
              get: {
                name: 'inner',
                type: 'registry-image',
                source: inner,
                image: { base_type: 'registry-image' },
              },
            },
            base_type: 'registry-image',
          },
        },
      },
      base_type: 'registry-image',
    };
    await new ContainerResourceTypeResolver({ imageVersions: versions }).resolve('outer', nested);
    expect(versions.queries).toEqual([
      {
        type: 'inner',
        source: { repository: 'example/outer' },
        resourceTypes: [{ name: 'inner', type: 'registry-image', source: inner }],
      },
    ]);
  });

  it('errors a step whose type image version has a digest no registry would take', async () => {
    const versions = new CheckedVersions().saved('registry-image', { repository: 'example/t' }, [
      { digest: 'sha256:abc' },
    ]);
    const getPlan = (customType.get_plan as Extract<Plan, { get: unknown }>).get;
    const image: TypeImage = {
      get_plan: { id: 'b/image-get', get: { ...getPlan, source: { repository: 'example/t' } } },
    };
    const { outcome, sink } = await run(
      world,
      { id: 'g', get: { name: 'r', type: 't', source: {}, image, version: { v: '1' } } },
      { resourceTypes: new ContainerResourceTypeResolver({ imageVersions: versions }) },
    );
    expect(outcome).toBe('errored');
    expect(sink.errorsOf('g').join('\n')).toContain(
      "resource type 't': the checked version's digest 'sha256:abc' is not an image digest",
    );
  });

  it('runs a base type’s configured image, or concourse/<type>-resource', async () => {
    const resolver = new ContainerResourceTypeResolver({
      baseTypeImages: { git: 'mirror.example:5000/git-resource:1.17@sha256:def' },
      pullSecrets: ['registry-creds'],
    });
    expect(
      (
        await specOf(
          { id: 'p', put: { name: 'repo', type: 'git', source: {}, image: { base_type: 'git' } } },
          resolver,
        )
      ).image,
    ).toEqual({
      kind: 'registry',
      repository: 'mirror.example:5000/git-resource',
      tag: '1.17',
      digest: 'sha256:def',
      pullSecrets: ['registry-creds'],
    });
    expect(await new ContainerResourceTypeResolver().resolve('time', { base_type: 'time' })).toEqual({
      kind: 'image',
      image: { kind: 'registry', repository: 'concourse/time-resource' },
    });
  });

  it('errors a step whose custom type has no registry image', async () => {
    const noRepository: TypeImage = {
      get_plan: { id: 'x/image-get', get: { name: 't', type: 's3', source: { bucket: 'b' }, image: {} } },
    };
    await expect(new ContainerResourceTypeResolver().resolve('t', noRepository)).rejects.toThrow(
      ResourceTypeImageError,
    );
    const { outcome, sink } = await run(
      world,
      { id: 'g', get: { name: 'r', type: 't', source: {}, image: noRepository, version: { v: '1' } } },
      { resourceTypes: new ContainerResourceTypeResolver() },
    );
    expect(outcome).toBe('errored');
    expect(sink.errorsOf('g').join('\n')).toContain("resource type 't': its source has no 'repository'");
  });
});

describe('a task on a container runtime', () => {
  it('hands a task’s image_resource to the runtime as a registry image (tag, pinned digest)', async () => {
    const spec = await specOf({
      id: 't',
      task: {
        name: 'unit',
        privileged: false,
        hermetic: false,
        config: {
          platform: 'linux',
          image_resource: {
            name: '',
            type: 'registry-image',
            source: { repository: 'golang', tag: '1.23' },
            version: { digest: digestOf('feed') },
          },
          run: { path: 'go', args: ['test'] },
        },
      },
    });
    expect(spec.image).toEqual({
      kind: 'registry',
      repository: 'golang',
      tag: '1.23',
      digest: digestOf('feed'),
    });
    expect(spec.metadata).toMatchObject({ type: 'task', stepName: 'unit' });
  });

  const task = (image_resource: Record<string, unknown>): Plan => ({
    id: 't',
    task: {
      name: 'unit',
      privileged: false,
      hermetic: false,
      config: {
        platform: 'linux',
        image_resource: { name: '', type: 'registry-image', ...image_resource } as never,
        run: { path: 'go', args: ['test'] },
      },
    },
  });

  it('runs a task’s image_resource at the latest checked version, else its tag, else source.digest', async () => {
    const latest = digestOf('golang 1.23 latest');
    const source = { repository: 'golang', tag: '1.23' };
    const versions = new CheckedVersions().saved('registry-image', source, [
      { digest: digestOf('golang 1.23 older') },
      { digest: latest },
    ]);
    const resolver = new ContainerResourceTypeResolver({ imageVersions: versions });
    expect((await specOf(task({ source }), resolver)).image).toEqual({
      kind: 'registry',
      ...source,
      digest: latest,
    });
    expect((await specOf(task({ source: { repository: 'alpine' } }), resolver)).image).toEqual({
      kind: 'registry',
      repository: 'alpine',
    });
    const pinned = digestOf('pinned');
    expect(
      (await specOf(task({ source: { repository: 'alpine', digest: pinned } }), resolver)).image,
    ).toEqual({ kind: 'registry', repository: 'alpine', digest: pinned });
    // A `version:` wins over what was checked, and is not looked up.
    const asked = versions.queries.length;
    const fixed = digestOf('fixed');
    expect((await specOf(task({ source, version: { digest: fixed } }), resolver)).image).toMatchObject({
      digest: fixed,
    });
    expect(versions.queries).toHaveLength(asked);
  });

  it('errors a task whose image_resource version has a bad digest, naming it', async () => {
    const { outcome, sink } = await run(
      world,
      task({ source: { repository: 'golang' }, version: { digest: 'latest' } }),
      {
        resourceTypes: new ContainerResourceTypeResolver(),
      },
    );
    expect(outcome).toBe('errored');
    expect(sink.errorsOf('t')).toEqual([
      "image_resource: the version's digest 'latest' is not an image digest (expected 'sha256:' and 64 hex digits, or <algorithm>:<hex>)",
    ]);
  });
});
