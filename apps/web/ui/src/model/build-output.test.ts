import { describe, expect, it } from '@jest/globals';
import type { BuildEventEnvelope, PublicPlan } from '../api/types.js';
import { BuildOutput, formatDuration, stepDuration, type StepNode } from './build-output.js';
import { isExpanded, lineHash, outputSegments, parseLineHash, type OutputSegment } from './output-rows.js';

/** The public plan of `fly execute -c task.yml -i in=. -o out=.` (§4.2 reduced as §4.3 says). */
const EXECUTE_PLAN: PublicPlan = {
  id: '7',
  ensure: {
    step: {
      id: '6',
      do: [
        { id: '3', in_parallel: { steps: [{ id: '1', artifact_input: { artifact_id: 12, name: 'in' } }] } },
        { id: '4', task: { name: 'one-off', privileged: false, hermetic: false } },
      ],
    },
    ensure: { id: '5', in_parallel: { steps: [{ id: '2', artifact_output: { name: 'out' } }] } },
  },
};

function ev(event: string, data: Record<string, unknown>): BuildEventEnvelope {
  return { event, version: '1.0', data };
}

const origin = (id: string) => ({ origin: { id, source: 'stdout' } });

function describeSegments(segments: OutputSegment[]): string[] {
  return segments.map((s) => {
    switch (s.kind) {
      case 'step':
        return `${'  '.repeat(s.depth)}${s.step.type}:${s.step.name} [${s.step.state}]${s.expanded ? ' open' : ''}`;
      case 'label':
        return `${'  '.repeat(s.depth)}(${s.text})`;
      case 'meta':
        return `${'  '.repeat(s.depth)}meta ${s.entries.map(([k, v]) => `${k}=${v}`).join(',')}`;
      case 'lines':
        return `${'  '.repeat(s.depth)}${s.count} lines of ${s.stepId}`;
    }
  });
}

