import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Plan } from '@jetbridge/plan';
import type { Container } from '@jetbridge/runtime';
import { RecordingSink, run, shTask, startWorld, type TestWorld } from '../test-fixtures.js';

let world: TestWorld;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world.close();
});

/** `attempts: n` of a task as Concourse plans it: one copy of the plan per attempt. */
function attempts(id: string, count: number, make: (attemptId: string) => Plan): Plan {
  return { id, retry: Array.from({ length: count }, (_, i) => make(`${id}-${i + 1}`)) };
}

describe('retry (attempts)', () => {
  it('re-runs until an attempt succeeds, labelling containers with their attempt', async () => {
    const counter = path.join(world.dir, 'retry-counter');
    const containers: Container[] = [];
    const { outcome, sink } = await run(
      world,
      attempts('r', 5, (id) => ({
        id,
        task: {
          name: 'flaky',
          privileged: false,
          hermetic: false,
          config: {
            platform: 'linux',
            run: { path: 'sh', args: ['-c', `echo x >> ${counter}; test $(wc -l < ${counter}) -ge 3`] },
          },
        },
      })),
      { onContainerDone: (c) => void containers.push(c) },
    );
    expect(outcome).toBe('succeeded');
    expect(sink.events.filter((e) => e.event === 'finish-task').map((e) => e.data['exit_status'])).toEqual([
      1, 1, 0,
    ]);
    expect(containers.map((c) => c.metadata.attempt)).toEqual(['1', '2', '3']);
    await Promise.all(containers.map((c) => c.destroy()));
  });

  it("fails with the last attempt's result, and retries errors too", async () => {
    let result = await run(
      world,
      attempts('r', 2, (id) => shTask(id, 'exit 1')),
    );
    expect(result.outcome).toBe('failed');
    expect(result.sink.events.filter((e) => e.event === 'finish-task')).toHaveLength(2);

    result = await run(world, {
      id: 'r',
      retry: [shTask('r-1', 'true', { inputs: [{ name: 'missing' }] }), shTask('r-2', 'true')],
    });
    expect(result.outcome).toBe('succeeded');
    result = await run(world, {
      id: 'r',
      retry: [shTask('r-1', 'exit 1'), shTask('r-2', 'true', { inputs: [{ name: 'missing' }] })],
    });
    expect(result.outcome).toBe('errored');
  });

  it('numbers nested attempts "outer.inner"', async () => {
    const containers: Container[] = [];
    await run(
      world,
      {
        id: 'outer',
        retry: [
          { id: 'o1', retry: [shTask('o1-1', 'exit 1'), shTask('o1-2', 'exit 1')] },
          { id: 'o2', retry: [shTask('o2-1', 'true')] },
        ],
      },
      { onContainerDone: (c) => void containers.push(c) },
    );
    expect(containers.map((c) => c.metadata.attempt)).toEqual(['1.1', '1.2', '2.1']);
    await Promise.all(containers.map((c) => c.destroy()));
  });

  it('stops at once on abort', async () => {
    const controller = new AbortController();
    const sink = new RecordingSink();
    const running = run(
      world,
      attempts('r', 3, (id) => shTask(id, 'echo started; exec sleep 60')),
      { events: sink, signal: controller.signal },
    );
    await sink.waitFor((e) => e.event === 'log');
    controller.abort();
    expect((await running).outcome).toBe('aborted');
    expect(sink.events.filter((e) => e.event === 'initialize-task')).toHaveLength(1);
  });
});
