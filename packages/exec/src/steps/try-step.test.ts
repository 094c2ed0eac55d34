import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { RecordingSink, run, shTask, startWorld, type TestWorld } from '../test-fixtures.js';

let world: TestWorld;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world.close();
});

describe('try', () => {
  it('turns a failure into success and lets the build go on', async () => {
    const { outcome, sink } = await run(world, {
      id: 'd',
      do: [{ id: 'try', try: { step: shTask('bad', 'exit 7') } }, shTask('next', 'echo next')],
    });
    expect(outcome).toBe('succeeded');
    expect(sink.logOf('next')).toBe('next\n');
  });

  it('turns an error into success too (the error is still reported)', async () => {
    const { outcome, sink } = await run(world, {
      id: 'try',
      try: { step: shTask('bad', 'true', { inputs: [{ name: 'missing' }] }) },
    });
    expect(outcome).toBe('succeeded');
    expect(sink.errorsOf('bad')).toEqual(['missing inputs: missing']);
  });

  it('keeps artifacts produced inside', async () => {
    const { outcome } = await run(world, {
      id: 'd',
      do: [
        {
          id: 'try',
          try: { step: shTask('make', 'echo x > out/f; exit 1', { outputs: [{ name: 'out' }] }) },
        },
        shTask('use', 'test -f out/f', { inputs: [{ name: 'out' }] }),
      ],
    });
    expect(outcome).toBe('succeeded');
  });

  it('lets an abort through', async () => {
    const controller = new AbortController();
    const sink = new RecordingSink();
    const running = run(
      world,
      { id: 'try', try: { step: shTask('s', 'echo started; exec sleep 60') } },
      { events: sink, signal: controller.signal },
    );
    await sink.waitFor((e) => e.event === 'log');
    controller.abort();
    expect((await running).outcome).toBe('aborted');
  });
});
