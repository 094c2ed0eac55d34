import { describe, expect, it } from '@jest/globals';
import { BuildOutput } from './build-output.js';
import { stepTitle } from './step-title.js';

describe('stepTitle', () => {
  it('heads the steps of a fly execute plan as Concourse does: get, task, put', () => {
    const output = new BuildOutput();
    // fly 8.2.5's plan for `execute -i src=. -o out=…` (ids as its PlanFactory makes them).
    output.setPlan({
      id: '6b167bcc',
      ensure: {
        step: {
          id: '6b167bca',
          do: [
            {
              id: '6b167bc9',
              in_parallel: { steps: [{ id: '6b167bc6', artifact_input: { artifact_id: 1, name: 'src' } }] },
            },
            { id: '6b167bc8', task: { name: 'one-off', privileged: false, hermetic: false } },
          ],
        },
        ensure: {
          id: '6b167bcb',
          in_parallel: { steps: [{ id: '6b167bc7', artifact_output: { name: 'out' } }] },
        },
      },
    });
    const titles = ['6b167bc6', '6b167bc8', '6b167bc7'].map((id) => stepTitle(output.steps.get(id)!));
    expect(titles).toEqual([
      { type: 'get', name: 'src' },
      { type: 'task', name: 'one-off' },
      { type: 'put', name: 'out' },
    ]);
  });

  it('names a step only events mentioned by its plan id', () => {
    const output = new BuildOutput();
    output.apply({ event: 'log', data: { origin: { id: 'abc123' }, payload: 'hi\n', time: 1 } });
    expect(stepTitle(output.orphanSteps()[0]!)).toEqual({ type: 'step', name: 'abc123' });
  });
});
