import { describe, expect, it } from '@jest/globals';
import { PlanError, parsePlan } from './parse-plan.js';
import { stepKindOf } from './plan.js';

// The plan `fly execute -c task.yml -i fixture=. -o out=./out` posts (concourse-api.md §4.2), verbatim.
const FLY_EXECUTE_PLAN = `{"id":"7","ensure":{
  "step":{"id":"6","do":[
    {"id":"3","in_parallel":{"steps":[{"id":"1","artifact_input":{"artifact_id":125,"name":"fixture"}}]}},
    {"id":"4","task":{"name":"one-off","privileged":false,"hermetic":false,
      "config":{"platform":"linux","image_resource":{"name":"","type":"registry-image","source":{"repository":"busybox"}},
        "inputs":[{"name":"fixture"}],"outputs":[{"name":"out"}],"run":{"path":"sh","args":["-c","ls"]}}}}]},
  "ensure":{"id":"5","in_parallel":{"steps":[{"id":"2","artifact_output":{"name":"out"}}]}}}}`;

function expectPlanError(json: unknown, message: RegExp): void {
  let caught: unknown;
  try {
    parsePlan(json);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(PlanError);
  expect((caught as PlanError).statusCode).toBe(400);
  expect((caught as PlanError).message).toMatch(message);
}

describe('parsePlan', () => {
  it('decodes the plan fly execute posts, keeping it byte-for-byte equivalent', () => {
    const raw: unknown = JSON.parse(FLY_EXECUTE_PLAN);
    const plan = parsePlan(raw);
    expect(plan).toEqual(raw);
    expect(stepKindOf(plan)).toBe('ensure');
    if (!('ensure' in plan)) throw new Error('expected ensure');
    const step = plan.ensure.step;
    if (!('do' in step)) throw new Error('expected do');
    const task = step.do[1];
    if (task === undefined || !('task' in task)) throw new Error('expected task');
    expect(task.task.config?.run).toEqual({ path: 'sh', args: ['-c', 'ls'] });
    expect(task.task.config?.image_resource?.source).toEqual({ repository: 'busybox' });
  });

  it('decodes `in_parallel.steps: null` (fly execute without inputs) as no steps', () => {
    const plan = parsePlan({
      id: '6a',
      do: [
        { id: '6b', in_parallel: { steps: null } },
        {
          id: '6c',
          task: {
            name: 'one-off',
            privileged: false,
            hermetic: false,
            config: { platform: 'linux', run: { path: 'true' } },
          },
        },
      ],
    });
    expect(plan).toEqual({
      id: '6a',
      do: [
        { id: '6b', in_parallel: { steps: [] } },
        {
          id: '6c',
          task: {
            name: 'one-off',
            privileged: false,
            hermetic: false,
            config: { platform: 'linux', run: { path: 'true' } },
          },
        },
      ],
    });
  });

  it('decodes retry as an array of attempts carrying their attempt numbers', () => {
    const plan = parsePlan({
      id: 'r',
      retry: [
        { id: 'a1', attempts: [1], task: { name: 't', config_path: 'src/task.yml' } },
        { id: 'a2', attempts: [2], task: { name: 't', config_path: 'src/task.yml' } },
      ],
    });
    expect(plan).toEqual({
      id: 'r',
      retry: [
        {
          id: 'a1',
          attempts: [1],
          task: { name: 't', privileged: false, hermetic: false, config_path: 'src/task.yml' },
        },
        {
          id: 'a2',
          attempts: [2],
          task: { name: 't', privileged: false, hermetic: false, config_path: 'src/task.yml' },
        },
      ],
    });
  });

  it('decodes every hook, try and timeout wrapper', () => {
    const leaf = (id: string) => ({ id, artifact_output: { name: id } });
    for (const hook of ['on_success', 'on_failure', 'on_abort', 'on_error', 'ensure'] as const) {
      expect(parsePlan({ id: 'h', [hook]: { step: leaf('s'), [hook]: leaf('n') } })).toEqual({
        id: 'h',
        [hook]: { step: leaf('s'), [hook]: leaf('n') },
      });
    }
    expect(parsePlan({ id: 't', try: { step: leaf('s') } })).toEqual({ id: 't', try: { step: leaf('s') } });
    expect(parsePlan({ id: 't', timeout: { step: leaf('s'), duration: '1h30m' } })).toEqual({
      id: 't',
      timeout: { step: leaf('s'), duration: '1h30m' },
    });
  });

  it('decodes get/put/check/set_pipeline/load_var/across bodies with their image sub-plans', () => {
    const plan = parsePlan({
      id: '1',
      do: [
        {
          id: '2',
          get: {
            name: 'repo',
            type: 'git',
            source: { uri: 'https://example.com/r.git' },
            image: {
              get_plan: {
                id: '2/image-get',
                get: { name: 'image', type: 'registry-image', source: {}, image: {} },
              },
              base_type: 'registry-image',
            },
            version: { ref: 'abc' },
            tags: ['a'],
          },
        },
        {
          id: '3',
          put: { name: 'repo', type: 'git', source: {}, image: {}, inputs: ['repo '], params: { x: 1 } },
        },
        { id: '4', check: { name: 'repo', type: 'git', source: {}, image: {}, interval: '1m' } },
        { id: '5', set_pipeline: { name: 'p', file: 'repo/p.yml', instance_vars: { branch: 'main' } } },
        { id: '6', load_var: { name: 'v', file: 'repo/v.json', reveal: true } },
        {
          id: '7',
          across: {
            vars: [{ name: 'x', values: [1, 2], max_in_flight: 'all' }],
            substep_template: '{}',
            fail_fast: true,
          },
        },
      ],
    });
    if (!('do' in plan)) throw new Error('expected do');
    expect(plan.do.map(stepKindOf)).toEqual(['get', 'put', 'check', 'set_pipeline', 'load_var', 'across']);
    expect(plan.do[1]).toEqual({
      id: '3',
      put: { name: 'repo', type: 'git', source: {}, image: {}, inputs: ['repo'], params: { x: 1 } },
    });
  });

  it('coerces task params to strings as Concourse does', () => {
    const plan = parsePlan({
      id: '1',
      task: {
        name: 't',
        params: { A: 1, B: true, C: null, D: { z: 1, a: [2] }, E: 'e' },
        config: { platform: 'linux', run: { path: 'env' }, params: { N: 2.5 } },
      },
    });
    if (!('task' in plan)) throw new Error('expected task');
    expect(plan.task.params).toEqual({ A: '1', B: 'true', C: '', D: '{"a":[2],"z":1}', E: 'e' });
    expect(plan.task.config?.params).toEqual({ N: '2.5' });
  });

  it('ignores unknown keys like Go does', () => {
    expect(parsePlan({ id: 'x', artifact_output: { name: 'o', extra: 1 }, what: true })).toEqual({
      id: 'x',
      artifact_output: { name: 'o' },
    });
  });

  it('rejects what cannot be decoded', () => {
    expectPlanError('nope', /expected an object/);
    expectPlanError(null, /expected an object/);
    expectPlanError({ id: 7, do: [] }, /plan\.id: expected a string id/);
    expectPlanError({ id: 'x' }, /has no step/);
    expectPlanError({ id: 'x', do: [], try: { step: { id: 'y', do: [] } } }, /more than one step: do, try/);
    expectPlanError({ id: 'x', do: {} }, /plan\.do: expected an array of plans/);
    expectPlanError({ id: 'x', retry: 'no' }, /plan\.retry: expected an array/);
    expectPlanError({ id: 'x', in_parallel: { steps: {} } }, /in_parallel\.steps: expected an array/);
    expectPlanError({ id: 'x', in_parallel: { steps: [], limit: 'two' } }, /limit: expected an integer/);
    expectPlanError(
      { id: 'x', artifact_input: { artifact_id: '125', name: 'a' } },
      /artifact_id: expected an integer/,
    );
    expectPlanError(
      { id: 'x', task: { name: 't', config: { run: { path: 'sh', args: 'ls' } } } },
      /plan\.task\.config\.run\.args: expected an array/,
    );
    expectPlanError(
      { id: 'x', task: { name: 't', config: { run: { path: 'sh' }, inputs: [{ name: 1 }] } } },
      /inputs\[0\]\.name: expected a string/,
    );
    expectPlanError(
      { id: 'x', task: { name: 't', container_limits: { memory: '1 gigabyte' } } },
      /could not parse container memory limit/,
    );
    expectPlanError(
      { id: 'x', ensure: { step: { id: 'y', do: [] } } },
      /plan\.ensure\.ensure: expected an object/,
    );
    expectPlanError(
      {
        id: 'x',
        do: [
          { id: 'y', do: [] },
          { id: 'y', do: [] },
        ],
      },
      /duplicate plan id "y"/,
    );
    expectPlanError({ id: 'x', attempts: ['1'], do: [] }, /attempts\[0\]: expected an integer/);
  });
});
