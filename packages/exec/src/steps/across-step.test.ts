import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AcrossVar, Plan } from '@jetbridge/plan';
import {
  run,
  shTask,
  startWorld,
  uploadArtifact,
  type RecordingSink,
  type TestWorld,
} from '../test-fixtures.js';
import { cartesianProduct } from './across-step.js';

let world: TestWorld;
beforeAll(async () => {
  world = await startWorld();
  await uploadArtifact(world, 1, { 'list.json': '["x", "y", "z"]' });
});
afterAll(async () => {
  await world.close();
});

/** An across over `vars` of a task `t-<a>-<b>` running `script` (with `((.:a))`/`((.:b))` replaced). */
function across(vars: AcrossVar[], script: string, failFast = false): Plan {
  const template = shTask('t', script, {}, { name: 't-((.:a))-((.:b))' });
  return {
    id: 'acr',
    across: { vars, substep_template: JSON.stringify(template), fail_fast: failFast },
  };
}

/** The most tasks that ran at the same time, from the start-task/finish-task order. */
function maxConcurrency(sink: RecordingSink): number {
  let running = 0;
  let most = 0;
  for (const event of sink.events) {
    if (event.event === 'start-task') most = Math.max(most, ++running);
    if (event.event === 'finish-task') running--;
  }
  return most;
}

const ab = (maxA?: 'all' | number, maxB?: 'all' | number): AcrossVar[] => [
  { name: 'a', values: ['a1', 'a2'], ...(maxA === undefined ? {} : { max_in_flight: maxA }) },
  { name: 'b', values: ['b1', 'b2'], ...(maxB === undefined ? {} : { max_in_flight: maxB }) },
];

describe('across step', () => {
  it('runs every combination, first var slowest, with renamed plan ids and an across-substeps event', async () => {
    const { outcome, sink } = await run(world, across(ab(), 'echo ((.:a))-((.:b)) "$X"'));
    expect(outcome).toBe('succeeded');
    expect(sink.trail().filter((e) => e.endsWith(':acr'))).toEqual([
      'initialize:acr',
      'start:acr',
      'across-substeps:acr',
      'finish:acr',
    ]);
    const substeps = sink.events.find((e) => e.event === 'across-substeps');
    expect(substeps).toEqual({
      event: 'across-substeps',
      version: '1.0',
      data: {
        time: expect.any(Number),
        origin: { id: 'acr' },
        substeps: [
          ['a1', 'b1'],
          ['a1', 'b2'],
          ['a2', 'b1'],
          ['a2', 'b2'],
        ].map((values, i) => ({
          step: {
            id: `acr/${i}/0`,
            task: { name: `t-${values.join('-')}`, privileged: false, hermetic: false },
          },
          values,
        })),
      },
    });
    expect([0, 1, 2, 3].map((i) => sink.logOf(`acr/${i}/0`, 'stdout'))).toEqual([
      'a1-b1 \n',
      'a1-b2 \n',
      'a2-b1 \n',
      'a2-b2 \n',
    ]);
    expect(sink.events.at(-1)?.data).toEqual({
      origin: { id: 'acr' },
      time: expect.any(Number),
      succeeded: true,
    });
    expect(maxConcurrency(sink)).toBe(1);
  });

  it('multiplies max_in_flight across vars', async () => {
    let result = await run(world, across(ab('all', 1), 'sleep 0.3'));
    expect([result.outcome, maxConcurrency(result.sink)]).toEqual(['succeeded', 2]);
    result = await run(world, across(ab(1, 2), 'sleep 0.3'));
    expect([result.outcome, maxConcurrency(result.sink)]).toEqual(['succeeded', 2]);
    result = await run(world, across(ab('all', 'all'), 'sleep 0.3'));
    expect([result.outcome, maxConcurrency(result.sink)]).toEqual(['succeeded', 4]);
  });

  it('fails when a combination fails; fail_fast stops the combinations not yet started', async () => {
    const script = 'test ((.:a))-((.:b)) != a1-b1';
    let result = await run(world, across(ab(), script));
    expect(result.outcome).toBe('failed');
    expect(result.sink.trail().filter((e) => e.startsWith('finish-task:'))).toHaveLength(4);

    result = await run(world, across(ab(), script, true));
    expect(result.outcome).toBe('failed');
    expect(result.sink.trail().filter((e) => e.startsWith('finish-task:'))).toEqual(['finish-task:acr/0/0']);
    expect(result.sink.events.at(-1)?.data['succeeded']).toBe(false);
  });

  it('takes values from runtime vars, and keeps artifacts made inside a combination in its scope', async () => {
    const template = shTask('make', 'echo ((.:item)) > out/f', { outputs: [{ name: 'out' }] });
    const { outcome, sink } = await run(world, {
      id: 'root',
      do: [
        { id: 'in', artifact_input: { artifact_id: 1, name: 'vars' } },
        { id: 'lv', load_var: { name: 'list', file: 'vars/list.json', reveal: true } },
        {
          id: 'acr',
          across: {
            vars: [{ name: 'item', values: '((.:list))', max_in_flight: 'all' }],
            substep_template: JSON.stringify(template),
          },
        },
        shTask('after', 'cat out/f', { inputs: [{ name: 'out' }] }),
      ],
    });
    expect(outcome).toBe('errored');
    expect(sink.trail().filter((e) => e.startsWith('finish-task:acr/'))).toHaveLength(3);
    expect(sink.errorsOf('after')).toEqual(['missing inputs: out']);
  });

  it('errors when values are not a list, and on undefined vars in values', async () => {
    let result = await run(world, across([{ name: 'a', values: 'one' }], 'true'));
    expect(result.outcome).toBe('errored');
    expect(result.sink.errorsOf('acr')).toEqual([
      'error unmarshaling JSON: json: cannot unmarshal string into Go value of type []interface {}',
    ]);
    result = await run(world, across([{ name: 'a', values: '((.:nothing))' }], 'true'));
    expect(result.sink.errorsOf('acr')).toEqual(['undefined vars: .:nothing']);
  });

  it('builds the cartesian product with the first var varying slowest', () => {
    expect(cartesianProduct([['a1', 'a2'], ['b1'], ['c1', 'c2']])).toEqual([
      ['a1', 'b1', 'c1'],
      ['a1', 'b1', 'c2'],
      ['a2', 'b1', 'c1'],
      ['a2', 'b1', 'c2'],
    ]);
    expect(cartesianProduct([])).toEqual([[]]);
    expect(cartesianProduct([['a'], []])).toEqual([]);
  });
});
