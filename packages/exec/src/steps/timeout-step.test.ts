import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { run, shTask, startWorld, type TestWorld } from '../test-fixtures.js';

let world: TestWorld;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world.close();
});

describe('timeout', () => {
  it('fails (not errors) the step when the deadline passes; the task reports "timeout exceeded"', async () => {
    const began = Date.now();
    const { outcome, sink } = await run(world, {
      id: 'to',
      timeout: {
        duration: '700ms',
        step: {
          id: 'd',
          do: [shTask('a', 'true'), shTask('b', 'echo started; sleep 60'), shTask('c', 'true')],
        },
      },
    });
    expect(outcome).toBe('failed');
    expect(Date.now() - began).toBeLessThan(10_000);
    expect(sink.errorsOf('b')).toEqual(['timeout exceeded']);
    expect(sink.trail().filter((e) => !e.startsWith('log:'))).toEqual([
      'initialize-task:a',
      'selected-worker:a',
      'start-task:a',
      'finish-task:a',
      'initialize-task:b',
      'selected-worker:b',
      'start-task:b',
      'error:b',
    ]);
  });

  it('does not interfere with a step that finishes in time', async () => {
    const { outcome } = await run(world, {
      id: 'to',
      timeout: { duration: '1m', step: shTask('a', 'sleep 0.1') },
    });
    expect(outcome).toBe('succeeded');
  });

  it('lets ensure hooks run after the deadline, and try swallows the timeout', async () => {
    const { outcome, sink } = await run(world, {
      id: 'd',
      do: [
        {
          id: 'try',
          try: {
            step: {
              id: 'to',
              timeout: {
                duration: '300ms',
                step: {
                  id: 'e',
                  ensure: {
                    step: shTask('slow', 'sleep 60'),
                    ensure: shTask('hook', 'sleep 0.5; echo hook ran'),
                  },
                },
              },
            },
          },
        },
        shTask('after', 'echo after'),
      ],
    });
    expect(outcome).toBe('succeeded');
    expect(sink.logOf('hook')).toBe('hook ran\n');
    expect(sink.logOf('after')).toBe('after\n');
  });

  it('errors on a duration Go cannot parse', async () => {
    const { outcome, sink } = await run(world, {
      id: 'to',
      timeout: { duration: '1d', step: shTask('a', 'true') },
    });
    expect(outcome).toBe('errored');
    expect(sink.errorsOf('to')).toEqual(['time: unknown unit "d" in duration "1d"']);
  });
});
