import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RecordingSink, run, shTask, startWorld, type TestWorld } from '../test-fixtures.js';

let world: TestWorld;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world.close();
});

function starts(sink: RecordingSink): string[] {
  return sink.trail().filter((e) => e.startsWith('start-task:') || e.startsWith('finish-task:'));
}

describe('in_parallel', () => {
  it('runs all steps at once without a limit', async () => {
    const { outcome, sink } = await run(world, {
      id: 'p',
      in_parallel: { steps: ['a', 'b', 'c'].map((id) => shTask(id, 'sleep 0.5')) },
    });
    expect(outcome).toBe('succeeded');
    expect(
      starts(sink)
        .slice(0, 3)
        .every((e) => e.startsWith('start-task:')),
    ).toBe(true);
  });

  it('runs at most `limit` steps at once', async () => {
    const { outcome, sink } = await run(world, {
      id: 'p',
      in_parallel: { limit: 1, steps: ['a', 'b', 'c'].map((id) => shTask(id, 'sleep 0.2')) },
    });
    expect(outcome).toBe('succeeded');
    expect(starts(sink)).toEqual([
      'start-task:a',
      'finish-task:a',
      'start-task:b',
      'finish-task:b',
      'start-task:c',
      'finish-task:c',
    ]);

    const two = await run(world, {
      id: 'p',
      in_parallel: { limit: 2, steps: ['a', 'b', 'c'].map((id) => shTask(id, 'sleep 0.4')) },
    });
    const trail = starts(two.sink);
    expect(trail.slice(0, 2).sort()).toEqual(['start-task:a', 'start-task:b']);
    expect(trail.indexOf('start-task:c')).toBeGreaterThan(2);
  });

  it('without fail_fast, waits for every step; failed if any failed, errored if any errored', async () => {
    let result = await run(world, {
      id: 'p',
      in_parallel: { steps: [shTask('bad', 'exit 1'), shTask('slow', 'sleep 0.5; echo finished')] },
    });
    expect(result.outcome).toBe('failed');
    expect(result.sink.logOf('slow')).toBe('finished\n');

    result = await run(world, {
      id: 'p',
      in_parallel: {
        steps: [
          shTask('bad', 'exit 1'),
          shTask('err', 'true', { inputs: [{ name: 'missing' }] }),
          shTask('good', 'true'),
        ],
      },
    });
    expect(result.outcome).toBe('errored');
  });

  it('with fail_fast, cancels running steps, starts no pending ones, and is failed (not aborted)', async () => {
    const began = Date.now();
    const { outcome, sink } = await run(world, {
      id: 'p',
      in_parallel: {
        fail_fast: true,
        limit: 2,
        steps: [
          shTask('slow', 'echo started; exec sleep 60'),
          shTask('bad', 'sleep 0.5; exit 1'),
          shTask('pending', 'true'),
        ],
      },
    });
    expect(outcome).toBe('failed');
    expect(Date.now() - began).toBeLessThan(10_000);
    expect(sink.errorsOf('slow')).toEqual(['interrupted']);
    expect(sink.trail()).not.toContain('initialize-task:pending');
  });

  it('succeeds with no steps (fly execute without inputs posts steps: null)', async () => {
    expect((await run(world, { id: 'p', in_parallel: { steps: [] } })).outcome).toBe('succeeded');
  });

  it('is aborted when the build is', async () => {
    const controller = new AbortController();
    const sink = new RecordingSink();
    const running = run(
      world,
      {
        id: 'p',
        in_parallel: { steps: [shTask('a', 'echo started; exec sleep 60'), shTask('b', 'exec sleep 60')] },
      },
      { events: sink, signal: controller.signal },
    );
    await sink.waitFor((e) => e.event === 'log');
    controller.abort();
    expect((await running).outcome).toBe('aborted');
    expect(sink.errorsOf('a')).toEqual(['interrupted']);
  });
});
