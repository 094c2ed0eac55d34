import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Plan, TypeImage } from '@jetbridge/plan';
import type { Container, ContainerSpec, Worker } from '@jetbridge/runtime';
import { ContainerResourceTypeResolver, ResourceTypeImageError } from './container-resource-types.js';
import { run, startWorld, type TestWorld } from './test-fixtures.js';

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
          version: { digest: 'sha256:abc' },
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
      digest: 'sha256:abc',
    });
    expect(spec.privileged).toBeUndefined();
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
            version: { digest: 'sha256:feed' },
          },
          run: { path: 'go', args: ['test'] },
        },
      },
    });
    expect(spec.image).toEqual({
      kind: 'registry',
      repository: 'golang',
      tag: '1.23',
      digest: 'sha256:feed',
    });
    expect(spec.metadata).toMatchObject({ type: 'task', stepName: 'unit' });
  });
});
