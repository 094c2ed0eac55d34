// on_success / on_failure / on_abort / on_error / ensure, with real task processes.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Plan } from '@jetbridge/plan';
import { RecordingSink, run, shTask, startWorld, type TestWorld } from '../test-fixtures.js';

let world: TestWorld;
beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world.close();
});

const ok = (id: string): Plan => shTask(id, 'true');
const fail = (id: string): Plan => shTask(id, 'exit 1');
/** A task that errors before running: its required input does not exist. */
const error = (id: string): Plan => shTask(id, 'true', { inputs: [{ name: 'nowhere' }] });
const sleepy = (id: string): Plan => shTask(id, 'echo started; exec sleep 60');

/** Plan ids of the tasks that started, in order. */
function started(sink: RecordingSink): string[] {
  return sink
    .trail()
    .filter((e) => e.startsWith('initialize-task:'))
    .map((e) => e.slice('initialize-task:'.length));
}

describe('on_success', () => {
  it("runs the hook after success; the hook's result is the result", async () => {
    let result = await run(world, { id: 'h', on_success: { step: ok('s'), on_success: ok('hook') } });
    expect([result.outcome, started(result.sink)]).toEqual(['succeeded', ['s', 'hook']]);
    result = await run(world, { id: 'h', on_success: { step: ok('s'), on_success: fail('hook') } });
    expect([result.outcome, started(result.sink)]).toEqual(['failed', ['s', 'hook']]);
  });

  it('does not run the hook after a failure or an error', async () => {
    let result = await run(world, { id: 'h', on_success: { step: fail('s'), on_success: ok('hook') } });
    expect([result.outcome, started(result.sink)]).toEqual(['failed', ['s']]);
    result = await run(world, { id: 'h', on_success: { step: error('s'), on_success: ok('hook') } });
    expect([result.outcome, started(result.sink)]).toEqual(['errored', ['s']]);
  });
});

describe('on_failure', () => {
  it('runs the hook after a failure and stays failed, whatever the hook does', async () => {
    let result = await run(world, { id: 'h', on_failure: { step: fail('s'), on_failure: ok('hook') } });
    expect([result.outcome, started(result.sink)]).toEqual(['failed', ['s', 'hook']]);
    result = await run(world, { id: 'h', on_failure: { step: fail('s'), on_failure: fail('hook') } });
    expect([result.outcome, started(result.sink)]).toEqual(['failed', ['s', 'hook']]);
  });

  it('errors when the hook errors, and does not run on success or error', async () => {
    let result = await run(world, { id: 'h', on_failure: { step: fail('s'), on_failure: error('hook') } });
    expect([result.outcome, started(result.sink)]).toEqual(['errored', ['s', 'hook']]);
    result = await run(world, { id: 'h', on_failure: { step: ok('s'), on_failure: ok('hook') } });
    expect([result.outcome, started(result.sink)]).toEqual(['succeeded', ['s']]);
    result = await run(world, { id: 'h', on_failure: { step: error('s'), on_failure: ok('hook') } });
    expect([result.outcome, started(result.sink)]).toEqual(['errored', ['s']]);
  });
});

describe('on_error', () => {
  it('runs the hook after an error and stays errored; not after a failure', async () => {
    let result = await run(world, { id: 'h', on_error: { step: error('s'), on_error: ok('hook') } });
    expect([result.outcome, started(result.sink)]).toEqual(['errored', ['s', 'hook']]);
    expect(result.sink.errorsOf('s')).toEqual(['missing inputs: nowhere']);
    result = await run(world, { id: 'h', on_error: { step: fail('s'), on_error: ok('hook') } });
    expect([result.outcome, started(result.sink)]).toEqual(['failed', ['s']]);
  });
});

describe('on_abort and ensure after an abort', () => {
  it('runs on_abort then ensure hooks to completion after the build is aborted; the build is aborted', async () => {
    const controller = new AbortController();
    const sink = new RecordingSink();
    const running = run(
      world,
      {
        id: 'e',
        ensure: {
          step: {
            id: 'a',
            on_abort: { step: sleepy('s'), on_abort: shTask('abort-hook', 'sleep 0.2; echo cleaned up') },
          },
          ensure: shTask('ensure-hook', 'echo ensured'),
        },
      },
      { events: sink, signal: controller.signal },
    );
    await sink.waitFor((e) => e.event === 'log' && String(e.data['payload']).includes('started'));
    controller.abort();
    const { outcome } = await running;
    expect(outcome).toBe('aborted');
    expect(started(sink)).toEqual(['s', 'abort-hook', 'ensure-hook']);
    expect(sink.errorsOf('s')).toEqual(['interrupted']);
    expect(sink.logOf('abort-hook')).toBe('cleaned up\n');
    expect(sink.logOf('ensure-hook')).toBe('ensured\n');
    expect(sink.events.filter((e) => e.event === 'finish-task').map((e) => e.data['exit_status'])).toEqual([
      0, 0,
    ]);
  });

  it('does not run on_abort when the step fails or errors', async () => {
    let result = await run(world, { id: 'h', on_abort: { step: fail('s'), on_abort: ok('hook') } });
    expect([result.outcome, started(result.sink)]).toEqual(['failed', ['s']]);
    result = await run(world, { id: 'h', on_abort: { step: error('s'), on_abort: ok('hook') } });
    expect([result.outcome, started(result.sink)]).toEqual(['errored', ['s']]);
  });
});

describe('ensure', () => {
  it('always runs the hook; succeeded only if both succeeded, errored if either errored', async () => {
    const cases: Array<[Plan, Plan, string]> = [
      [ok('s'), ok('hook'), 'succeeded'],
      [fail('s'), ok('hook'), 'failed'],
      [ok('s'), fail('hook'), 'failed'],
      [error('s'), ok('hook'), 'errored'],
      [ok('s'), error('hook'), 'errored'],
      [fail('s'), error('hook'), 'errored'],
    ];
    for (const [step, hook, expected] of cases) {
      const result = await run(world, { id: 'e', ensure: { step, ensure: hook } });
      expect([result.outcome, started(result.sink)]).toEqual([expected, ['s', 'hook']]);
    }
  });

  it('runs hooks in job order: on_failure, then ensure', async () => {
    const { outcome, sink } = await run(world, {
      id: 'e',
      ensure: {
        step: {
          id: 'f',
          on_failure: {
            step: { id: 'os', on_success: { step: fail('s'), on_success: ok('success-hook') } },
            on_failure: ok('failure-hook'),
          },
        },
        ensure: ok('ensure-hook'),
      },
    });
    expect(outcome).toBe('failed');
    expect(started(sink)).toEqual(['s', 'failure-hook', 'ensure-hook']);
  });
});
