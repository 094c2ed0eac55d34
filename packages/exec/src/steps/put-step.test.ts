import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Plan, PutPlan } from '@jetbridge/plan';
import type { FetchedVersion } from '../build-recorder.js';
import {
  addResourceType,
  run,
  shTask,
  startWorld,
  uploadArtifact,
  type TestWorld,
} from '../test-fixtures.js';

let world: TestWorld;
beforeAll(async () => {
  world = await startWorld();
  await uploadArtifact(world, 1, { 'version.txt': 'from-file', 'other.txt': 'x' });
  await uploadArtifact(world, 2, { 'b.txt': 'b' });
  // Shows which artifacts `out` sees, and its env.
  await addResourceType(world, 'lister', {
    out: [
      'ls "$1" | sort >&2',
      'echo "created_by=${BUILD_CREATED_BY:-none}" >&2',
      'echo \'{"version":{"n":"1"},"metadata":[{"name":"k","value":"v"}]}\'',
    ].join('\n'),
  });
  await addResourceType(world, 'broken', { out: 'echo nope >&2\nexit 2' });
});
afterAll(async () => {
  await world.close();
});

function put(id: string, name: string, type: string, body: Partial<PutPlan> = {}): Plan {
  return { id, put: { name, type, source: {}, image: {}, ...body } };
}

/** do[ artifact inputs src (upload 1) and more (upload 2), ...steps ] */
function withInputs(...steps: Plan[]): Plan {
  return {
    id: 'root',
    do: [
      { id: 'in1', artifact_input: { artifact_id: 1, name: 'src' } },
      { id: 'in2', artifact_input: { artifact_id: 2, name: 'more' } },
      ...steps,
    ],
  };
}

describe('put step', () => {
  it('creates the version `out` prints; finish-put carries it; the implicit get fetches it', async () => {
    const recorded: FetchedVersion[] = [];
    const { outcome, sink } = await run(
      world,
      {
        id: 'root',
        do: [
          put('p', 'res', 'mock', { resource: 'res', params: { version: 'v2' }, source: { log: 'hello' } }),
          { id: 'ig', get: { name: 'res', type: 'mock', source: {}, image: {}, version_from: 'p' } },
          shTask('t', 'cat res/version', { inputs: [{ name: 'res' }] }),
        ],
      },
      { onPutVersion: (result) => void recorded.push(result) },
    );

    expect(outcome).toBe('succeeded');
    const trail = sink.trail().filter((e) => !e.startsWith('log:'));
    expect(trail.slice(0, 4)).toEqual([
      'initialize-put:p',
      'selected-worker:p',
      'start-put:p',
      'finish-put:p',
    ]);
    expect(sink.events.find((e) => e.event === 'initialize-put')).toEqual({
      event: 'initialize-put',
      version: '2.0',
      data: { origin: { id: 'p' }, time: expect.any(Number) },
    });
    expect(sink.events.find((e) => e.event === 'start-put')?.version).toBe('1.0');
    // The mock prints `"metadata": null`: finish-put leaves metadata out.
    expect(sink.events.find((e) => e.event === 'finish-put')).toEqual({
      event: 'finish-put',
      version: '5.1',
      data: { origin: { id: 'p' }, time: expect.any(Number), exit_status: 0, version: { version: 'v2' } },
    });
    expect(sink.logOf('p', 'stderr')).toContain('pushing version: v2');
    expect(sink.logOf('p', 'stderr')).toContain('hello');
    expect(sink.logOf('t', 'stdout')).toBe('v2\n');
    expect(recorded).toEqual([
      {
        planId: 'p',
        name: 'res',
        resourceName: 'res',
        type: 'mock',
        source: { log: 'hello' },
        version: { version: 'v2' },
        metadata: [],
      },
    ]);
  });

  it('mounts the artifacts detected in params by default, reading files relative to its argument', async () => {
    const { outcome, sink } = await run(
      world,
      withInputs(put('p', 'res', 'mock', { params: { file: 'src/version.txt' } })),
    );
    expect(outcome).toBe('succeeded');
    expect(sink.events.find((e) => e.event === 'finish-put')?.data['version']).toEqual({
      version: 'from-file',
    });

    const detected = await run(
      world,
      withInputs(
        put('p', 'res', 'lister', { params: { path: './more/b.txt', list: ['nothing/here', 3, '../..'] } }),
      ),
    );
    expect(detected.outcome).toBe('succeeded');
    expect(detected.sink.logOf('p', 'stderr')).toBe('more\ncreated_by=none\n');
  });

  it('mounts every artifact with `all`, the listed ones with a list, and errors on a listed one that is missing', async () => {
    const all = await run(world, withInputs(put('p', 'res', 'lister', { inputs: 'all' })));
    expect(all.sink.logOf('p', 'stderr')).toBe('more\nsrc\ncreated_by=none\n');
    expect(all.sink.events.find((e) => e.event === 'finish-put')?.data).toEqual({
      origin: { id: 'p' },
      time: expect.any(Number),
      exit_status: 0,
      version: { n: '1' },
      metadata: [{ name: 'k', value: 'v' }],
    });

    const listed = await run(
      world,
      withInputs(put('p', 'res', 'lister', { inputs: ['src'], params: { x: 'more' } })),
    );
    expect(listed.sink.logOf('p', 'stderr')).toBe('src\ncreated_by=none\n');

    const missing = await run(world, withInputs(put('p', 'res', 'lister', { inputs: ['src', 'nope'] })));
    expect(missing.outcome).toBe('errored');
    expect(missing.sink.errorsOf('p')).toEqual(['input not found: nope']);
    expect(missing.sink.trail()).toEqual(['initialize-put:p', 'error:p']);
  });

  it('exposes BUILD_CREATED_BY only with expose_build_created_by', async () => {
    const build = { id: 42, name: '1', teamName: 'main', createdBy: 'alice' };
    const exposed = await run(world, put('p', 'res', 'lister', { expose_build_created_by: true }), { build });
    expect(exposed.sink.logOf('p', 'stderr')).toBe('created_by=alice\n');
    const hidden = await run(world, put('p', 'res', 'lister'), { build });
    expect(hidden.sink.logOf('p', 'stderr')).toBe('created_by=none\n');
  });

  it('fails when `out` exits non-zero, with a null version in finish-put; a missing mock version is fatal', async () => {
    const { outcome, sink } = await run(world, put('p', 'res', 'broken', { resource: 'res' }), {
      onPutVersion: () => {
        throw new Error('must not be called');
      },
    });
    expect(outcome).toBe('failed');
    expect(sink.events.find((e) => e.event === 'finish-put')?.data).toEqual({
      origin: { id: 'p' },
      time: expect.any(Number),
      exit_status: 2,
      version: null,
    });

    const mock = await run(world, put('p', 'res', 'mock'));
    expect(mock.outcome).toBe('failed');
    expect(mock.sink.logOf('p', 'stderr')).toContain('no version specified');
  });

  it('errors when recording the created version fails', async () => {
    const { outcome, sink } = await run(
      world,
      put('p', 'res', 'mock', { resource: 'res', params: { version: 'v' } }),
      {
        onPutVersion: () => Promise.reject(new Error('database is gone')),
      },
    );
    expect(outcome).toBe('errored');
    expect(sink.errorsOf('p')).toEqual(['database is gone']);
    expect(sink.trail()).not.toContain('finish-put:p');
  });
});