describe('BuildOutput', () => {
  it('builds the step tree of a fly execute plan and follows its events to success', () => {
    const output = new BuildOutput();
    output.setPlan(EXECUTE_PLAN);
    const events = [
      ev('status', { status: 'started', time: 100 }),
      ev('initialize', { time: 100, ...origin('1') }),
      ev('finish', { time: 101, succeeded: true, ...origin('1') }),
      ev('initialize-task', { time: 101, ...origin('4'), config: {} }),
      ev('selected-worker', { time: 101, selected_worker: 'w1', ...origin('4') }),
      ev('start-task', { time: 102, ...origin('4'), config: {} }),
      ev('log', { time: 103, payload: 'hello\nwor', ...origin('4') }),
      ev('log', { time: 104, payload: 'ld\n', ...origin('4') }),
      ev('finish-task', { time: 110, exit_status: 0, ...origin('4') }),
      ev('initialize', { time: 110, ...origin('2') }),
      ev('finish', { time: 111, succeeded: true, ...origin('2') }),
      ev('status', { status: 'succeeded', time: 111 }),
    ];
    events.forEach((e) => output.apply(e));

    expect(output.status).toBe('succeeded');
    expect(output.startTime).toBe(100);
    expect(output.endTime).toBe(111);
    const task = output.steps.get('4') as StepNode;
    expect(task).toMatchObject({
      type: 'task',
      name: 'one-off',
      state: 'succeeded',
      exitStatus: 0,
      worker: 'w1',
    });
    expect(task.log.lines.map((l) => l.text)).toEqual(['hello', 'world']);
    expect(stepDuration(task, 1000)).toBe(9);
    expect(describeSegments(outputSegments(output, new Map()))).toEqual([
      'artifact_input:in [succeeded]',
      'task:one-off [succeeded] open',
      '  2 lines of 4',
      '(ensure)',
      '  artifact_output:out [succeeded]',
    ]);
  });

  it('marks a failing task failed, keeps hooks labelled, and interrupts and cancels steps on abort', () => {
    const output = new BuildOutput();
    output.setPlan({
      id: 'a',
      on_failure: {
        step: {
          id: 'b',
          do: [
            { id: 'c', get: { name: 'repo', type: 'git', version: { ref: 'abc' } } },
            { id: 'd', task: { name: 'test', privileged: false, hermetic: false } },
            { id: 'e', task: { name: 'never', privileged: false, hermetic: false } },
          ],
        },
        on_failure: { id: 'f', put: { name: 'notify', type: 'slack' } },
      },
    });
    output.apply(ev('status', { status: 'started', time: 1 }));
    output.apply(ev('initialize-get', { time: 1, ...origin('c') }));
    output.apply(ev('start-get', { time: 2, ...origin('c') }));
    output.apply(
      ev('finish-get', {
        time: 3,
        exit_status: 0,
        version: { ref: 'abc' },
        metadata: [{ name: 'author', value: 'me' }],
        ...origin('c'),
      }),
    );
    output.apply(ev('start-task', { time: 3, ...origin('d') }));
    output.apply(ev('log', { time: 4, payload: 'FAIL\n', ...origin('d') }));
    output.apply(ev('finish-task', { time: 5, exit_status: 1, ...origin('d') }));
    output.apply(ev('initialize-put', { time: 5, ...origin('f') }));
    output.apply(ev('log', { time: 6, payload: 'sending…', ...origin('f') }));
    output.apply(ev('status', { status: 'aborted', time: 7 }));

    expect(output.steps.get('d')).toMatchObject({ state: 'failed', exitStatus: 1 });
    expect(output.steps.get('e')?.state).toBe('cancelled');
    expect(output.steps.get('f')).toMatchObject({ state: 'interrupted', finishTime: 7 });
    // The get went well: folded, with its version and metadata behind the fold.
    expect(describeSegments(outputSegments(output, new Map()))).toEqual([
      'get:repo [succeeded]',
      'task:test [failed] open',
      '  1 lines of d',
      'task:never [cancelled]',
      '(on_failure)',
      '  put:notify [interrupted]',
    ]);
    expect(
      describeSegments(
        outputSegments(
          output,
          new Map([
            ['c', true],
            ['f', true],
          ]),
        ),
      ),
    ).toEqual([
      'get:repo [succeeded] open',
      '  meta ref=abc,author=me',
      'task:test [failed] open',
      '  1 lines of d',
      'task:never [cancelled]',
      '(on_failure)',
      '  put:notify [interrupted] open',
      '    1 lines of f',
    ]);
  });

  it('takes events that arrive before the plan, and shows step-less errors at the end', () => {
    const output = new BuildOutput();
    output.apply(ev('initialize-task', { time: 1, ...origin('t') }));
    output.apply(ev('log', { time: 2, payload: 'early\n', ...origin('t') }));
    output.apply(ev('error', { time: 3, message: 'worker vanished' }));
    expect(describeSegments(outputSegments(output, new Map()))).toEqual([
      'unknown:t [running] open',
      '  1 lines of t',
      '1 lines of build',
    ]);
    output.setPlan({ id: 't', task: { name: 'unit', privileged: false, hermetic: false } });
    expect(describeSegments(outputSegments(output, new Map()))).toEqual([
      'task:unit [running] open',
      '  1 lines of t',
      '1 lines of build',
    ]);
    expect(output.buildLog.lines[0]).toMatchObject({ text: 'worker vanished', error: true });
  });

  it('names the steps of a finished build whose plan comes after all its events, never-run steps cancelled', () => {
    // A finished build's page: the whole event log replays at once, and the plan may answer after it.
    const output = new BuildOutput();
    const events = [
      ev('status', { status: 'started', time: 100 }),
      ev('initialize-task', { time: 101, ...origin('4'), config: {} }),
      ev('start-task', { time: 102, ...origin('4'), config: {} }),
      ev('log', { time: 103, payload: 'hello\n', ...origin('4') }),
      ev('finish-task', { time: 110, exit_status: 0, ...origin('4') }),
      ev('status', { status: 'succeeded', time: 111 }),
    ];
    events.forEach((e) => output.apply(e));
    expect(describeSegments(outputSegments(output, new Map()))[0]).toBe('unknown:4 [succeeded] open');
    output.setPlan(EXECUTE_PLAN);
    expect(describeSegments(outputSegments(output, new Map()))).toEqual([
      'artifact_input:in [cancelled]',
      'task:one-off [succeeded] open',
      '  1 lines of 4',
      '(ensure)',
      '  artifact_output:out [cancelled]',
    ]);
  });

  it('nests image sub-steps, across sub-steps and retry attempts', () => {
    const output = new BuildOutput();
    output.setPlan({
      id: 'r',
      retry: [
        { id: 'r1', attempts: [1], across: { vars: [{ name: 'version' }] } },
        { id: 'r2', attempts: [2], task: { name: 'flaky', privileged: false, hermetic: false } },
      ],
    });
    output.apply(
      ev('across-substeps', {
        time: 1,
        ...origin('r1'),
        substeps: [{ id: 's1', task: { name: 'v1', privileged: false, hermetic: false } }],
      }),
    );
    output.apply(
      ev('image-check', {
        time: 1,
        ...origin('r2'),
        plan: { id: 'r2/image-check', check: { name: 'image', type: 'registry-image' } },
      }),
    );
    output.apply(ev('initialize-check', { time: 2, name: 'image', ...origin('r2/image-check') }));
    expect(
      describeSegments(
        outputSegments(
          output,
          new Map([
            ['r1', true],
            ['r2', true],
          ]),
        ),
      ),
    ).toEqual([
      '(attempt 1)',
      '  across:version [pending] open',
      '    (substep 1)',
      '      task:v1 [pending]',
      '(attempt 2)',
      '  task:flaky [pending] open',
      '    check:image [running]',
    ]);
  });

  it('opens failed and running steps and folds successful fetches unless the user chose otherwise', () => {
    const output = new BuildOutput();
    output.setPlan({ id: 'g', get: { name: 'src', type: 'git' } });
    const get = output.steps.get('g') as StepNode;
    get.state = 'running';
    expect(isExpanded(get, new Map())).toBe(true);
    get.state = 'succeeded';
    expect(isExpanded(get, new Map())).toBe(false);
    expect(isExpanded(get, new Map([['g', true]]))).toBe(true);
    get.state = 'errored';
    expect(isExpanded(get, new Map())).toBe(true);
  });
});

describe('line links', () => {
  it('reads and writes #L<step>:<line>[:<last>]', () => {
    expect(parseLineHash('#L4:12')).toEqual({ stepId: '4', first: 12, last: 12 });
    expect(parseLineHash('#Lab12:9:3')).toEqual({ stepId: 'ab12', first: 3, last: 9 });
    expect(parseLineHash('#L4:0')).toBeUndefined();
    expect(parseLineHash('#top')).toBeUndefined();
    expect(lineHash({ stepId: 'r2/image-check', first: 2, last: 5 })).toBe('#Lr2%2Fimage-check:2:5');
    expect(parseLineHash(lineHash({ stepId: 'r2/image-check', first: 2, last: 5 }))).toEqual({
      stepId: 'r2/image-check',
      first: 2,
      last: 5,
    });
  });

  it('formats durations as Concourse does', () => {
    expect(formatDuration(5)).toBe('5s');
    expect(formatDuration(65)).toBe('1m 5s');
    expect(formatDuration(3725)).toBe('1h 2m');
  });
});
