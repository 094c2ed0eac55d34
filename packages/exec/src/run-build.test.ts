import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parsePlan } from '@jetbridge/plan';
import { filesOf, run, shTask, startWorld, uploadArtifact, type TestWorld } from './test-fixtures.js';

let world: TestWorld;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world.close();
});

// The plan `fly execute -c task.yml -i fixture=. -o out=./out` posts (concourse-api.md §4.2), with a script
// that reads the input and writes the output.
function flyExecutePlan(artifactId: number): string {
  return `{"id":"7","ensure":{
  "step":{"id":"6","do":[
    {"id":"3","in_parallel":{"steps":[{"id":"1","artifact_input":{"artifact_id":${artifactId},"name":"fixture"}}]}},
    {"id":"4","task":{"name":"one-off","privileged":false,"hermetic":false,
      "config":{"platform":"linux","image_resource":{"name":"","type":"registry-image","source":{"repository":"busybox"}},
        "inputs":[{"name":"fixture"}],"outputs":[{"name":"out"}],"run":{"path":"sh","args":["-c","ls fixture | tee out/listing"]}}}}]},
  "ensure":{"id":"5","in_parallel":{"steps":[{"id":"2","artifact_output":{"name":"out"}}]}}}}`;
}

describe('runBuild', () => {
  it('runs the fly execute plan: task events in order, the output registered for download', async () => {
    await uploadArtifact(world, 125, { 'a.txt': 'a', 'b.txt': 'b' });
    const { outcome, sink } = await run(world, parsePlan(JSON.parse(flyExecutePlan(125))));
    expect(outcome).toBe('succeeded');
    expect(sink.trail()).toEqual([
      'initialize-task:4',
      'selected-worker:4',
      'start-task:4',
      'log:4',
      'finish-task:4',
    ]);
    expect(sink.logOf('4', 'stdout')).toBe('a.txt\nb.txt\n');
    expect(sink.events.map((e) => [e.event, e.version])).toEqual([
      ['initialize-task', '4.0'],
      ['selected-worker', '1.0'],
      ['start-task', '5.0'],
      ['log', '5.1'],
      ['finish-task', '4.0'],
    ]);
    // As stored: with output_offset, the raw stdout bytes up to the end of this payload (nothing is redacted
    // here, so exactly the payload's bytes). The event stream leaves the field out (apps/web build-event-stream).
    const listing = 'a.txt\nb.txt\n';
    expect(sink.events[3]?.data).toEqual({
      time: expect.any(Number),
      origin: { id: '4', source: 'stdout' },
      payload: listing,
      output_offset: Buffer.byteLength(listing),
    });
    expect(sink.events[0]?.data['config']).toEqual({
      platform: 'linux',
      image: '',
      run: { path: 'sh', args: ['-c', 'ls fixture | tee out/listing'], dir: '' },
      inputs: [{ name: 'fixture', path: '' }],
    });
    const output = world.catalog.outputs.find((o) => o.name === 'out');
    expect(output?.buildId).toBe(42);
    expect(await filesOf((await world.worker.lookupVolume(output!.volumeHandle))!)).toEqual({
      listing: 'a.txt\nb.txt\n',
    });
  });

  it("errors when the uploaded artifact belongs to another team; the ensure'd output is then missing too", async () => {
    await uploadArtifact(world, 126, { 'a.txt': 'a' }, 'other-team');
    const { outcome, sink } = await run(world, parsePlan(JSON.parse(flyExecutePlan(126))));
    expect(outcome).toBe('errored');
    expect(sink.errorsOf('1')).toEqual(["volume for worker artifact 'fixture' not found"]);
    expect(sink.errorsOf('2')).toEqual(["artifact 'out' not found"]);
    expect(sink.trail()).not.toContain('initialize-task:4');
  });

  it('errors clearly on the run step, which is not supported yet', async () => {
    const { outcome, sink } = await run(world, {
      id: 'd',
      do: [
        { id: 'r', run: { message: 'hello', type: 'prototype', privileged: false } },
        shTask('never', 'true'),
      ],
    });
    expect(outcome).toBe('errored');
    expect(sink.events).toEqual([
      {
        event: 'error',
        version: '4.1',
        data: {
          message: 'step type run is not supported yet',
          origin: { id: 'r' },
          time: expect.any(Number),
        },
      },
    ]);
  });

  it('errors a resource step when the build has no resource type resolver', async () => {
    const { outcome, sink } = await run(
      world,
      { id: 'g', get: { name: 'repo', type: 'git', source: {}, image: {} } },
      { resourceTypes: undefined },
    );
    expect(outcome).toBe('errored');
    expect(sink.trail()).toEqual(['initialize-get:g', 'error:g']);
    expect(sink.errorsOf('g')).toEqual(["unknown resource type 'git'"]);
  });

  it('is aborted without running anything when aborted before it starts', async () => {
    const controller = new AbortController();
    controller.abort();
    const { outcome, sink } = await run(world, shTask('t', 'true'), { signal: controller.signal });
    expect(outcome).toBe('aborted');
    expect(sink.events).toEqual([]);
  });

  it('keeps running when the event sink fails', async () => {
    const outcome = await (
      await import('./run-build.js')
    ).runBuild({
      plan: shTask('t', 'echo hi'),
      worker: world.worker,
      build: { id: 43, name: '43', teamName: 'main' },
      artifacts: world.catalog,
      events: {
        emit: () => {
          throw new Error('database is down');
        },
      },
    });
    expect(outcome).toBe('succeeded');
  });
});
